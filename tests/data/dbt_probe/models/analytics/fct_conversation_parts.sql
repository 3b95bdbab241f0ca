-- Incremental DELETE+INSERT; the second round drops a column and adds one (sync_all_columns).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='part_id',
    on_schema_change='sync_all_columns',
) }}
select
    part_id,
    conversation_id,
    conversation_updated_at,
    {%- if var('second_round', false) %}
    iff(author = 'admin', 'teammate', 'customer') as author_kind,
    {%- else %}
    author,
    {%- endif %}
    created_at
from {{ ref('stg_conversation_parts') }}
{% if is_incremental() %}
where conversation_updated_at > (select max(conversation_updated_at) from {{ this }})
{% endif %}
