-- One row per live contact (deleted and merged ones are left out), with its current tags
-- and companies.
with contacts as (
    select * from {{ ref('stg_intercom__contacts') }}
),

tags as (
    select
        source_relation,
        contact_id,
        listagg(distinct tag_name, ',') within group (order by tag_name) as all_contact_tags
    from {{ ref('int_intercom__contact_tags') }}
    group by source_relation, contact_id
),

companies as (
    select * from {{ ref('int_intercom__contact_company_names') }}
)

select
    contacts.contact_id,
    contacts.contact_name,
    contacts.admin_id,
    contacts.created_at,
    contacts.updated_at,
    contacts.signed_up_at,
    tags.all_contact_tags,
    contacts.contact_role,
    contacts.contact_email,
    contacts.last_contacted_at,
    contacts.last_email_opened_at,
    contacts.last_email_clicked_at,
    contacts.last_replied_at,
    contacts.is_unsubscribed_from_emails,
    companies.all_contact_company_names,
    contacts.external_id,
    contacts.location_country,
    contacts.custom_attributes
    {%- for attribute in var('intercom__contact_custom_attributes') %}
    , contacts.{{ attribute.alias | default(attribute.name | lower | replace(' ', '_')) }}
    {%- endfor %},
    contacts.source_relation
from contacts
left join tags
    on contacts.source_relation = tags.source_relation
    and contacts.contact_id = tags.contact_id
left join companies
    on contacts.source_relation = companies.source_relation
    and contacts.contact_id = companies.contact_id
