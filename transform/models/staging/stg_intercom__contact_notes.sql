-- Not selected by default (a request per contact): empty until the stream is loaded.
with source as (
    {{ intercom_source('CONTACT_NOTES', {
        'ID': 'varchar', 'CONTACT_ID': 'varchar', 'AUTHOR': 'variant', 'BODY': 'varchar',
        'CREATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as contact_note_id,
    contact_id::varchar as contact_id,
    author:id::varchar as author_admin_id,
    body,
    created_at::timestamp_tz as created_at
from source
