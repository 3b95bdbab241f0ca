with source as (
    {{ intercom_source('TICKETS', {
        'ID': 'varchar', 'TICKET_ID': 'varchar', 'CATEGORY': 'varchar',
        'TICKET_ATTRIBUTES': 'variant', 'TICKET_STATE': 'variant', 'TICKET_TYPE': 'variant',
        'CONTACTS': 'variant', 'ADMIN_ASSIGNEE_ID': 'varchar', 'TEAM_ASSIGNEE_ID': 'varchar',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz', 'OPEN': 'boolean',
        'SNOOZED_UNTIL': 'timestamp_tz', 'IS_SHARED': 'boolean'}) }}
)

select
    source_relation,
    id::varchar as ticket_id,
    ticket_id::varchar as ticket_number,
    category as ticket_category,
    ticket_type:id::varchar as ticket_type_id,
    ticket_type:name::varchar as ticket_type_name,
    ticket_state:id::varchar as ticket_state_id,
    ticket_state:category::varchar as ticket_state_category,
    ticket_state:internal_label::varchar as ticket_state_label,
    ticket_attributes:_default_title_::varchar as ticket_title,
    ticket_attributes:_default_description_::varchar as ticket_description,
    contacts:contacts[0]:id::varchar as contact_id,
    nullif(admin_assignee_id::varchar, '0') as admin_assignee_id,
    nullif(team_assignee_id::varchar, '0') as team_assignee_id,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    snoozed_until::timestamp_tz as snoozed_until,
    "OPEN" as is_open,
    is_shared,
    ticket_attributes
from source
