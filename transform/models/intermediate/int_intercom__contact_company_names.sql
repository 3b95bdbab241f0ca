-- Each live contact's current company names, comma-separated in name order.
select
    source_relation,
    contact_id,
    listagg(distinct company_name, ',') within group (order by company_name)
        as all_contact_company_names
from {{ ref('int_intercom__contact_companies') }}
group by source_relation, contact_id
