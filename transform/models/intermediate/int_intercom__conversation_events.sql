-- A conversation's messages in order: its source message (the first, written by whoever
-- started it) and then its parts. `event_number` 1 is the source message.
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

parts as (
    select * from {{ ref('intercom__conversation_parts') }}
),

events as (
    select
        source_relation,
        conversation_id,
        null::varchar as conversation_part_id,
        'source' as part_type,
        source_author_type as author_type,
        source_author_id as author_id,
        null::varchar as assigned_to_type,
        null::varchar as assigned_to_id,
        created_at,
        -1 as part_sequence
    from conversations

    union all

    select
        source_relation,
        conversation_id,
        conversation_part_id,
        part_type,
        author_type,
        author_id,
        assigned_to_type,
        assigned_to_id,
        created_at,
        part_sequence
    from parts
)

select
    *,
    row_number() over (
        partition by source_relation, conversation_id
        order by created_at, part_sequence
    ) as event_number,
    part_type = 'comment' and author_type = 'admin' as is_admin_response,
    author_type in ('user', 'lead') as is_contact_reply,
    part_type = 'close' as is_close,
    part_type = 'close' and author_type = 'admin' as is_admin_close,
    part_type = 'open' as is_reopen,
    contains(part_type, 'assignment') as is_assignment,
    -- What opens a closed conversation again: a reopen, or an assignment that reopens it.
    part_type in ('open', 'assign_and_reopen') as is_reopening
from events
