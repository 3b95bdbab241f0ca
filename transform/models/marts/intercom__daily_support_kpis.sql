-- One row per day (UTC) and team (the conversations' current team; NULL: no team), from
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
    select source_relation, conversation_id, created_at, is_close, is_reopening
    from {{ ref('int_intercom__conversation_events') }}
    where is_close or is_reopening
),

-- +1 when a conversation opens (created, reopened, or assigned and reopened), -1 when it is
-- closed.
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
    select source_relation, team_assignee_id, date_day, sum(change) as backlog_change
    from backlog_changes
    group by 1, 2, 3
),

-- Each day's figures of each team, one row (each source gives its own columns).
figures as (
    select
        source_relation,
        team_assignee_id,
        date_day,
        max(conversations_created) as conversations_created,
        max(median_time_to_first_response_minutes) as median_time_to_first_response_minutes,
        max(conversations_closed) as conversations_closed,
        max(median_time_to_close_minutes) as median_time_to_close_minutes,
        max(rated_conversations) as rated_conversations,
        max(average_rating) as average_rating,
        max(share_rated_4_or_5) as share_rated_4_or_5,
        max(backlog_change) as backlog_change
    from (
        select source_relation, team_assignee_id, date_day, conversations_created,
            median_time_to_first_response_minutes, null as conversations_closed,
            null as median_time_to_close_minutes, null as rated_conversations,
            null as average_rating, null as share_rated_4_or_5, null as backlog_change
        from created
        union all
        select source_relation, team_assignee_id, date_day, null, null, conversations_closed,
            median_time_to_close_minutes, null, null, null, null
        from closed
        union all
        select source_relation, team_assignee_id, date_day, null, null, null, null,
            rated_conversations, average_rating, share_rated_4_or_5, null
        from rated
        union all
        select source_relation, team_assignee_id, date_day, null, null, null, null, null, null,
            null, backlog_change
        from changes_per_day
    )
    group by 1, 2, 3
),

days as (
    select distinct source_relation, date_day from figures
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
    coalesce(teams.team_name, iff(spine.team_assignee_id is null, 'no team', null)) as team_name,
    coalesce(figures.conversations_created, 0) as conversations_created,
    coalesce(figures.conversations_closed, 0) as conversations_closed,
    figures.median_time_to_first_response_minutes,
    figures.median_time_to_close_minutes,
    coalesce(figures.rated_conversations, 0) as rated_conversations,
    figures.average_rating,
    figures.share_rated_4_or_5,
    sum(coalesce(figures.backlog_change, 0)) over (
        partition by spine.source_relation, spine.team_assignee_id
        order by spine.date_day
        rows between unbounded preceding and current row
    ) as open_backlog,
    spine.source_relation
from spine
left join figures
    on spine.source_relation = figures.source_relation
    and spine.date_day = figures.date_day
    and equal_null(spine.team_assignee_id, figures.team_assignee_id)
left join teams
    on spine.source_relation = teams.source_relation
    and spine.team_assignee_id = teams.team_id
