-- Per conversation, what its messages say: firsts and lasts, counts, and who did them
-- (definitions in docs/analytics.md). Ties within a second follow the part ids.
with events as (
    select * from {{ ref('int_intercom__conversation_events') }}
)

select
    source_relation,
    conversation_id,
    count_if(part_type != 'source') as count_total_parts,
    count_if(is_reopen) as count_reopens,
    count_if(is_assignment) as count_assignments,

    min(case when is_contact_reply then created_at end) as first_contact_reply_at,
    max(case when is_contact_reply then created_at end) as last_contact_reply_at,
    min(case when is_admin_response then created_at end) as first_admin_response_at,
    max(case when is_admin_response then created_at end) as last_admin_response_at,
    min(case when is_assignment then created_at end) as first_assignment_at,
    max(case when is_assignment then created_at end) as last_assignment_at,
    min(case when is_reopen then created_at end) as first_reopen_at,
    max(case when is_reopen then created_at end) as last_reopen_at,
    min(case when is_close then created_at end) as first_close_at,
    max(case when is_close then created_at end) as last_close_at,
    min(case when is_admin_close then created_at end) as first_admin_close_at,
    max(case when is_admin_close then created_at end) as last_admin_close_at,

    min_by(author_id, case when is_admin_close then event_number end) as first_close_by_admin_id,
    max_by(author_id, case when is_admin_close then event_number end) as last_close_by_admin_id,
    min_by(author_id, case when is_close then event_number end) as first_close_by_author_id,
    max_by(author_id, case when is_close then event_number end) as last_close_by_author_id,
    min_by(author_id, case when is_contact_reply then event_number end) as first_contact_author_id,
    max_by(author_id, case when is_contact_reply then event_number end) as last_contact_author_id,
    min_by(
        assigned_to_id, case when is_assignment and assigned_to_type = 'team' then event_number end
    ) as first_team_id,
    max_by(
        assigned_to_id, case when is_assignment and assigned_to_type = 'team' then event_number end
    ) as last_team_id,

    listagg(distinct case when part_type != 'source' and author_type = 'admin' then author_id end, ',')
        within group (order by case when part_type != 'source' and author_type = 'admin' then author_id end)
        as all_conversation_admins,
    listagg(distinct case when part_type != 'source' and is_contact_reply then author_id end, ',')
        within group (order by case when part_type != 'source' and is_contact_reply then author_id end)
        as all_conversation_contacts
from events
group by source_relation, conversation_id
