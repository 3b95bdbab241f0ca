with source as (
    {{ intercom_source('TICKET_TYPES', {
        'ID': 'varchar', 'CATEGORY': 'varchar', 'NAME': 'varchar', 'DESCRIPTION': 'varchar',
        'ARCHIVED': 'boolean', 'TICKET_STATES': 'variant', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as ticket_type_id,
    category as ticket_type_category,
    name as ticket_type_name,
    description as ticket_type_description,
    archived as is_archived,
    ticket_states:data as ticket_states,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
