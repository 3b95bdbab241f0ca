with source as (
    {{ intercom_source('CONVERSATIONS', {
        'ID': 'varchar', 'TITLE': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz', 'WAITING_SINCE': 'timestamp_tz',
        'SNOOZED_UNTIL': 'timestamp_tz', 'OPEN': 'boolean', 'STATE': 'varchar', 'READ': 'boolean',
        'PRIORITY': 'varchar', 'ADMIN_ASSIGNEE_ID': 'varchar', 'TEAM_ASSIGNEE_ID': 'varchar',
        'TAGS': 'variant', 'CONVERSATION_RATING': 'variant', 'SOURCE': 'variant',
        'CONTACTS': 'variant', 'TEAMMATES': 'variant', 'CUSTOM_ATTRIBUTES': 'variant',
        'SLA_APPLIED': 'variant', 'STATISTICS': 'variant', 'AI_AGENT_PARTICIPATED': 'boolean',
        'DELETED_AT': 'timestamp_tz', '_SDC_DELETED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as conversation_id,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    waiting_since::timestamp_tz as waiting_since,
    snoozed_until::timestamp_tz as snoozed_until,
    "OPEN" as is_open,
    state,
    "READ" as is_read,
    priority,
    title,
    admin_assignee_id::varchar as admin_assignee_id,
    team_assignee_id::varchar as team_assignee_id,
    source:type::varchar as source_type,
    source:id::varchar as source_id,
    source:delivered_as::varchar as source_delivered_as,
    source:subject::varchar as source_subject,
    source:body::varchar as source_body,
    source:author:type::varchar as source_author_type,
    source:author:id::varchar as source_author_id,
    source:url::varchar as source_url,
    conversation_rating:rating::number as conversation_rating,
    conversation_rating:remark::varchar as conversation_remark,
    conversation_rating:created_at::timestamp_tz as conversation_rated_at,
    conversation_rating:teammate:id::varchar as conversation_rating_admin_id,
    sla_applied:sla_name::varchar as sla_name,
    sla_applied:sla_status::varchar as sla_status,
    -- Intercom's own figures. Its timestamps are wall-clock; its durations (seconds)
    -- leave out time outside the workspace's office hours.
    statistics:first_contact_reply_at::timestamp_tz as statistics_first_contact_reply_at,
    statistics:first_assignment_at::timestamp_tz as statistics_first_assignment_at,
    statistics:first_admin_reply_at::timestamp_tz as statistics_first_admin_reply_at,
    statistics:first_close_at::timestamp_tz as statistics_first_close_at,
    statistics:last_assignment_at::timestamp_tz as statistics_last_assignment_at,
    statistics:last_contact_reply_at::timestamp_tz as statistics_last_contact_reply_at,
    statistics:last_admin_reply_at::timestamp_tz as statistics_last_admin_reply_at,
    statistics:last_close_at::timestamp_tz as statistics_last_close_at,
    statistics:last_closed_by_id::varchar as statistics_last_closed_by_id,
    statistics:count_reopens::number as statistics_count_reopens,
    statistics:count_assignments::number as statistics_count_assignments,
    statistics:count_conversation_parts::number as statistics_count_conversation_parts,
    statistics:time_to_assignment::number as statistics_time_to_assignment_seconds,
    statistics:time_to_admin_reply::number as statistics_time_to_admin_reply_seconds,
    statistics:time_to_first_close::number as statistics_time_to_first_close_seconds,
    statistics:time_to_last_close::number as statistics_time_to_last_close_seconds,
    statistics:median_time_to_reply::number as statistics_median_time_to_reply_seconds,
    statistics:handling_time::number as statistics_handling_time_seconds,
    ai_agent_participated,
    tags:tags as tags,
    contacts:contacts as contacts,
    teammates:teammates as teammates,
    custom_attributes
    {{ custom_attribute_columns('custom_attributes', var('intercom__conversation_custom_attributes')) }}
from source
-- Deleted conversations: the tap marks them (from GET /conversations/deleted).
where _sdc_deleted_at is null
    and deleted_at is null
