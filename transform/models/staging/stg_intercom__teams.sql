with source as (
    {{ intercom_source('TEAMS', {
        'ID': 'varchar', 'NAME': 'varchar', 'ADMIN_IDS': 'variant',
        'ASSIGNMENT_LIMIT': 'number', 'DISTRIBUTION_METHOD': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as team_id,
    name as team_name,
    admin_ids,
    assignment_limit,
    distribution_method
from source
