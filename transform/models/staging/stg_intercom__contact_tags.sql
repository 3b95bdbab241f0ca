with source as (
    {{ intercom_source('CONTACT_TAGS', {
        'CONTACT_ID': 'varchar', 'ID': 'varchar', 'APPLIED_AT': 'timestamp_tz',
        'CONTACT_UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    contact_id::varchar as contact_id,
    id::varchar as tag_id,
    applied_at::timestamp_tz as applied_at,
    -- The contact's updated_at when the tap read it: a row older than the contact's is a
    -- membership since removed.
    contact_updated_at::timestamp_tz as contact_updated_at
from source
