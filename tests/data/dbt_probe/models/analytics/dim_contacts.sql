-- A transient table (dbt-snowflake's default for tables), with a query tag of its own
-- (dbt reads the session's with SHOW PARAMETERS and sets it with ALTER SESSION).
{{ config(query_tag='dbt_probe_dim_contacts') }}
select
    contact_id,
    email,
    role,
    plan,
    last_seen_at,
    iff(last_seen_at is null, 'never', 'seen') as seen_state,
    updated_at
from {{ ref('stg_contacts') }}
