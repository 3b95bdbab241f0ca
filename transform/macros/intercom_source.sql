{% macro intercom_schemas() %}
  {#- The raw schemas to read: `intercom_schemas`, else `intercom_schema`, else the profile's. -#}
  {{ return(var('intercom_schemas') or [var('intercom_schema') or target.schema]) }}
{% endmacro %}


{% macro intercom_source(table, columns) %}
  {#- One raw table of every workspace, unioned, with `source_relation` (its schema).
      `columns` maps each raw column read to its type: a column a workspace's table lacks (a
      field or stream it never sent) is a typed NULL there, and a workspace without the table
      adds no rows, so optional streams need no switch. -#}
  {%- set database = var('intercom_database') or target.database -%}
  {%- set branches = [] -%}
  {%- for schema in intercom_schemas() -%}
    {%- set relation = adapter.get_relation(database=database, schema=schema, identifier=table) if execute else none -%}
    {%- if relation is not none -%}
      {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('upper') | list -%}
      {%- set selected = [] -%}
      {%- for column, type in columns.items() -%}
        {%- do selected.append(adapter.quote(column) if column in present else 'null::' ~ type ~ ' as ' ~ adapter.quote(column)) -%}
      {%- endfor -%}
      {%- do branches.append("select '" ~ schema ~ "' as source_relation, " ~ selected | join(', ') ~ ' from ' ~ relation) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if branches -%}
    {{ branches | join('\nunion all\n') }}
  {%- else -%}
    select null::varchar as source_relation,
    {%- for column, type in columns.items() %} null::{{ type }} as {{ adapter.quote(column) }}{{ ',' if not loop.last }}{% endfor %}
    where false
  {%- endif -%}
{% endmacro %}


{% macro custom_attribute_columns(variant_column, attributes) %}
  {#- Pass-through columns: each listed custom attribute as a column of its own, named
      `alias` (default: the name, lower-cased, spaces as underscores), typed `type`. -#}
  {%- for attribute in attributes %}
    , {{ variant_column }}['{{ attribute.name | replace("'", "''") }}']::{{ attribute.type | default('varchar') }}
      as {{ attribute.alias | default(attribute.name | lower | replace(' ', '_')) }}
  {%- endfor %}
{% endmacro %}


{% macro minutes_between(start, finish) %}
  {#- Whole minutes elapsed (not minute boundaries crossed, as DATEDIFF('minute') counts). -#}
  floor(datediff('second', {{ start }}, {{ finish }}) / 60)
{% endmacro %}


{% macro unix_to_timestamp(expression) %}
  {#- Intercom's UNIX seconds (webhook items keep them) as TIMESTAMP_TZ in UTC. -#}
  to_timestamp_tz({{ expression }}::number)
{% endmacro %}
