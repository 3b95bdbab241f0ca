-- The latest version of each contact: raw rows may repeat an id.
select
    "ID" as contact_id,
    "EMAIL" as email,
    "ROLE" as role,
    "CUSTOM_ATTRIBUTES":"plan"::string as plan,
    "LAST_SEEN_AT" as last_seen_at,
    "UPDATED_AT" as updated_at
from {{ source('intercom', 'CONTACTS') }}
qualify row_number() over (partition by "ID" order by "UPDATED_AT" desc) = 1
