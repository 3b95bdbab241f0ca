-- Each live contact's current companies (live ones).
with memberships as (
    {{ current_contact_memberships('stg_intercom__contact_companies') }}
),

companies as (
    select source_relation, company_id, company_name from {{ ref('stg_intercom__companies') }}
)

select
    memberships.source_relation,
    memberships.contact_id,
    companies.company_id,
    companies.company_name
from memberships
inner join companies
    on memberships.source_relation = companies.source_relation
    and memberships.company_id = companies.company_id
