-- One row per live company: every column of intercom__company_enhanced, and figures over the
-- closed conversations whose first contact author belongs to the company.
with companies as (
    select * from {{ ref('intercom__company_enhanced') }}
),

closed_by_company as (
    select
        memberships.source_relation,
        memberships.company_id,
        count(*) as total_conversations_closed,
        avg(metrics.count_total_parts) as average_conversation_parts,
        avg(metrics.conversation_rating) as average_conversation_rating,
        median(metrics.count_reopens) as median_conversations_reopened,
        median(metrics.time_to_first_response_minutes)
            as median_time_to_first_response_time_minutes,
        median(metrics.time_to_last_close_minutes) as median_time_to_last_close_minutes
    from {{ ref('intercom__conversation_metrics') }} as metrics
    inner join {{ ref('int_intercom__contact_companies') }} as memberships
        on metrics.source_relation = memberships.source_relation
        and metrics.first_contact_author_id = memberships.contact_id
    where metrics.conversation_state = 'closed'
    group by memberships.source_relation, memberships.company_id
)

select
    companies.*,
    coalesce(closed_by_company.total_conversations_closed, 0) as total_conversations_closed,
    closed_by_company.average_conversation_parts,
    closed_by_company.average_conversation_rating,
    closed_by_company.median_conversations_reopened,
    closed_by_company.median_time_to_first_response_time_minutes,
    closed_by_company.median_time_to_last_close_minutes
from companies
left join closed_by_company
    on companies.source_relation = closed_by_company.source_relation
    and companies.company_id = closed_by_company.company_id
