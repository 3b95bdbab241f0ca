-- Incremental MERGE; the second round adds a column (append_new_columns).
{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='conversation_id',
    on_schema_change='append_new_columns',
) }}
select
    conversation_id,
    contact_id,
    state,
    created_at,
    updated_at,
    datediff('minute', created_at, updated_at) as minutes_open
    {%- if var('second_round', false) %},
    array_size(parts) as part_count
    {%- endif %}
from {{ ref('stg_conversations') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
