-- One row per help center article, with its collection, parent collection, author and help
-- center.
with articles as (
    select * from {{ ref('stg_intercom__articles') }}
),

collections as (
    select * from {{ ref('stg_intercom__help_center_collections') }}
),

admins as (
    select * from {{ ref('stg_intercom__admins') }}
),

help_centers as (
    select * from {{ ref('stg_intercom__help_centers') }}
)

select
    articles.article_id,
    articles.article_title,
    articles.article_description,
    articles.article_body,
    articles.article_url,
    articles.article_type,
    articles.article_state,
    articles.default_locale,
    articles.workspace_id,
    articles.statistics_views,
    articles.statistics_conversations,
    articles.statistics_reactions,
    articles.statistics_happy_reaction_percentage,
    articles.statistics_neutral_reaction_percentage,
    articles.statistics_sad_reaction_percentage,
    collection.collection_id,
    collection.collection_name,
    collection.collection_description,
    collection.collection_url,
    collection.collection_icon,
    collection.collection_display_order,
    parent_collection.collection_id as parent_collection_id,
    parent_collection.collection_name as parent_collection_name,
    parent_collection.collection_url as parent_collection_url,
    articles.author_id,
    admins.admin_name as author_name,
    admins.job_title as author_job_title,
    help_centers.help_center_id,
    help_centers.help_center_name,
    help_centers.help_center_identifier,
    help_centers.is_website_enabled as is_help_center_website_enabled,
    articles.created_at as article_created_at,
    articles.updated_at as article_updated_at,
    articles.article_state = 'published' as is_published,
    collection.parent_collection_id is not null as is_in_nested_section,
    articles.source_relation
from articles
left join collections as collection
    on articles.source_relation = collection.source_relation
    and articles.parent_type = 'collection'
    and articles.parent_id = collection.collection_id
left join collections as parent_collection
    on collection.source_relation = parent_collection.source_relation
    and collection.parent_collection_id = parent_collection.collection_id
left join admins
    on articles.source_relation = admins.source_relation
    and articles.author_id = admins.admin_id
left join help_centers
    on collection.source_relation = help_centers.source_relation
    and collection.help_center_id = help_centers.help_center_id
