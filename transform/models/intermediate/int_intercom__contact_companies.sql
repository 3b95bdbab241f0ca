-- Each live contact's current companies: the membership rows read with the contact's current
-- version (older rows are memberships since removed), joined to live companies.
with contacts as (
    select source_relation, contact_id, updated_at from {{ ref('stg_intercom__contacts') }}
),

memberships as (
    select * from {{ ref('stg_intercom__contact_companies') }}
),

companies as (
    select source_relation, company_id, company_name from {{ ref('stg_intercom__companies') }}
)

select
    contacts.source_relation,
    contacts.contact_id,
    companies.company_id,
    companies.company_name
from contacts
inner join memberships
    on contacts.source_relation = memberships.source_relation
    and contacts.contact_id = memberships.contact_id
    and contacts.updated_at = memberships.contact_updated_at
inner join companies
    on memberships.source_relation = companies.source_relation
    and memberships.company_id = companies.company_id
