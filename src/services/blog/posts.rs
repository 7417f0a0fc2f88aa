//! Posts: slugs made from titles and unique even for concurrent posts of one title, drafts,
//! tags created on demand, and lists whose authors, tags and comment counts take a fixed
//! number of queries whatever the page size.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde::Serialize;
use utoipa::ToSchema;

use super::can_see;
use crate::db::{self, Db, Params, outbox};
use crate::domain::{
    Actor, DomainEvent, Input, Invalid, Lines, PageRequest, Pagination, PostId, Slug, TagId,
    UserId, Validation, bounded_text, non_blank, optional, text,
};
use crate::error::AppError;
use crate::services::users::Author;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    pub id: PostId,
    /// Made from the title when the post was created; it does not change with the title.
    pub slug: String,
    pub title: String,
    pub content: String,
    pub published: bool,
    /// When the post was first published; `null` for a draft that never was.
    pub published_at: Option<DateTime<Utc>>,
    pub author: Author,
    pub tags: Vec<String>,
    pub comment_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagCount {
    pub name: String,
    /// Published posts with the tag.
    pub post_count: u64,
}

const TITLE_MAX_CHARS: usize = 200;
const CONTENT_MAX_CHARS: usize = 100_000;
const TAG_MAX_CHARS: usize = 50;
const MAX_TAGS: usize = 10;
/// Attempts at a free slug before giving up; only reached under a storm of equal titles.
const SLUG_ATTEMPTS: u32 = 50;

/// A tag name as stored: trimmed and lower-cased, then checked, so that a name that grows when
/// lower-cased (`İ` becomes two characters) is measured as it will be stored.
pub fn tag_name(raw: &str) -> Result<String, Invalid> {
    let lowered = raw.to_lowercase();
    bounded_text(&lowered, TAG_MAX_CHARS)
}

/// Tag names as stored: distinct and sorted; each failing one named by its index.
fn tags(v: &mut Validation, raw: Input<Vec<Input<&str>>>) -> Option<Option<BTreeSet<String>>> {
    let raw = v.optional("tags", raw, |tags| {
        if tags.len() > MAX_TAGS {
            return Err(Invalid::new(format!("must list at most {MAX_TAGS} tags")));
        }
        Ok(tags)
    })?;
    let Some(raw) = raw else {
        return Some(None);
    };
    let mut names = BTreeSet::new();
    let mut ok = true;
    for (i, tag) in raw.into_iter().enumerate() {
        match v.required(&format!("tags[{i}]"), tag, tag_name) {
            Some(name) => {
                names.insert(name);
            }
            None => ok = false,
        }
    }
    ok.then_some(Some(names))
}

/// A post's content: 1 to 100,000 characters; may span lines.
fn content(raw: &str) -> Result<String, Invalid> {
    text(raw, CONTENT_MAX_CHARS, Lines::Multi)
}

/// `POST /posts`, checked.
#[derive(Debug)]
pub struct NewPost {
    title: String,
    slug: Slug,
    content: String,
    tags: BTreeSet<String>,
    published: bool,
}

impl NewPost {
    pub fn parse(
        title: Input<&str>,
        content: Input<&str>,
        tag_names: Input<Vec<Input<&str>>>,
        published: Input<bool>,
    ) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let title = v.required("title", title, |title| {
            let title = bounded_text(title, TITLE_MAX_CHARS)?;
            let slug = Slug::from_text(&title)
                .ok_or_else(|| Invalid::new("must contain a letter or a digit"))?;
            Ok((title, slug))
        });
        let content = v.required("content", content, self::content);
        let tags = tags(&mut v, tag_names);
        let published = v.optional("published", published, Ok);
        let parsed = match (title, content, tags, published) {
            (Some((title, slug)), Some(content), Some(tags), Some(published)) => Some(NewPost {
                title,
                slug,
                content,
                tags: tags.unwrap_or_default(),
                published: published.unwrap_or(false),
            }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// `PATCH /posts/{slug}`: what is sent changes; `tags` replaces the whole set.
#[derive(Debug, Default)]
pub struct PostUpdate {
    title: Option<String>,
    content: Option<String>,
    tags: Option<BTreeSet<String>>,
    published: Option<bool>,
}

impl PostUpdate {
    pub fn parse(
        title: Input<&str>,
        content: Input<&str>,
        tag_names: Input<Vec<Input<&str>>>,
        published: Input<bool>,
    ) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let title = v.optional("title", title, |t| bounded_text(t, TITLE_MAX_CHARS));
        let content = v.optional("content", content, self::content);
        let tags = tags(&mut v, tag_names);
        let published = v.optional("published", published, Ok);
        let parsed = match (title, content, tags, published) {
            (Some(title), Some(content), Some(tags), Some(published)) => Some(PostUpdate {
                title,
                content,
                tags,
                published,
            }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

const COLUMNS: &str = "p.id, p.slug, p.title, p.content, p.published, p.published_at, \
    p.author_id, u.name AS author_name, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id) AS comment_count";
const FROM: &str = "FROM posts p JOIN users u ON u.id = p.author_id";

fn from_row(row: &QueryResult) -> Result<Post, DbErr> {
    Ok(Post {
        id: row.try_get("", "id")?,
        slug: row.try_get("", "slug")?,
        title: row.try_get("", "title")?,
        content: row.try_get("", "content")?,
        published: row.try_get("", "published")?,
        published_at: row.try_get("", "published_at")?,
        author: Author::from_row(row, "author_id")?,
        tags: Vec::new(),
        comment_count: u64::try_from(row.try_get::<i64>("", "comment_count")?).unwrap_or(0),
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

/// The posts of these rows with their tags, loaded in one more query whatever the count.
async fn with_tags(db: &impl ConnectionTrait, rows: &[QueryResult]) -> Result<Vec<Post>, AppError> {
    let mut posts = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    if posts.is_empty() {
        return Ok(posts);
    }
    let mut params = Params::default();
    let ids: Vec<String> = posts.iter().map(|post| params.push(post.id)).collect();
    let tag_rows = db
        .query_all_raw(db::sql(
            db,
            &format!(
                "SELECT pt.post_id, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id \
                 WHERE pt.post_id IN ({}) ORDER BY t.name",
                ids.join(", ")
            ),
            params.into_values(),
        ))
        .await?;
    let mut by_post: HashMap<PostId, Vec<String>> = HashMap::new();
    for row in &tag_rows {
        by_post
            .entry(row.try_get("", "post_id")?)
            .or_default()
            .push(row.try_get("", "name")?);
    }
    for post in &mut posts {
        post.tags = by_post.remove(&post.id).unwrap_or_default();
    }
    Ok(posts)
}

/// The post with this slug, whoever may see it.
async fn find(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Post>, AppError> {
    // Every lookup by slug comes here: one that no post can have needs no query.
    if !Slug::is_well_formed(slug) {
        return Ok(None);
    }
    let rows = db
        .query_all_raw(db::sql(
            db,
            &format!("SELECT {COLUMNS} {FROM} WHERE p.slug = $1"),
            [slug.into()],
        ))
        .await?;
    Ok(with_tags(db, &rows).await?.pop())
}

/// The post with this slug if the actor may see it; otherwise it does not exist.
pub(crate) async fn find_visible(
    db: &impl ConnectionTrait,
    actor: Option<&Actor>,
    slug: &str,
) -> Result<Post, AppError> {
    match find(db, slug).await? {
        Some(post) if can_see(actor, post.author.id, post.published) => Ok(post),
        _ => Err(AppError::NotFound("Post")),
    }
}

pub async fn get(db: &Db, actor: Option<&Actor>, slug: &str) -> Result<Post, AppError> {
    find_visible(db.read(), actor, slug).await
}

/// `GET /posts` filters, checked.
#[derive(Debug, Clone, Default)]
pub struct PostQuery {
    /// A tag name.
    pub tag: Option<String>,
    pub author: Option<UserId>,
}

impl PostQuery {
    pub fn parse(v: &mut Validation, tag: Option<&str>, author: Option<&str>) -> Option<Self> {
        let tag = v.field("tag", tag.map(tag_name_filter).transpose());
        let author = v.field("author", non_blank(author).map(UserId::parse).transpose());
        Some(PostQuery {
            tag: tag?.flatten(),
            author: author?,
        })
    }
}

/// The `tag` filter: a tag name, or blank for none.
fn tag_name_filter(raw: &str) -> Result<Option<String>, Invalid> {
    optional(Some(raw), TAG_MAX_CHARS, Lines::Single)?
        .map(|tag| tag_name(&tag))
        .transpose()
}

/// Published posts, newest first: three queries whatever the page size (count, the page with
/// authors and comment counts, the page's tags).
pub async fn list(
    db: &Db,
    query: &PostQuery,
    page: PageRequest,
) -> Result<(Vec<Post>, Pagination), AppError> {
    let mut params = Params::default();
    let mut conditions = vec!["p.published = TRUE".to_owned()];
    if let Some(tag) = &query.tag {
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id \
             WHERE pt.post_id = p.id AND t.name = {})",
            params.push(tag.clone())
        ));
    }
    if let Some(author) = query.author {
        conditions.push(format!("p.author_id = {}", params.push(author)));
    }
    let condition = conditions.join(" AND ");
    // The page takes the filter's values, then its own.
    let mut page_params = params.clone();
    let total: i64 = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            &format!("SELECT COUNT(*) FROM posts p WHERE {condition}"),
            params.into_values(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("a count returns a row"))?
        .try_get_by_index(0)?;

    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {condition} \
         ORDER BY p.published_at DESC, p.id DESC {}",
        page_params.page(page),
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, page_params.into_values()))
        .await?;
    let posts = with_tags(db.read(), &rows).await?;
    Ok((
        posts,
        Pagination::new(page, u64::try_from(total).unwrap_or(0)),
    ))
}

/// Creates the post with the first free slug — the title's, then `-2`, `-3` … — and its tags.
///
/// A slug is claimed with `INSERT … ON CONFLICT (slug) DO NOTHING`: of concurrent posts with
/// one title, the database lets exactly one have each slug, and the others try the next.
pub async fn create(db: &Db, actor: &Actor, post: NewPost) -> Result<Post, AppError> {
    let id = PostId::generate();
    let now = db::now();
    let published_at = post.published.then_some(now);
    let txn = db.begin_write().await?;
    let mut candidate = post.slug.clone();
    let mut claimed = false;
    for _ in 0..SLUG_ATTEMPTS {
        let inserted = txn
            .execute_raw(db::sql(
                &txn,
                "INSERT INTO posts (id, slug, title, content, published, published_at, \
                   author_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (slug) DO NOTHING",
                [
                    id.into(),
                    candidate.as_str().into(),
                    post.title.as_str().into(),
                    post.content.as_str().into(),
                    post.published.into(),
                    published_at.into(),
                    actor.id.into(),
                    Value::from(now),
                ],
            ))
            .await?;
        if inserted.rows_affected() == 1 {
            claimed = true;
            break;
        }
        candidate = next_free_slug(&txn, &post.slug).await?;
    }
    if !claimed {
        return Err(AppError::Conflict(
            "Too many posts share this title; choose another".into(),
        ));
    }
    set_tags(&txn, id, &post.tags).await?;
    let created = find(&txn, candidate.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the post just written is missing"))?;
    if created.published {
        published(&txn, &created).await?;
    }
    txn.commit().await?;
    if created.published {
        db.wake().outbox();
    }
    Ok(created)
}

/// `post.published`, in the transaction that publishes.
async fn published(txn: &impl ConnectionTrait, post: &Post) -> Result<(), AppError> {
    outbox::append(
        txn,
        DomainEvent::PostPublished {
            post_id: post.id,
            slug: post.slug.clone(),
            author_id: post.author.id,
        },
    )
    .await?;
    Ok(())
}

/// The base slug with the lowest free number from 2: `base-2` after `base`.
async fn next_free_slug(db: &impl ConnectionTrait, base: &Slug) -> Result<Slug, AppError> {
    // Slugs hold only [a-z0-9-], so the base needs no escaping in the pattern.
    let rows = db
        .query_all_raw(db::sql(
            db,
            "SELECT slug FROM posts WHERE slug LIKE $1",
            [format!("{base}-%").into()],
        ))
        .await?;
    let prefix = format!("{base}-");
    let taken: BTreeSet<u32> = rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .filter_map(|slug| slug.strip_prefix(&prefix)?.parse::<u32>().ok())
        .collect();
    let free = (2..).find(|n| !taken.contains(n)).unwrap_or(u32::MAX);
    Ok(base.numbered(free))
}

/// Replaces the post's tags, creating tags that do not exist yet.
async fn set_tags(
    db: &impl ConnectionTrait,
    post: PostId,
    names: &BTreeSet<String>,
) -> Result<(), AppError> {
    db.execute_raw(db::sql(
        db,
        "DELETE FROM post_tags WHERE post_id = $1",
        [post.into()],
    ))
    .await?;
    if names.is_empty() {
        return Ok(());
    }
    let mut params = Params::default();
    let rows: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "({}, {})",
                params.push(TagId::generate()),
                params.push(name.clone())
            )
        })
        .collect();
    db.execute_raw(db::sql(
        db,
        &format!(
            "INSERT INTO tags (id, name) VALUES {} ON CONFLICT (name) DO NOTHING",
            rows.join(", ")
        ),
        params.into_values(),
    ))
    .await?;
    let mut params = Params::default();
    let post_param = params.push(post);
    let names: Vec<String> = names.iter().map(|name| params.push(name.clone())).collect();
    db.execute_raw(db::sql(
        db,
        &format!(
            "INSERT INTO post_tags (post_id, tag_id) SELECT {post_param}, id FROM tags \
             WHERE name IN ({})",
            names.join(", ")
        ),
        params.into_values(),
    ))
    .await?;
    Ok(())
}

/// The post if the actor may see it, and may also change it (`may`), else 404 or 403.
async fn find_for_change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    slug: &str,
    may: impl FnOnce(&Post) -> bool,
) -> Result<Post, AppError> {
    let post = find_visible(db, Some(actor), slug).await?;
    if !may(&post) {
        return Err(AppError::Forbidden);
    }
    Ok(post)
}

/// The author or an admin changes a post. Publishing sets `publishedAt` the first time only;
/// the slug stays, so links keep working.
pub async fn update(
    db: &Db,
    actor: &Actor,
    slug: &str,
    update: PostUpdate,
) -> Result<Post, AppError> {
    let txn = db.begin_write().await?;
    let post = find_for_change(&txn, actor, slug, |post| {
        actor.owns_or_admin(post.author.id)
    })
    .await?;
    let now = db::now();
    let mut params = Params::default();
    let mut sets = vec![format!("updated_at = {}", params.push(now))];
    if let Some(title) = update.title {
        sets.push(format!("title = {}", params.push(title)));
    }
    if let Some(content) = update.content {
        sets.push(format!("content = {}", params.push(content)));
    }
    if let Some(published) = update.published {
        sets.push(format!("published = {}", params.push(published)));
        if published && post.published_at.is_none() {
            sets.push(format!("published_at = {}", params.push(now)));
        }
    }
    let sql = format!(
        "UPDATE posts SET {} WHERE id = {}",
        sets.join(", "),
        params.push(post.id)
    );
    txn.execute_raw(db::sql(&txn, &sql, params.into_values()))
        .await?;
    if let Some(tags) = &update.tags {
        set_tags(&txn, post.id, tags).await?;
    }
    let updated = find(&txn, slug).await?.ok_or(AppError::NotFound("Post"))?;
    // Each move from draft to published is an event, a re-publish included.
    let now_published = updated.published && !post.published;
    if now_published {
        published(&txn, &updated).await?;
    }
    txn.commit().await?;
    if now_published {
        db.wake().outbox();
    }
    Ok(updated)
}

/// The author, a moderator or an admin deletes a post; its comments and tag links go with it.
pub async fn delete(db: &Db, actor: &Actor, slug: &str) -> Result<(), AppError> {
    let txn = db.begin_write().await?;
    let post = find_for_change(&txn, actor, slug, |post| {
        actor.id == post.author.id || actor.is_staff()
    })
    .await?;
    txn.execute_raw(db::sql(
        &txn,
        "DELETE FROM posts WHERE id = $1",
        [post.id.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Tags with their number of published posts, most used first. Tags used only by drafts are
/// left out, so a draft's tags do not leak.
pub async fn tag_counts(db: &Db) -> Result<Vec<TagCount>, AppError> {
    let rows = db
        .read()
        .query_all_raw(db::sql(
            db.read(),
            "SELECT t.name, COUNT(*) AS post_count FROM tags t \
             JOIN post_tags pt ON pt.tag_id = t.id JOIN posts p ON p.id = pt.post_id \
             WHERE p.published GROUP BY t.name ORDER BY post_count DESC, t.name",
            [],
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(TagCount {
                name: row.try_get("", "name")?,
                post_count: u64::try_from(row.try_get::<i64>("", "post_count")?).unwrap_or(0),
            })
        })
        .collect::<Result<_, DbErr>>()?)
}
