with source as (
    {{ intercom_source('CONVERSATION_PARTS', {
        'ID': 'varchar', 'CONVERSATION_ID': 'varchar', 'PART_TYPE': 'varchar', 'BODY': 'varchar',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz', 'NOTIFIED_AT': 'timestamp_tz',
        'ASSIGNED_TO': 'variant', 'AUTHOR': 'variant', 'EXTERNAL_ID': 'varchar',
        'REDACTED': 'boolean', 'STATE': 'varchar', 'APP_PACKAGE_CODE': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as conversation_part_id,
    conversation_id::varchar as conversation_id,
    part_type,
    body,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    notified_at::timestamp_tz as notified_at,
    author:type::varchar as author_type,
    author:id::varchar as author_id,
    author:name::varchar as author_name,
    author:email::varchar as author_email,
    assigned_to:type::varchar as assigned_to_type,
    assigned_to:id::varchar as assigned_to_id,
    state as conversation_state,
    redacted as is_redacted,
    external_id,
    app_package_code
from source
