{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'conversation_part_id'],
    incremental_strategy='merge',
    on_schema_change='append_new_columns',
    post_hook=["
        -- A deleted conversation takes its parts with it.
        delete from {{ this }}
        where source_relation || ':' || conversation_id in (
            select source_relation || ':' || conversation_id
            from {{ ref('int_intercom__deleted_conversations') }}
        )"]
) }}

-- One row per conversation part (Intercom serves the 500 newest of a conversation), in
-- conversation order. Incremental: a build reads the parts updated since the newest one
-- it holds, less `intercom__lookback_hours`.
with parts as (
    select * from {{ ref('stg_intercom__conversation_parts') }}
    {{ lookback_filter('updated_at') }}
),

live_conversations as (
    select source_relation, conversation_id from {{ ref('stg_intercom__conversations') }}
)

select
    parts.source_relation,
    parts.conversation_part_id,
    parts.conversation_id,
    parts.part_type,
    parts.created_at,
    parts.updated_at,
    -- Parts of one second are ordered by id, which Intercom assigns in order.
    try_to_number(parts.conversation_part_id) as part_sequence,
    parts.author_type,
    parts.author_id,
    parts.author_name,
    parts.assigned_to_type,
    parts.assigned_to_id,
    parts.conversation_state,
    parts.part_type = 'comment' and parts.author_type = 'admin' as is_admin_response,
    parts.author_type in ('user', 'lead') as is_contact_reply,
    parts.part_type = 'close' as is_close,
    parts.part_type = 'open' as is_reopen,
    contains(parts.part_type, 'assignment') as is_assignment,
    parts.body,
    parts.is_redacted
from parts
inner join live_conversations
    on parts.source_relation = live_conversations.source_relation
    and parts.conversation_id = live_conversations.conversation_id
