with source as (
    {{ intercom_source('HELP_CENTER_COLLECTIONS', {
        'ID': 'varchar', 'WORKSPACE_ID': 'varchar', 'NAME': 'varchar', 'DESCRIPTION': 'varchar',
        'URL': 'varchar', 'ICON': 'varchar', 'ORDER': 'number', 'DEFAULT_LOCALE': 'varchar',
        'PARENT_ID': 'varchar', 'HELP_CENTER_ID': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as collection_id,
    workspace_id,
    name as collection_name,
    description as collection_description,
    url as collection_url,
    icon as collection_icon,
    "ORDER" as collection_display_order,
    default_locale,
    parent_id::varchar as parent_collection_id,
    help_center_id::varchar as help_center_id,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
