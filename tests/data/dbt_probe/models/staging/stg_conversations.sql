select
    "ID" as conversation_id,
    "CONTACT_ID" as contact_id,
    "STATE" as state,
    "CREATED_AT" as created_at,
    "UPDATED_AT" as updated_at,
    "PARTS" as parts
from {{ source('intercom', 'CONVERSATIONS') }}
