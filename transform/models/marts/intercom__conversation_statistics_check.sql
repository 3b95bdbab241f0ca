-- Per live conversation: the figures computed from its parts beside the ones Intercom reports
-- in `statistics`, and whether they agree within `intercom__statistics_tolerance_minutes`.
-- They can differ for good reasons (docs/analytics.md): Intercom counts every part while the
-- API serves the newest 500, some of its figures start at the first contact reply, and
-- assignments and closes by bots or rules.
with metrics as (
    select * from {{ ref('intercom__conversation_metrics') }}
),

statistics as (
    select * from {{ ref('stg_intercom__conversations') }}
),

compared as (
    select
        metrics.source_relation,
        metrics.conversation_id,
        metrics.count_total_parts,
        statistics.statistics_count_conversation_parts,
        metrics.first_admin_response_at,
        statistics.statistics_first_admin_reply_at,
        metrics.first_close_at,
        statistics.statistics_first_close_at,
        metrics.last_close_at,
        statistics.statistics_last_close_at,
        metrics.count_reopens,
        statistics.statistics_count_reopens,
        metrics.count_assignments,
        statistics.statistics_count_assignments,
        {% for ours, theirs in [
            ('first_admin_response_at', 'statistics_first_admin_reply_at'),
            ('first_close_at', 'statistics_first_close_at'),
            ('last_close_at', 'statistics_last_close_at')] -%}
        equal_null({{ ours }}, {{ theirs }})
            or abs(datediff('second', {{ ours }}, {{ theirs }}))
                <= {{ var('intercom__statistics_tolerance_minutes') }} * 60
            as is_{{ ours }}_agreeing,
        {% endfor -%}
        equal_null(metrics.count_reopens, statistics.statistics_count_reopens)
            as is_count_reopens_agreeing,
        equal_null(metrics.count_assignments, statistics.statistics_count_assignments)
            as is_count_assignments_agreeing,
        metrics.count_total_parts < statistics.statistics_count_conversation_parts
            as is_missing_older_parts
    from metrics
    inner join statistics
        on metrics.source_relation = statistics.source_relation
        and metrics.conversation_id = statistics.conversation_id
)

select
    *,
    coalesce(
        is_first_admin_response_at_agreeing
        and is_first_close_at_agreeing
        and is_last_close_at_agreeing
        and is_count_reopens_agreeing
        and is_count_assignments_agreeing,
        false
    ) as is_agreeing
from compared
