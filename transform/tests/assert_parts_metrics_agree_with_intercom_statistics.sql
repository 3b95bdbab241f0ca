-- Conversations whose parts-derived figures and Intercom's `statistics` disagree beyond the
-- tolerance. A warning, not an error: they can disagree for good reasons (docs/analytics.md).
{{ config(severity='warn') }}

select source_relation, conversation_id
from {{ ref('intercom__conversation_statistics_check') }}
where not is_agreeing
