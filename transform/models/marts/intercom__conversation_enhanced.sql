-- One row per live conversation: what it is, who took part, who closed it, its rating, SLA
-- and teams. Column names are dbt_intercom's (docs/analytics.md).
with conversations as (
    select * from {{ ref('stg_intercom__conversations') }}
),

aggregates as (
    select * from {{ ref('int_intercom__conversation_part_aggregates') }}
),

tags as (
    select
        source_relation,
        conversation_id,
        listagg(distinct tag_name, ',') within group (order by tag_name) as all_conversation_tags
    from {{ ref('int_intercom__conversation_tags') }}
    group by source_relation, conversation_id
),

contact_companies as (
    select * from {{ ref('int_intercom__contact_company_names') }}
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
)

select
    conversations.conversation_id,
    conversations.created_at as conversation_created_at,
    conversations.updated_at as conversation_last_updated_at,
    conversations.source_type as conversation_type,
    tags.all_conversation_tags,
    conversations.source_delivered_as as conversation_initiated_type,
    conversations.source_subject as conversation_subject,
    case
        when conversations.admin_assignee_id is not null then 'admin'
        when conversations.team_assignee_id is not null then 'team'
    end as conversation_assignee_type,
    conversations.source_author_type as conversation_author_type,
    aggregates.first_close_by_admin_id,
    aggregates.last_close_by_admin_id,
    aggregates.first_close_by_author_id,
    aggregates.last_close_by_author_id,
    aggregates.first_contact_author_id,
    aggregates.last_contact_author_id,
    conversations.state as conversation_state,
    conversations.is_read,
    conversations.waiting_since,
    conversations.snoozed_until,
    conversations.sla_name,
    conversations.sla_status,
    aggregates.all_conversation_admins,
    aggregates.all_conversation_contacts,
    aggregates.first_admin_close_at,
    aggregates.last_admin_close_at,
    aggregates.first_close_at,
    aggregates.last_close_at,
    contact_companies.all_contact_company_names,
    conversations.conversation_rating,
    conversations.conversation_remark,
    aggregates.first_team_id,
    aggregates.last_team_id,
    first_team.team_name as first_team_name,
    last_team.team_name as last_team_name,
    conversations.admin_assignee_id,
    conversations.team_assignee_id,
    conversations.priority,
    conversations.custom_attributes
    {%- for attribute in var('intercom__conversation_custom_attributes') %}
    , conversations.{{ attribute.alias | default(attribute.name | lower | replace(' ', '_')) }}
    {%- endfor %},
    conversations.source_relation
from conversations
left join aggregates
    on conversations.source_relation = aggregates.source_relation
    and conversations.conversation_id = aggregates.conversation_id
left join tags
    on conversations.source_relation = tags.source_relation
    and conversations.conversation_id = tags.conversation_id
left join contact_companies
    on aggregates.source_relation = contact_companies.source_relation
    and aggregates.first_contact_author_id = contact_companies.contact_id
left join teams as first_team
    on aggregates.source_relation = first_team.source_relation
    and aggregates.first_team_id = first_team.team_id
left join teams as last_team
    on aggregates.source_relation = last_team.source_relation
    and aggregates.last_team_id = last_team.team_id
