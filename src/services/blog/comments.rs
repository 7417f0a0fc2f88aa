//! Comments on posts the caller can see. Authors edit their own; authors, moderators and
//! admins delete — moderators may remove others' comments but never put words in their mouth.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde::Serialize;
use utoipa::ToSchema;

use super::can_see;
use super::posts::find_visible;
use crate::db::{self, Db, Params};
use crate::domain::{
    Actor, CommentId, Input, Invalid, Lines, PageRequest, Pagination, PostId, UserId, Validation,
    text,
};
use crate::error::AppError;
use crate::services::users::Author;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: CommentId,
    pub post_id: PostId,
    pub content: String,
    pub author: Author,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CONTENT_MAX_CHARS: usize = 10_000;

/// A comment's text: 1 to 10,000 characters; may span lines.
pub fn content(raw: &str) -> Result<String, Invalid> {
    text(raw, CONTENT_MAX_CHARS, Lines::Multi)
}

/// The `content` of a new or edited comment, as sent.
pub fn parse(content: Input<&str>) -> Result<String, AppError> {
    let mut v = Validation::default();
    let content = v.required("content", content, self::content);
    Ok(v.finish(content)?)
}

const SELECT: &str = "SELECT c.id, c.post_id, c.content, c.author_id, u.name AS author_name, \
    c.created_at, c.updated_at FROM comments c JOIN users u ON u.id = c.author_id";

fn from_row(row: &QueryResult) -> Result<Comment, DbErr> {
    Ok(Comment {
        id: row.try_get("", "id")?,
        post_id: row.try_get("", "post_id")?,
        content: row.try_get("", "content")?,
        author: Author::from_row(row, "author_id")?,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

async fn by_id(db: &impl ConnectionTrait, id: CommentId) -> Result<Option<Comment>, AppError> {
    let row = db
        .query_one_raw(db::sql(
            db,
            &format!("{SELECT} WHERE c.id = $1"),
            [id.into()],
        ))
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A post's comments, oldest first (a conversation reads top down).
pub async fn list(
    db: &Db,
    actor: Option<&Actor>,
    slug: &str,
    page: PageRequest,
) -> Result<(Vec<Comment>, Pagination), AppError> {
    let post = find_visible(db.read(), actor, slug).await?;
    let mut params = Params::default();
    let sql = format!(
        "{SELECT} WHERE c.post_id = {} ORDER BY c.created_at, c.id {}",
        params.push(post.id),
        params.page(page)
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, params.into_values()))
        .await?;
    let comments = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((comments, Pagination::new(page, post.comment_count)))
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    slug: &str,
    content: String,
) -> Result<Comment, AppError> {
    let txn = db.begin_write().await?;
    let post = find_visible(&txn, Some(actor), slug).await?;
    let id = CommentId::generate();
    let now = db::now();
    txn.execute_raw(db::sql(
        &txn,
        "INSERT INTO comments (id, post_id, author_id, content, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
        [
            id.into(),
            post.id.into(),
            actor.id.into(),
            content.into(),
            Value::from(now),
        ],
    ))
    .await?;
    let comment = by_id(&txn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the comment just written is missing"))?;
    txn.commit().await?;
    Ok(comment)
}

/// The comment, if it is on a post the actor can see; otherwise it does not exist.
async fn find_visible_comment(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: CommentId,
) -> Result<Comment, AppError> {
    let comment = by_id(db, id).await?.ok_or(AppError::NotFound("Comment"))?;
    let post = db
        .query_one_raw(db::sql(
            db,
            "SELECT author_id, published FROM posts WHERE id = $1",
            [comment.post_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("Comment"))?;
    let author: UserId = post.try_get("", "author_id")?;
    let published: bool = post.try_get("", "published")?;
    if !can_see(Some(actor), author, published) {
        return Err(AppError::NotFound("Comment"));
    }
    Ok(comment)
}

/// Only the comment's author may change its text.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: CommentId,
    content: String,
) -> Result<Comment, AppError> {
    let txn = db.begin_write().await?;
    let comment = find_visible_comment(&txn, actor, id).await?;
    if comment.author.id != actor.id {
        return Err(AppError::Forbidden);
    }
    txn.execute_raw(db::sql(
        &txn,
        "UPDATE comments SET content = $1, updated_at = $2 WHERE id = $3",
        [content.into(), Value::from(db::now()), id.into()],
    ))
    .await?;
    let comment = by_id(&txn, id)
        .await?
        .ok_or(AppError::NotFound("Comment"))?;
    txn.commit().await?;
    Ok(comment)
}

/// The author, a moderator or an admin removes a comment.
pub async fn delete(db: &Db, actor: &Actor, id: CommentId) -> Result<(), AppError> {
    let txn = db.begin_write().await?;
    let comment = find_visible_comment(&txn, actor, id).await?;
    if comment.author.id != actor.id && !actor.is_staff() {
        return Err(AppError::Forbidden);
    }
    txn.execute_raw(db::sql(
        &txn,
        "DELETE FROM comments WHERE id = $1",
        [id.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The first `per_post` comments of each of these posts, oldest first, in one statement
/// whatever their number. The caller has already decided the actor may see these posts.
pub async fn first_for(
    db: &Db,
    posts: &[PostId],
    per_post: u64,
) -> Result<std::collections::HashMap<PostId, Vec<Comment>>, AppError> {
    let mut by_post = std::collections::HashMap::new();
    if posts.is_empty() {
        return Ok(by_post);
    }
    let mut params = Params::default();
    let ids: Vec<String> = posts.iter().map(|id| params.push(*id)).collect();
    let sql = format!(
        "SELECT * FROM (SELECT c.id, c.post_id, c.content, c.author_id, u.name AS author_name, \
           c.created_at, c.updated_at, ROW_NUMBER() OVER \
           (PARTITION BY c.post_id ORDER BY c.created_at, c.id) AS position \
         FROM comments c JOIN users u ON u.id = c.author_id WHERE c.post_id IN ({})) ranked \
         WHERE position <= {} ORDER BY post_id, position",
        ids.join(", "),
        params.push(i64::try_from(per_post).unwrap_or(i64::MAX)),
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, params.into_values()))
        .await?;
    for row in &rows {
        let comment = from_row(row)?;
        by_post
            .entry(comment.post_id)
            .or_insert_with(Vec::new)
            .push(comment);
    }
    Ok(by_post)
}
