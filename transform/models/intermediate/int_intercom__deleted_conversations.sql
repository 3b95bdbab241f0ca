-- Conversations the tap has marked deleted (staging leaves them out).
with source as (
    {{ intercom_source('CONVERSATIONS', {
        'ID': 'varchar', 'DELETED_AT': 'timestamp_tz', '_SDC_DELETED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as conversation_id,
    coalesce(_sdc_deleted_at, deleted_at)::timestamp_tz as deleted_at
from source
where _sdc_deleted_at is not null
    or deleted_at is not null
