with source as (
    {{ intercom_source('NEWS_ITEMS', {
        'ID': 'varchar', 'WORKSPACE_ID': 'varchar', 'TITLE': 'varchar', 'BODY': 'varchar',
        'SENDER_ID': 'varchar', 'STATE': 'varchar', 'NEWSFEED_ASSIGNMENTS': 'variant',
        'LABELS': 'variant', 'REACTIONS': 'variant', 'DELIVER_SILENTLY': 'boolean',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as news_item_id,
    workspace_id,
    title as news_item_title,
    body as news_item_body,
    sender_id::varchar as sender_admin_id,
    state as news_item_state,
    newsfeed_assignments,
    labels,
    reactions,
    deliver_silently,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
