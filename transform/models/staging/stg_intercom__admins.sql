with source as (
    {{ intercom_source('ADMINS', {
        'ID': 'varchar', 'NAME': 'varchar', 'EMAIL': 'varchar', 'JOB_TITLE': 'varchar',
        'AWAY_MODE_ENABLED': 'boolean', 'AWAY_MODE_REASSIGN': 'boolean',
        'HAS_INBOX_SEAT': 'boolean', 'TEAM_IDS': 'variant'}) }}
)

select
    source_relation,
    id::varchar as admin_id,
    name as admin_name,
    email as admin_email,
    job_title,
    away_mode_enabled as is_away,
    away_mode_reassign as is_away_reassigning,
    has_inbox_seat,
    team_ids
from source
