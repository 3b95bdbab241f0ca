-- The tags on each conversation, one row each.
with conversations as (
    select source_relation, conversation_id, tags from {{ ref('stg_intercom__conversations') }}
)

select
    conversations.source_relation,
    conversations.conversation_id,
    tag.value:id::varchar as tag_id,
    tag.value:name::varchar as tag_name
from conversations,
    lateral flatten(input => conversations.tags) as tag
