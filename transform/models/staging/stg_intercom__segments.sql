with source as (
    {{ intercom_source('SEGMENTS', {
        'ID': 'varchar', 'NAME': 'varchar', 'PERSON_TYPE': 'varchar', 'COUNT': 'number',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as segment_id,
    name as segment_name,
    person_type,
    "COUNT" as member_count,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
