with source as (
    {{ intercom_source('HELP_CENTERS', {
        'ID': 'varchar', 'WORKSPACE_ID': 'varchar', 'IDENTIFIER': 'varchar',
        'WEBSITE_TURNED_ON': 'boolean', 'DISPLAY_NAME': 'varchar', 'URL': 'varchar',
        'CUSTOM_DOMAIN': 'varchar', 'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as help_center_id,
    workspace_id,
    identifier as help_center_identifier,
    display_name as help_center_name,
    website_turned_on as is_website_enabled,
    url as help_center_url,
    custom_domain,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
