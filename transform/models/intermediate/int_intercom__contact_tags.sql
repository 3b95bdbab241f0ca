-- Each live contact's current tags (rows read with the contact's current version).
with contacts as (
    select source_relation, contact_id, updated_at from {{ ref('stg_intercom__contacts') }}
),

memberships as (
    select * from {{ ref('stg_intercom__contact_tags') }}
),

tags as (
    select * from {{ ref('stg_intercom__tags') }}
)

select
    contacts.source_relation,
    contacts.contact_id,
    memberships.tag_id,
    tags.tag_name
from contacts
inner join memberships
    on contacts.source_relation = memberships.source_relation
    and contacts.contact_id = memberships.contact_id
    and contacts.updated_at = memberships.contact_updated_at
left join tags
    on memberships.source_relation = tags.source_relation
    and memberships.tag_id = tags.tag_id
