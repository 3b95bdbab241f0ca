{% macro lookback_filter(column) %}
  {#- In an incremental build, the rows whose `column` is at or after the newest the model
      holds, less `intercom__lookback_hours` (late updates); every row while it holds none. -#}
  {%- if is_incremental() %}
where {{ column }} >= (
    select coalesce(
        dateadd('hour', -{{ var('intercom__lookback_hours') }}, max({{ column }})),
        '1970-01-01'::timestamp_tz
    )
    from {{ this }}
)
  {%- endif %}
{% endmacro %}
