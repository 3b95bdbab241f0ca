-- One row per ticket: its type, state, people, and the time it spent in each state category,
-- from the state changes its parts record (docs/analytics.md).
with tickets as (
    select * from {{ ref('stg_intercom__tickets') }}
),

changes as (
    select
        source_relation,
        ticket_id,
        created_at as changed_at,
        try_to_number(ticket_part_id) as part_sequence,
        previous_ticket_state,
        ticket_state
    from {{ ref('stg_intercom__ticket_parts') }}
    where ticket_state is not null
        and ticket_state is distinct from previous_ticket_state
),

first_changes as (
    select * from changes
    qualify row_number() over (
        partition by source_relation, ticket_id order by changed_at, part_sequence
    ) = 1
),

-- Each stay in a state: from entering it to the next change (none yet for the current one).
stays as (
    select
        source_relation,
        ticket_id,
        ticket_state as state_category,
        changed_at as entered_at,
        lead(changed_at) over (
            partition by source_relation, ticket_id order by changed_at, part_sequence
        ) as left_at
    from changes

    union all

    select
        tickets.source_relation,
        tickets.ticket_id,
        coalesce(first_changes.previous_ticket_state, tickets.ticket_state_category),
        tickets.created_at,
        first_changes.changed_at
    from tickets
    left join first_changes
        on tickets.source_relation = first_changes.source_relation
        and tickets.ticket_id = first_changes.ticket_id
),

time_in_states as (
    select
        source_relation,
        ticket_id,
        {% for category in ['submitted', 'in_progress', 'waiting_on_customer', 'resolved'] -%}
        floor(sum(case when state_category = '{{ category }}' and left_at is not null
            then datediff('second', entered_at, left_at) else 0 end) / 60)
            as minutes_in_{{ category }},
        {% endfor -%}
        max(case when left_at is null then entered_at end) as current_state_since,
        max(case when state_category = 'resolved' then entered_at end) as last_resolved_at
    from stays
    group by source_relation, ticket_id
),

reopens as (
    select source_relation, ticket_id, count(*) as count_reopens
    from changes
    where previous_ticket_state = 'resolved'
    group by source_relation, ticket_id
),

teams as (
    select * from {{ ref('stg_intercom__teams') }}
),

contact_companies as (
    select * from {{ ref('int_intercom__contact_company_names') }}
)

select
    tickets.ticket_id,
    tickets.ticket_number,
    tickets.ticket_type_id,
    tickets.ticket_type_name,
    tickets.ticket_category,
    tickets.ticket_title,
    tickets.ticket_state_category,
    tickets.ticket_state_label,
    tickets.is_open,
    tickets.admin_assignee_id,
    tickets.team_assignee_id,
    teams.team_name as team_assignee_name,
    tickets.contact_id,
    contact_companies.all_contact_company_names,
    tickets.created_at,
    tickets.updated_at,
    iff(tickets.ticket_state_category = 'resolved', time_in_states.last_resolved_at, null)
        as resolved_at,
    {{ minutes_between('tickets.created_at',
        "iff(tickets.ticket_state_category = 'resolved', time_in_states.last_resolved_at, null)") }}
        as time_to_resolution_minutes,
    time_in_states.current_state_since,
    time_in_states.minutes_in_submitted,
    time_in_states.minutes_in_in_progress,
    time_in_states.minutes_in_waiting_on_customer,
    time_in_states.minutes_in_resolved,
    coalesce(reopens.count_reopens, 0) as count_reopens,
    tickets.source_relation
from tickets
left join time_in_states
    on tickets.source_relation = time_in_states.source_relation
    and tickets.ticket_id = time_in_states.ticket_id
left join reopens
    on tickets.source_relation = reopens.source_relation
    and tickets.ticket_id = reopens.ticket_id
left join teams
    on tickets.source_relation = teams.source_relation
    and tickets.team_assignee_id = teams.team_id
left join contact_companies
    on tickets.source_relation = contact_companies.source_relation
    and tickets.contact_id = contact_companies.contact_id
