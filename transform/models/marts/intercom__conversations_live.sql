-- One row per live conversation, as current as the newest thing we have: the polled
-- conversation, overlaid with the newest webhook notification about it when that item is
-- newer than the poll (state, assignees, last reply times). `freshness_source` says which.
with polled as (
    select * from {{ ref('intercom__conversation_metrics') }}
),

notifications as (
    select * from {{ ref('intercom__webhook_events') }}
    where item_type = 'conversation'
    qualify row_number() over (
        partition by source_relation, item_id order by item_updated_at desc, received_at desc
    ) = 1
)

select
    polled.conversation_id,
    polled.conversation_created_at,
    iff(newer.item_id is not null, newer.item_updated_at, polled.conversation_last_updated_at)
        as as_of,
    iff(newer.item_id is not null, 'webhook', 'poll') as freshness_source,
    iff(newer.item_id is not null, newer.item_state, polled.conversation_state)
        as conversation_state,
    iff(newer.item_id is not null, newer.item_admin_assignee_id, polled.admin_assignee_id)
        as admin_assignee_id,
    iff(newer.item_id is not null, newer.item_team_assignee_id, polled.team_assignee_id)
        as team_assignee_id,
    greatest(
        coalesce(newer.item_last_contact_reply_at, polled.last_contact_reply_at),
        coalesce(polled.last_contact_reply_at, newer.item_last_contact_reply_at)
    ) as last_contact_reply_at,
    greatest(
        coalesce(newer.item_last_admin_reply_at, polled.last_admin_response_at),
        coalesce(polled.last_admin_response_at, newer.item_last_admin_reply_at)
    ) as last_admin_response_at,
    polled.conversation_last_updated_at as polled_at,
    polled.first_admin_response_at,
    polled.time_to_first_response_minutes,
    polled.conversation_rating,
    polled.source_relation
from polled
left join notifications as newer
    on polled.source_relation = newer.source_relation
    and polled.conversation_id = newer.item_id
    and newer.item_updated_at > polled.conversation_last_updated_at
