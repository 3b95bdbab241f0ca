with source as (
    {{ intercom_source('CONTACTS', {
        'ID': 'varchar', 'EXTERNAL_ID': 'varchar', 'WORKSPACE_ID': 'varchar', 'ROLE': 'varchar',
        'EMAIL': 'varchar', 'EMAIL_DOMAIN': 'varchar', 'PHONE': 'varchar', 'NAME': 'varchar',
        'OWNER_ID': 'number', 'HAS_HARD_BOUNCED': 'boolean', 'MARKED_EMAIL_AS_SPAM': 'boolean',
        'UNSUBSCRIBED_FROM_EMAILS': 'boolean', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz', 'SIGNED_UP_AT': 'timestamp_tz', 'LAST_SEEN_AT': 'timestamp_tz',
        'LAST_REPLIED_AT': 'timestamp_tz', 'LAST_CONTACTED_AT': 'timestamp_tz',
        'LAST_EMAIL_OPENED_AT': 'timestamp_tz', 'LAST_EMAIL_CLICKED_AT': 'timestamp_tz',
        'LANGUAGE_OVERRIDE': 'varchar', 'BROWSER': 'varchar', 'BROWSER_LANGUAGE': 'varchar',
        'OS': 'varchar', 'LOCATION': 'variant', 'CUSTOM_ATTRIBUTES': 'variant',
        '_SDC_DELETED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as contact_id,
    external_id,
    workspace_id,
    role as contact_role,
    email as contact_email,
    email_domain,
    phone,
    name as contact_name,
    owner_id::varchar as admin_id,
    has_hard_bounced,
    marked_email_as_spam,
    unsubscribed_from_emails as is_unsubscribed_from_emails,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    signed_up_at::timestamp_tz as signed_up_at,
    last_seen_at::timestamp_tz as last_seen_at,
    last_replied_at::timestamp_tz as last_replied_at,
    last_contacted_at::timestamp_tz as last_contacted_at,
    last_email_opened_at::timestamp_tz as last_email_opened_at,
    last_email_clicked_at::timestamp_tz as last_email_clicked_at,
    language_override,
    browser,
    browser_language,
    os,
    location:country::varchar as location_country,
    location:region::varchar as location_region,
    location:city::varchar as location_city,
    custom_attributes
    {{ custom_attribute_columns('custom_attributes', var('intercom__contact_custom_attributes')) }}
from source
-- Deleted contacts, and leads merged into a user, carry the tap's deletion mark.
where _sdc_deleted_at is null
