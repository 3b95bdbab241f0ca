with source as (
    {{ intercom_source('ACTIVITY_LOGS', {
        'ID': 'varchar', 'PERFORMED_BY': 'variant', 'METADATA': 'variant',
        'CREATED_AT': 'timestamp_tz', 'ACTIVITY_TYPE': 'varchar',
        'ACTIVITY_DESCRIPTION': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as activity_log_id,
    performed_by:type::varchar as performed_by_type,
    performed_by:id::varchar as performed_by_id,
    performed_by:email::varchar as performed_by_email,
    activity_type,
    activity_description,
    metadata,
    created_at::timestamp_tz as created_at
from source
