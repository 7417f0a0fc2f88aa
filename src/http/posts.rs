//! `/api/v1/posts`, `/api/v1/comments` and `/api/v1/tags`: the blog.

use axum::extract::{DefaultBodyLimit, State};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{CommentId, DEFAULT_LIMIT, PageRequest, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::body_limits;
use crate::http::envelope::{Created, Data, Message, Paginated};
use crate::http::extract::{AuthUser, Json, Path, Query};
use crate::http::field::{Field, list_of};
use crate::services::blog::comments::{self, Comment};
use crate::services::blog::posts::{self, NewPost, Post, PostQuery, PostUpdate, TagCount};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(edit_comment, delete_comment))
        .routes(routes!(tags))
        .layer(DefaultBodyLimit::max(body_limits::BLOG))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostListQuery {
    /// A tag name.
    #[param(max_length = 50)]
    pub tag: Option<String>,
    /// An author's user id.
    #[param(value_type = Option<String>, format = Uuid)]
    pub author: Option<String>,
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    /// 1 to 100; default 10.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

fn page(v: &mut Validation, page: Option<&str>, limit: Option<&str>) -> Option<PageRequest> {
    PageRequest::parse(v, page, limit, DEFAULT_LIMIT)
}

/// Published posts, newest first, with their author, tags and comment count.
#[utoipa::path(get, operation_id = "listPosts", path = "/api/v1/posts", tag = "blog",
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
    /// 1 to 200 characters with a letter or digit; the slug is made from it.
    #[schema(value_type = String, example = "How we pick running shoes", min_length = 1, max_length = 200)]
    pub title: Field<String>,
    /// 1 to 100,000 characters; may span lines.
    #[schema(value_type = String, min_length = 1, max_length = 100000)]
    pub content: Field<String>,
    /// Up to 10 tag names of 1 to 50 characters (counted after lower-casing, as stored); new
    /// tags are created.
    #[schema(value_type = Option<Vec<TagName>>, max_items = 10)]
    pub tags: Field<Vec<Field<String>>>,
    /// Default `false`: a draft only its author, moderators and admins can see.
    #[schema(value_type = Option<bool>)]
    pub published: Field<bool>,
}

/// A tag name in a request: 1 to 50 characters, counted after lower-casing.
pub struct TagName;

impl utoipa::PartialSchema for TagName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(50))
            .description(Some("Counted after lower-casing, as it is stored"))
            .into()
    }
}

impl ToSchema for TagName {}

/// Write a post.
///
/// The slug is made from the title (folded to ASCII, lower-case, hyphenated) and is unique:
/// `-2`, `-3` … are appended on collision, also for concurrent posts of one title.
#[utoipa::path(post, operation_id = "createPost", path = "/api/v1/posts", tag = "blog",
    security(("bearerAuth" = [])),
    request_body = NewPostRequest,
    responses((status = 201, description = "Created", body = Data<Post>)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Json(body): Json<NewPostRequest>,
) -> Result<Created<Post>, AppError> {
    let post = NewPost::parse(
        body.title.as_deref().input(),
        body.content.as_deref().input(),
        list_of(&body.tags, String::as_str),
        body.published.input(),
    )?;
    Ok(Data::new(posts::create(&state.db, &actor, post).await?).created())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PostPath {
    /// Lower-case letters, digits and hyphens; anything else names no post (404).
    #[param(pattern = "^[a-z0-9-]{1,112}$")]
    pub slug: String,
}

/// A post. Drafts exist only for their author, moderators and admins.
#[utoipa::path(get, operation_id = "getPost", path = "/api/v1/posts/{slug}", tag = "blog",
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
    /// 1 to 200 characters. The slug stays as it was, so links keep working.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub title: Field<String>,
    /// 1 to 100,000 characters; may span lines.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100000)]
    pub content: Field<String>,
    /// Replaces every tag of the post.
    #[serde(default)]
    #[schema(value_type = Option<Vec<TagName>>, max_items = 10)]
    pub tags: Field<Vec<Field<String>>>,
    /// Publishing sets `publishedAt` the first time; unpublishing makes it a draft again.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub published: Field<bool>,
}

/// Change a post (its author or an admin).
#[utoipa::path(patch, operation_id = "updatePost", path = "/api/v1/posts/{slug}", tag = "blog",
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
        body.title.as_deref().input(),
        body.content.as_deref().input(),
        list_of(&body.tags, String::as_str),
        body.published.input(),
    )?;
    Ok(Data::new(
        posts::update(&state.db, &actor, &path.slug, update).await?,
    ))
}

/// Delete a post (its author, a moderator or an admin), with its comments and tag links.
#[utoipa::path(delete, operation_id = "deletePost", path = "/api/v1/posts/{slug}", tag = "blog",
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
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    /// 1 to 100; default 10.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// A post's comments, oldest first.
#[utoipa::path(get, operation_id = "listComments", path = "/api/v1/posts/{slug}/comments", tag = "blog",
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
    /// 1 to 10,000 characters; may span lines.
    #[schema(value_type = String, min_length = 1, max_length = 10000)]
    pub content: Field<String>,
}

fn parse_content(body: &CommentRequest) -> Result<String, AppError> {
    comments::parse(body.content.as_deref().input())
}

/// Comment on a post you can see.
#[utoipa::path(post, operation_id = "addComment", path = "/api/v1/posts/{slug}/comments", tag = "blog",
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
#[utoipa::path(patch, operation_id = "updateComment", path = "/api/v1/comments/{id}", tag = "blog",
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
#[utoipa::path(delete, operation_id = "deleteComment", path = "/api/v1/comments/{id}", tag = "blog",
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
#[utoipa::path(get, operation_id = "listTags", path = "/api/v1/tags", tag = "blog",
    responses((status = 200, description = "The tags in use", body = Data<Vec<TagCount>>)))]
pub async fn tags(State(state): State<AppState>) -> Result<Data<Vec<TagCount>>, AppError> {
    Ok(Data::new(posts::tag_counts(&state.db).await?))
}
