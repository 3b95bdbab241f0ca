with source as (
    {{ intercom_source('NEWSFEEDS', {
        'ID': 'varchar', 'NAME': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as newsfeed_id,
    name as newsfeed_name,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
