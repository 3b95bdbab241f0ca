with source as (
    {{ intercom_source('TICKET_PARTS', {
        'ID': 'varchar', 'TICKET_ID': 'varchar', 'PART_TYPE': 'varchar', 'BODY': 'varchar',
        'PREVIOUS_TICKET_STATE': 'varchar', 'TICKET_STATE': 'varchar',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz', 'ASSIGNED_TO': 'variant',
        'AUTHOR': 'variant', 'REDACTED': 'boolean'}) }}
)

select
    source_relation,
    id::varchar as ticket_part_id,
    ticket_id::varchar as ticket_id,
    part_type,
    body,
    previous_ticket_state,
    ticket_state,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    author:type::varchar as author_type,
    author:id::varchar as author_id,
    assigned_to:type::varchar as assigned_to_type,
    assigned_to:id::varchar as assigned_to_id,
    redacted as is_redacted
from source
