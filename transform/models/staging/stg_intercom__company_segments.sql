-- Not selected by default (a request per company): empty until the stream is loaded.
with source as (
    {{ intercom_source('COMPANY_SEGMENTS', {
        'COMPANY_ID': 'varchar', 'ID': 'varchar', 'NAME': 'varchar'}) }}
)

select
    source_relation,
    company_id::varchar as company_id,
    id::varchar as segment_id,
    name as segment_name
from source
