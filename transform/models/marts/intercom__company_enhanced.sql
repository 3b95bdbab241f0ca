-- One row per live company (archived ones are left out), with its tags.
with companies as (
    select * from {{ ref('stg_intercom__companies') }}
),

tags as (
    select
        companies.source_relation,
        companies.company_id,
        listagg(distinct tag.value:name::varchar, ',')
            within group (order by tag.value:name::varchar) as all_company_tags
    from companies,
        lateral flatten(input => companies.tags) as tag
    group by companies.source_relation, companies.company_id
)

select
    companies.company_id,
    companies.company_name,
    companies.created_at,
    companies.updated_at,
    tags.all_company_tags,
    companies.website,
    companies.industry,
    companies.monthly_spend,
    companies.user_count,
    companies.session_count,
    companies.plan_id,
    companies.plan_name,
    companies.company_external_id,
    companies.custom_attributes
    {%- for attribute in var('intercom__company_custom_attributes') %}
    , companies.{{ attribute.alias | default(attribute.name | lower | replace(' ', '_')) }}
    {%- endfor %},
    companies.source_relation
from companies
left join tags
    on companies.source_relation = tags.source_relation
    and companies.company_id = tags.company_id
