select
    c."ID" as conversation_id,
    c."UPDATED_AT" as conversation_updated_at,
    p.value:"id"::string as part_id,
    p.value:"author"::string as author,
    to_timestamp_tz(p.value:"created_at"::number) as created_at
from {{ source('intercom', 'CONVERSATIONS') }} as c,
    lateral flatten(input => c."PARTS") as p
