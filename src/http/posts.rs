//! `/api/v1/posts`, `/api/v1/comments` and `/api/v1/tags`: the blog.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::domain::{CommentId, DEFAULT_LIMIT, PageRequest, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Created, Data, Message, Paginated};
use crate::http::extract::{AuthUser, Json, Path, Query};
use crate::services::blog::comments::{self, Comment};
use crate::services::blog::posts::{self, NewPost, Post, PostQuery, PostUpdate, TagCount};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(edit_comment, delete_comment))
        .routes(routes!(tags))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostListQuery {
    /// A tag name.
    pub tag: Option<String>,
    /// An author's user id.
    pub author: Option<String>,
    /// From 1.
    pub page: Option<String>,
    /// 1 to 100; default 10.
    pub limit: Option<String>,
}

fn page(v: &mut Validation, page: Option<&str>, limit: Option<&str>) -> Option<PageRequest> {
    PageRequest::parse(v, page, limit, DEFAULT_LIMIT)
}

/// Published posts, newest first, with their author, tags and comment count.
#[utoipa::path(get, path = "/api/v1/posts", tag = "blog",
    params(PostListQuery),
    responses((status = 200, description = "A page of posts", body = Paginated<Post>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<PostListQuery>,
) -> Result<Paginated<Post>, AppError> {
    let mut v = Validation::default();
    let filters = PostQuery::parse(&mut v, query.tag.as_deref(), query.author.as_deref());
    let page = page(&mut v, query.page.as_deref(), query.limit.as_deref());
    let (Some(filters), Some(page)) = (filters, page) else {
        return Err(v.into());
    };
    let (posts, pagination) = posts::list(&state.db, &filters, page).await?;
    Ok(Paginated::new(posts, pagination))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPostRequest {
    /// 1 to 200 characters; the slug is made from it.
    #[schema(example = "How we pick running shoes")]
    pub title: String,
    /// 1 to 100,000 characters.
    pub content: String,
    /// Up to 10 tag names (stored lower-case); new tags are created.
    pub tags: Option<Vec<String>>,
    /// Default `false`: a draft only its author, moderators and admins can see.
    pub published: Option<bool>,
}

/// Write a post.
///
/// The slug is made from the title (folded to ASCII, lower-case, hyphenated) and is unique:
/// `-2`, `-3` … are appended on collision, also for concurrent posts of one title.
#[utoipa::path(post, path = "/api/v1/posts", tag = "blog",
    security(("bearerAuth" = [])),
    request_body = NewPostRequest,
    responses((status = 201, description = "Created", body = Data<Post>)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Json(body): Json<NewPostRequest>,
) -> Result<Created<Post>, AppError> {
    let post = NewPost::parse(
        &body.title,
        &body.content,
        body.tags.as_deref(),
        body.published,
    )?;
    Ok(Data::new(posts::create(&state.db, &actor, post).await?).created())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PostPath {
    pub slug: String,
}

/// A post. Drafts exist only for their author, moderators and admins.
#[utoipa::path(get, path = "/api/v1/posts/{slug}", tag = "blog",
    security((), ("bearerAuth" = [])),
    params(PostPath),
    responses(
        (status = 200, description = "The post", body = Data<Post>),
        (status = 404, description = "No such post, or a draft you may not see",
         body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    actor: Option<AuthUser>,
    Path(path): Path<PostPath>,
) -> Result<Data<Post>, AppError> {
    let actor = actor.map(|AuthUser(actor)| actor);
    Ok(Data::new(
        posts::get(&state.db, actor.as_ref(), &path.slug).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PostUpdateRequest {
    /// The slug stays as it was, so links keep working.
    pub title: Option<String>,
    pub content: Option<String>,
    /// Replaces every tag of the post.
    pub tags: Option<Vec<String>>,
    /// Publishing sets `publishedAt` the first time; unpublishing makes it a draft again.
    pub published: Option<bool>,
}

/// Change a post (its author or an admin).
#[utoipa::path(patch, path = "/api/v1/posts/{slug}", tag = "blog",
    security(("bearerAuth" = [])),
    params(PostPath),
    request_body = PostUpdateRequest,
    responses(
        (status = 200, description = "The changed post", body = Data<Post>),
        (status = 403, description = "Not the author or an admin", body = ErrorEnvelope),
        (status = 404, description = "No such post, or a draft you may not see",
         body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<PostPath>,
    Json(body): Json<PostUpdateRequest>,
) -> Result<Data<Post>, AppError> {
    let update = PostUpdate::parse(
        body.title.as_deref(),
        body.content.as_deref(),
        body.tags.as_deref(),
        body.published,
    )?;
    Ok(Data::new(
        posts::update(&state.db, &actor, &path.slug, update).await?,
    ))
}

/// Delete a post (its author, a moderator or an admin), with its comments and tag links.
#[utoipa::path(delete, path = "/api/v1/posts/{slug}", tag = "blog",
    security(("bearerAuth" = [])),
    params(PostPath),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 403, description = "Not the author, a moderator or an admin",
         body = ErrorEnvelope),
        (status = 404, description = "No such post, or a draft you may not see",
         body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<PostPath>,
) -> Result<Message, AppError> {
    posts::delete(&state.db, &actor, &path.slug).await?;
    Ok(Message::new("Post deleted"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentListQuery {
    /// From 1.
    pub page: Option<String>,
    /// 1 to 100; default 10.
    pub limit: Option<String>,
}

/// A post's comments, oldest first.
#[utoipa::path(get, path = "/api/v1/posts/{slug}/comments", tag = "blog",
    security((), ("bearerAuth" = [])),
    params(PostPath, CommentListQuery),
    responses(
        (status = 200, description = "A page of comments", body = Paginated<Comment>),
        (status = 404, description = "No such post, or a draft you may not see",
         body = ErrorEnvelope),
    ))]
pub async fn list_comments(
    State(state): State<AppState>,
    actor: Option<AuthUser>,
    Path(path): Path<PostPath>,
    Query(query): Query<CommentListQuery>,
) -> Result<Paginated<Comment>, AppError> {
    let mut v = Validation::default();
    let Some(page) = page(&mut v, query.page.as_deref(), query.limit.as_deref()) else {
        return Err(v.into());
    };
    let actor = actor.map(|AuthUser(actor)| actor);
    let (comments, pagination) =
        comments::list(&state.db, actor.as_ref(), &path.slug, page).await?;
    Ok(Paginated::new(comments, pagination))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentRequest {
    /// 1 to 10,000 characters.
    pub content: String,
}

fn parse_content(body: &CommentRequest) -> Result<String, AppError> {
    let mut v = Validation::default();
    v.field("content", comments::content(&body.content))
        .ok_or_else(|| v.into())
}

/// Comment on a post you can see.
#[utoipa::path(post, path = "/api/v1/posts/{slug}/comments", tag = "blog",
    security(("bearerAuth" = [])),
    params(PostPath),
    request_body = CommentRequest,
    responses(
        (status = 201, description = "Created", body = Data<Comment>),
        (status = 404, description = "No such post, or a draft you may not see",
         body = ErrorEnvelope),
    ))]
pub async fn add_comment(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<PostPath>,
    Json(body): Json<CommentRequest>,
) -> Result<Created<Comment>, AppError> {
    let content = parse_content(&body)?;
    let comment = comments::create(&state.db, &actor, &path.slug, content).await?;
    Ok(Data::new(comment).created())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentPath {
    #[param(value_type = String, format = Uuid)]
    pub id: CommentId,
}

/// Edit a comment (its author only; moderators may delete but not edit).
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "blog",
    security(("bearerAuth" = [])),
    params(CommentPath),
    request_body = CommentRequest,
    responses(
        (status = 200, description = "The edited comment", body = Data<Comment>),
        (status = 403, description = "Not the author", body = ErrorEnvelope),
        (status = 404, description = "No such comment", body = ErrorEnvelope),
    ))]
pub async fn edit_comment(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<CommentPath>,
    Json(body): Json<CommentRequest>,
) -> Result<Data<Comment>, AppError> {
    let content = parse_content(&body)?;
    Ok(Data::new(
        comments::update(&state.db, &actor, path.id, content).await?,
    ))
}

/// Delete a comment (its author, a moderator or an admin).
#[utoipa::path(delete, path = "/api/v1/comments/{id}", tag = "blog",
    security(("bearerAuth" = [])),
    params(CommentPath),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 403, description = "Not the author, a moderator or an admin",
         body = ErrorEnvelope),
        (status = 404, description = "No such comment", body = ErrorEnvelope),
    ))]
pub async fn delete_comment(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<CommentPath>,
) -> Result<Message, AppError> {
    comments::delete(&state.db, &actor, path.id).await?;
    Ok(Message::new("Comment deleted"))
}

/// Tags with their number of published posts, most used first.
#[utoipa::path(get, path = "/api/v1/tags", tag = "blog",
    responses((status = 200, description = "The tags in use", body = Data<Vec<TagCount>>)))]
pub async fn tags(State(state): State<AppState>) -> Result<Data<Vec<TagCount>>, AppError> {
    Ok(Data::new(posts::tag_counts(&state.db).await?))
}
