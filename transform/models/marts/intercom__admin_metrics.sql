-- One row per admin and team the admin belongs to: figures over the closed conversations the
-- admin closed last (state closed, last close by this admin).
with admin_teams as (
    select * from {{ ref('int_intercom__admin_teams') }}
),

closed_by_admin as (
    select
        source_relation,
        last_close_by_admin_id as admin_id,
        count(*) as total_conversations_closed,
        avg(count_total_parts) as average_conversation_parts,
        avg(conversation_rating) as average_conversation_rating,
        median(count_reopens) as median_conversations_reopened,
        median(count_assignments) as median_conversation_assignments,
        median(time_to_first_response_minutes) as median_time_to_first_response_time_minutes,
        median(time_to_last_close_minutes) as median_time_to_last_close_minutes
    from {{ ref('intercom__conversation_metrics') }}
    where conversation_state = 'closed'
        and last_close_by_admin_id is not null
    group by source_relation, last_close_by_admin_id
)

select
    admin_teams.admin_id,
    admin_teams.admin_name,
    admin_teams.team_id,
    admin_teams.team_name,
    admin_teams.job_title,
    coalesce(closed_by_admin.total_conversations_closed, 0) as total_conversations_closed,
    closed_by_admin.average_conversation_parts,
    closed_by_admin.average_conversation_rating,
    closed_by_admin.median_conversations_reopened,
    closed_by_admin.median_conversation_assignments,
    closed_by_admin.median_time_to_first_response_time_minutes,
    closed_by_admin.median_time_to_last_close_minutes,
    admin_teams.source_relation
from admin_teams
left join closed_by_admin
    on admin_teams.source_relation = closed_by_admin.source_relation
    and admin_teams.admin_id = closed_by_admin.admin_id
