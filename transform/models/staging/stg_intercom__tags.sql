with source as (
    {{ intercom_source('TAGS', {'ID': 'varchar', 'NAME': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as tag_id,
    name as tag_name
from source
