{% macro stg_data_attributes(table) %}
  {#- The three data-attribute tables (contact, company, conversation) share one shape. -#}
with source as (
    {{ intercom_source(table, {
        'ID': 'varchar', 'MODEL': 'varchar', 'NAME': 'varchar', 'FULL_NAME': 'varchar',
        'LABEL': 'varchar', 'DESCRIPTION': 'varchar', 'DATA_TYPE': 'varchar',
        'OPTIONS': 'variant', 'API_WRITABLE': 'boolean', 'MESSENGER_WRITABLE': 'boolean',
        'UI_WRITABLE': 'boolean', 'CUSTOM': 'boolean', 'ARCHIVED': 'boolean',
        'CREATED_AT': 'timestamp_tz', 'UPDATED_AT': 'timestamp_tz', 'ADMIN_ID': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as data_attribute_id,
    model,
    name as attribute_name,
    -- `name` is not unique within a model; `full_name` is.
    full_name as attribute_full_name,
    label as attribute_label,
    description as attribute_description,
    data_type,
    options,
    api_writable as is_api_writable,
    messenger_writable as is_messenger_writable,
    ui_writable as is_ui_writable,
    custom as is_custom,
    archived as is_archived,
    admin_id::varchar as admin_id,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
{% endmacro %}
