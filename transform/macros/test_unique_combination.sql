{% test unique_combination(model, columns) %}
  {#- The grain: no two rows share these columns (NULLs compare equal, as in a key). -#}
select {{ columns | join(', ') }}, count(*) as rows_with_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
