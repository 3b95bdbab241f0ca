-- Not selected by default (a request per contact): empty until the stream is loaded.
with source as (
    {{ intercom_source('CONTACT_EVENTS', {
        'CONTACT_ID': 'varchar', 'EVENT_NAME': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'ID': 'varchar', 'USER_ID': 'varchar', 'EMAIL': 'varchar', 'METADATA': 'variant'}) }}
)

select
    source_relation,
    contact_id::varchar as contact_id,
    event_name,
    created_at::timestamp_tz as created_at,
    id::varchar as event_id,
    user_id as contact_external_id,
    email as contact_email,
    metadata
from source
