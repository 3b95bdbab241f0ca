with source as (
    {{ intercom_source('ARTICLES', {
        'ID': 'varchar', 'WORKSPACE_ID': 'varchar', 'TITLE': 'varchar', 'DESCRIPTION': 'varchar',
        'BODY': 'varchar', 'AUTHOR_ID': 'varchar', 'STATE': 'varchar', 'CREATED_AT': 'timestamp_tz',
        'UPDATED_AT': 'timestamp_tz', 'URL': 'varchar', 'PARENT_ID': 'varchar',
        'PARENT_TYPE': 'varchar', 'PARENT_IDS': 'variant', 'DEFAULT_LOCALE': 'varchar',
        'STATISTICS': 'variant', 'TYPE': 'varchar'}) }}
)

select
    source_relation,
    id::varchar as article_id,
    workspace_id,
    title as article_title,
    description as article_description,
    body as article_body,
    url as article_url,
    type as article_type,
    state as article_state,
    default_locale,
    author_id::varchar as author_id,
    -- 2.15 lists an article's collection as parent_id/parent_type; 2.16 keeps only parent_ids.
    coalesce(parent_id::varchar, parent_ids[0]::varchar) as parent_id,
    coalesce(parent_type, iff(parent_ids[0] is not null, 'collection', null)) as parent_type,
    -- Only GET /articles/{id} carries statistics; the list the tap reads does not.
    statistics:views::number as statistics_views,
    statistics:conversions::number as statistics_conversations,
    statistics:reactions::number as statistics_reactions,
    statistics:happy_reaction_percentage::float as statistics_happy_reaction_percentage,
    statistics:neutral_reaction_percentage::float as statistics_neutral_reaction_percentage,
    statistics:sad_reaction_percentage::float as statistics_sad_reaction_percentage,
    created_at::timestamp_tz as created_at,
    updated_at::timestamp_tz as updated_at
from source
