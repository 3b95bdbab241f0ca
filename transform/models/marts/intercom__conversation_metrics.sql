-- One row per live conversation: every column of intercom__conversation_enhanced, the
-- figures computed from its parts (whole minutes, wall clock), and Intercom's own
-- office-hours figures beside them.
with enhanced as (
    select * from {{ ref('intercom__conversation_enhanced') }}
),

aggregates as (
    select * from {{ ref('int_intercom__conversation_part_aggregates') }}
),

statistics as (
    select
        source_relation,
        conversation_id,
        statistics_time_to_assignment_seconds,
        statistics_time_to_admin_reply_seconds,
        statistics_time_to_first_close_seconds,
        statistics_time_to_last_close_seconds,
        statistics_median_time_to_reply_seconds
    from {{ ref('stg_intercom__conversations') }}
)

select
    enhanced.*,
    aggregates.count_reopens,
    aggregates.count_total_parts,
    aggregates.count_assignments,
    aggregates.first_contact_reply_at,
    aggregates.first_assignment_at,
    {{ minutes_between('enhanced.conversation_created_at', 'aggregates.first_assignment_at') }}
        as time_to_first_assignment_minutes,
    aggregates.first_admin_response_at,
    {{ minutes_between('enhanced.conversation_created_at', 'aggregates.first_admin_response_at') }}
        as time_to_first_response_minutes,
    {{ minutes_between('aggregates.first_contact_reply_at', 'aggregates.first_admin_close_at') }}
        as time_to_admin_first_close_minutes,
    {{ minutes_between('aggregates.first_contact_reply_at', 'aggregates.first_close_at') }}
        as time_to_first_close_minutes,
    aggregates.first_reopen_at,
    aggregates.last_assignment_at,
    {{ minutes_between('enhanced.conversation_created_at', 'aggregates.last_assignment_at') }}
        as time_to_last_assignment_minutes,
    aggregates.last_contact_reply_at,
    aggregates.last_admin_response_at,
    aggregates.last_reopen_at,
    {{ minutes_between('aggregates.first_contact_reply_at', 'aggregates.last_admin_close_at') }}
        as time_to_admin_last_close_minutes,
    {{ minutes_between('aggregates.first_contact_reply_at', 'aggregates.last_close_at') }}
        as time_to_last_close_minutes,
    floor(statistics.statistics_time_to_assignment_seconds / 60)
        as time_to_first_assignment_office_hours_minutes,
    floor(statistics.statistics_time_to_admin_reply_seconds / 60)
        as time_to_first_response_office_hours_minutes,
    floor(statistics.statistics_time_to_first_close_seconds / 60)
        as time_to_first_close_office_hours_minutes,
    floor(statistics.statistics_time_to_last_close_seconds / 60)
        as time_to_last_close_office_hours_minutes,
    floor(statistics.statistics_median_time_to_reply_seconds / 60)
        as median_time_to_reply_office_hours_minutes
from enhanced
left join aggregates
    on enhanced.source_relation = aggregates.source_relation
    and enhanced.conversation_id = aggregates.conversation_id
left join statistics
    on enhanced.source_relation = statistics.source_relation
    and enhanced.conversation_id = statistics.conversation_id
