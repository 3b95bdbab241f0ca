-- Loaded by the webhook job (docs/webhooks.md); empty where it does not run. The item keeps
-- Intercom's UNIX-second timestamps, as delivered.
with source as (
    {{ intercom_source('WEBHOOK_NOTIFICATIONS', {
        'ID': 'varchar', 'TOPIC': 'varchar', 'APP_ID': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'DELIVERED_AT': 'timestamp_tz', 'ITEM_TYPE': 'varchar', 'ITEM': 'variant',
        'RECEIVED_AT': 'timestamp_tz', 'SPOOL_POSITION': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as notification_id,
    topic,
    app_id as workspace_id,
    item_type,
    item:id::varchar as item_id,
    {{ unix_to_timestamp('item:updated_at') }} as item_updated_at,
    item,
    created_at::timestamp_tz as created_at,
    delivered_at::timestamp_tz as delivered_at,
    received_at::timestamp_tz as received_at
from source
