-- Each live contact's current tags.
with memberships as (
    {{ current_contact_memberships('stg_intercom__contact_tags') }}
),

tags as (
    select * from {{ ref('stg_intercom__tags') }}
)

select
    memberships.source_relation,
    memberships.contact_id,
    memberships.tag_id,
    tags.tag_name
from memberships
left join tags
    on memberships.source_relation = tags.source_relation
    and memberships.tag_id = tags.tag_id
