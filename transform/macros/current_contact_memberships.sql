{% macro current_contact_memberships(memberships) %}
  {#- The rows of a contact membership model (tags, companies) read with each live contact's
      current version: the tap re-reads them whenever the contact changes, so an older row
      is a membership since removed. -#}
select memberships.*
from {{ ref('stg_intercom__contacts') }} as contacts
inner join {{ ref(memberships) }} as memberships
    on contacts.source_relation = memberships.source_relation
    and contacts.contact_id = memberships.contact_id
    and contacts.updated_at = memberships.contact_updated_at
{% endmacro %}
