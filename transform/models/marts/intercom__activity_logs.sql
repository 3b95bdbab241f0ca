{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'activity_log_id'],
    incremental_strategy='merge',
    on_schema_change='append_new_columns'
) }}

-- One row per admin activity (sign-ins, role and setting changes, exports...), with the
-- admin's name. Incremental on `created_at` (activity logs never change once written).
with activity_logs as (
    select * from {{ ref('stg_intercom__activity_logs') }}
    {{ lookback_filter('created_at') }}
),

admins as (
    select source_relation, admin_id, admin_name from {{ ref('stg_intercom__admins') }}
)

select
    activity_logs.activity_log_id,
    activity_logs.activity_type,
    activity_logs.activity_description,
    activity_logs.performed_by_type,
    activity_logs.performed_by_id,
    admins.admin_name as performed_by_name,
    activity_logs.metadata,
    activity_logs.created_at,
    activity_logs.source_relation
from activity_logs
left join admins
    on activity_logs.source_relation = admins.source_relation
    and activity_logs.performed_by_id = admins.admin_id
