{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'notification_id'],
    incremental_strategy='merge',
    on_schema_change='append_new_columns'
) }}

-- One row per webhook notification the webhook job loaded (docs/webhooks.md): its topic,
-- the item it is about and the item's own update time. Incremental on `received_at`.
select
    notification_id,
    topic,
    item_type,
    item_id,
    item_updated_at,
    item:state::varchar as item_state,
    item:admin_assignee_id::varchar as item_admin_assignee_id,
    item:team_assignee_id::varchar as item_team_assignee_id,
    {{ unix_to_timestamp('item:statistics:last_contact_reply_at') }} as item_last_contact_reply_at,
    {{ unix_to_timestamp('item:statistics:last_admin_reply_at') }} as item_last_admin_reply_at,
    item,
    created_at,
    received_at,
    source_relation
from {{ ref('stg_intercom__webhook_notifications') }}
{{ lookback_filter('received_at') }}
