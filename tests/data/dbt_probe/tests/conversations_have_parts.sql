-- Conversations without any part: unusual but possible, so a warning.
{{ config(severity='warn') }}
select c.conversation_id
from {{ ref('stg_conversations') }} as c
left join {{ ref('stg_conversation_parts') }} as p on p.conversation_id = c.conversation_id
where p.part_id is null
