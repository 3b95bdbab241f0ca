with source as (
    {{ intercom_source('COMPANIES', {
        'ID': 'varchar', 'NAME': 'varchar', 'APP_ID': 'varchar', 'COMPANY_ID': 'varchar',
        'PLAN': 'variant', 'REMOTE_CREATED_AT': 'timestamp_tz', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz', 'LAST_REQUEST_AT': 'timestamp_tz', 'SIZE': 'number',
        'WEBSITE': 'varchar', 'INDUSTRY': 'varchar', 'MONTHLY_SPEND': 'number',
        'SESSION_COUNT': 'number', 'USER_COUNT': 'number', 'CUSTOM_ATTRIBUTES': 'variant',
        'TAGS': 'variant', '_SDC_DELETED_AT': 'timestamp_tz'}) }}
)

select
    source_relation,
    id::varchar as company_id,
    name as company_name,
    company_id as company_external_id,
    app_id,
    plan:id::varchar as plan_id,
    plan:name::varchar as plan_name,
    remote_created_at::timestamp_tz as remote_created_at,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at,
    last_request_at::timestamp_tz as last_request_at,
    size as company_size,
    website,
    industry,
    monthly_spend,
    session_count,
    user_count,
    tags:tags as tags,
    custom_attributes
    {{ custom_attribute_columns('custom_attributes', var('intercom__company_custom_attributes')) }}
from source
-- Intercom's "delete" archives a company; the tap marks it.
where _sdc_deleted_at is null
