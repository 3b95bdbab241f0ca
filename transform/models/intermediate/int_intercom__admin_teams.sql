-- Each admin with each team it belongs to (a team lists its admins); an admin in no team
-- gets one row with no team.
with admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

memberships as (
    select
        teams.source_relation,
        member.value::varchar as admin_id,
        teams.team_id,
        teams.team_name
    from {{ ref('stg_intercom__teams') }} as teams,
        lateral flatten(input => teams.admin_ids) as member
)

select
    admins.source_relation,
    admins.admin_id,
    admins.admin_name,
    admins.job_title,
    memberships.team_id,
    memberships.team_name
from admins
left join memberships
    on admins.source_relation = memberships.source_relation
    and admins.admin_id = memberships.admin_id
