-- A transient table (dbt-snowflake's default for tables).
select
    contact_id,
    email,
    role,
    plan,
    last_seen_at,
    iff(last_seen_at is null, 'never', 'seen') as seen_state,
    updated_at
from {{ ref('stg_contacts') }}
