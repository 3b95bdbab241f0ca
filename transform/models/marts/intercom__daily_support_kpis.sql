-- One row per day (UTC) and team (the conversation's current team; none = unassigned), from
-- the first day with activity on: volumes, response and close times, ratings and the open
-- backlog at the end of the day (docs/analytics.md).
with conversations as (
    select
        metrics.*,
        conversations.conversation_rated_at
    from {{ ref('intercom__conversation_metrics') }} as metrics
    inner join {{ ref('stg_intercom__conversations') }} as conversations
        on metrics.source_relation = conversations.source_relation
        and metrics.conversation_id = conversations.conversation_id
),

events as (
    select source_relation, conversation_id, created_at, is_close, is_reopen
    from {{ ref('int_intercom__conversation_events') }}
    where is_close or is_reopen
),

-- +1 when a conversation opens (created, or reopened), -1 when it is closed.
backlog_changes as (
    select source_relation, team_assignee_id, conversation_created_at::date as date_day, 1 as change
    from conversations
    union all
    select
        conversations.source_relation,
        conversations.team_assignee_id,
        events.created_at::date,
        iff(events.is_close, -1, 1)
    from events
    inner join conversations
        on events.source_relation = conversations.source_relation
        and events.conversation_id = conversations.conversation_id
),

created as (
    select
        source_relation,
        team_assignee_id,
        conversation_created_at::date as date_day,
        count(*) as conversations_created,
        median(time_to_first_response_minutes) as median_time_to_first_response_minutes
    from conversations
    group by 1, 2, 3
),

closed as (
    select
        source_relation,
        team_assignee_id,
        last_close_at::date as date_day,
        count(*) as conversations_closed,
        median(time_to_last_close_minutes) as median_time_to_close_minutes
    from conversations
    where conversation_state = 'closed'
        and last_close_at is not null
    group by 1, 2, 3
),

rated as (
    select
        source_relation,
        team_assignee_id,
        conversation_rated_at::date as date_day,
        count(*) as rated_conversations,
        avg(conversation_rating) as average_rating,
        avg(iff(conversation_rating >= 4, 1, 0)) as share_rated_4_or_5
    from conversations
    where conversation_rating is not null
    group by 1, 2, 3
),

changes_per_day as (
    select source_relation, team_assignee_id, date_day, sum(change) as change
    from backlog_changes
    group by 1, 2, 3
),

days as (
    select distinct source_relation, date_day from backlog_changes
    union
    select distinct source_relation, date_day from rated
),

teams_from as (
    select source_relation, team_assignee_id, min(date_day) as first_day
    from backlog_changes
    group by 1, 2
),

spine as (
    select days.source_relation, days.date_day, teams_from.team_assignee_id
    from days
    inner join teams_from
        on days.source_relation = teams_from.source_relation
        and days.date_day >= teams_from.first_day
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
)

select
    spine.date_day,
    spine.team_assignee_id as team_id,
    coalesce(teams.team_name, iff(spine.team_assignee_id is null, 'unassigned', null)) as team_name,
    coalesce(created.conversations_created, 0) as conversations_created,
    coalesce(closed.conversations_closed, 0) as conversations_closed,
    created.median_time_to_first_response_minutes,
    closed.median_time_to_close_minutes,
    coalesce(rated.rated_conversations, 0) as rated_conversations,
    rated.average_rating,
    rated.share_rated_4_or_5,
    sum(coalesce(changes_per_day.change, 0)) over (
        partition by spine.source_relation, spine.team_assignee_id
        order by spine.date_day
        rows between unbounded preceding and current row
    ) as open_backlog,
    spine.source_relation
from spine
left join created
    on spine.source_relation = created.source_relation
    and spine.date_day = created.date_day
    and equal_null(spine.team_assignee_id, created.team_assignee_id)
left join closed
    on spine.source_relation = closed.source_relation
    and spine.date_day = closed.date_day
    and equal_null(spine.team_assignee_id, closed.team_assignee_id)
left join rated
    on spine.source_relation = rated.source_relation
    and spine.date_day = rated.date_day
    and equal_null(spine.team_assignee_id, rated.team_assignee_id)
left join changes_per_day
    on spine.source_relation = changes_per_day.source_relation
    and spine.date_day = changes_per_day.date_day
    and equal_null(spine.team_assignee_id, changes_per_day.team_assignee_id)
left join teams
    on spine.source_relation = teams.source_relation
    and spine.team_assignee_id = teams.team_id
