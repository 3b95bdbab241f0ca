with source as (
    {{ intercom_source('SUBSCRIPTION_TYPES', {
        'ID': 'varchar', 'STATE': 'varchar', 'DEFAULT_TRANSLATION': 'variant',
        'CONSENT_TYPE': 'varchar', 'CONTENT_TYPES': 'variant'}) }}
)

select
    source_relation,
    id::varchar as subscription_type_id,
    state as subscription_type_state,
    default_translation:name::varchar as subscription_type_name,
    default_translation:description::varchar as subscription_type_description,
    consent_type,
    content_types
from source
