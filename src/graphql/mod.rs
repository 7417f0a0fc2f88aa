//! The GraphQL adapter, a second transport over the same services: `POST /graphql` (and `GET`
//! for queries), GraphiQL at `GET /graphql` without a query, and the SDL.
//!
//! Requests pass the same stack as REST (request id, rate limit, body limit, timeout); the
//! caller is the same `Actor` the REST extractors find. Queries deeper than 10 levels or over
//! the complexity budget (lists weighted by the size they may return) are refused before they
//! run.

mod error;
mod graphiql;
mod loaders;
mod mutation;
mod query;
mod types;

use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::OperationType;
use async_graphql::{Context, EmptySubscription, Schema};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::error::{OrGraphql, add_missing_codes, to_graphql};
use self::loaders::Loaders;
use self::mutation::Mutation;
use self::query::Query;
use crate::domain::{Actor, Validation};
use crate::error::AppError;
use crate::http::extract::{Json, actor_from_parts};
use crate::state::AppState;

pub type GraphqlSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deeper queries are refused; GraphiQL's page asks for a schema that fits (see `graphiql`).
pub const MAX_DEPTH: usize = 10;
/// The complexity budget: a field costs 1, a list its size times what each item costs.
pub const MAX_COMPLEXITY: usize = 2500;
const MAX_DIRECTIVES: usize = 10;

/// The schema, with its limits; `state` is what resolvers reach the services through.
pub fn schema(state: Option<AppState>) -> GraphqlSchema {
    let mut builder = Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL, as `ecommerce-api graphql-schema` prints it.
pub fn sdl() -> String {
    schema(None).sdl()
}

/// `/graphql` and GraphiQL's assets.
pub fn routes(state: AppState) -> Router<AppState> {
    let schema = schema(Some(state));
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/assets/{file}", get(graphiql::asset))
        .layer(DefaultBodyLimit::max(crate::http::body_limits::GRAPHQL))
        .layer(axum::Extension(schema))
}

/// The caller of this request, `None` when anonymous.
struct Viewer(Option<Actor>);

/// The caller as the token says: `Err` for a bad token, which refuses the whole request.
struct Caller(Result<Option<Actor>, AppError>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller(actor_from_parts(parts, state).await))
    }
}

fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The caller, who must be signed in.
fn actor(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
    maybe_actor(ctx).ok_or_else(|| to_graphql(&AppError::Unauthorized))
}

/// The caller, or `None` when anonymous.
fn maybe_actor(ctx: &Context<'_>) -> Option<Actor> {
    ctx.data_unchecked::<Viewer>().0
}

/// The parsed value if no field failed, else `VALIDATION_ERROR` naming every failing one.
fn checked<T>(v: Validation, value: Option<T>) -> async_graphql::Result<T> {
    v.finish(value).map_err(AppError::from).gql()
}

async fn execute(
    state: &AppState,
    schema: &GraphqlSchema,
    caller: Caller,
    request: async_graphql::Request,
) -> Response {
    // A bad or expired token is never silently anonymous, so the client learns to refresh:
    // the request is refused before it runs, as REST answers it with a 401.
    let viewer = match caller.0 {
        Ok(viewer) => viewer,
        Err(error) => {
            let refused = async_graphql::Response::from_errors(vec![
                to_graphql(&error).into_server_error(async_graphql::Pos::default()),
            ]);
            return json(StatusCode::OK, &refused);
        }
    };
    let loaders = DataLoader::new(
        Loaders {
            db: state.db.clone(),
        },
        crate::db::statements::spawn,
    )
    // Sibling fields ask for their keys in one pass of the executor, so the batch is complete
    // without waiting; the default 1 ms wait (on futures-timer's thread) only added latency.
    .delay(Duration::ZERO);
    let request = request.data(Viewer(viewer)).data(loaders);
    let response = add_missing_codes(schema.execute(request).await);
    json(StatusCode::OK, &response)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(error) => AppError::Internal(error.into()).into_response(),
    }
}

/// Execute a GraphQL operation: `{"query", "variables"?, "operationName"?}` (one operation per
/// request; batches are refused). Always 200 with `data` and/or `errors`, each error with the
/// contract's code in `extensions.code`.
#[utoipa::path(post, operation_id = "postGraphql", path = "/graphql", tag = "graphql",
    security((), ("bearerAuth" = [])),
    request_body = GraphqlRequest,
    responses((status = 200, description = "The result: `data`, and `errors` each with \
        `extensions.code` from `ErrorCode` (a bad token refuses the whole request with \
        `UNAUTHORIZED`; too deep or too complex a query is `VALIDATION_ERROR`)",
        body = GraphqlResponse)))]
async fn post_graphql(
    State(state): State<AppState>,
    axum::Extension(schema): axum::Extension<GraphqlSchema>,
    caller: Caller,
    Json(request): Json<async_graphql::Request>,
) -> Response {
    execute(&state, &schema, caller, request).await
}

/// GraphiQL without a `query` parameter; with one, that query (a mutation over GET is a 405,
/// since GET must not change anything).
#[utoipa::path(get, operation_id = "getGraphql", path = "/graphql", tag = "graphql",
    security((), ("bearerAuth" = [])),
    params(
        ("query" = Option<String>, Query, description = "A GraphQL query (not a mutation); \
            without it the answer is GraphiQL's page. The whole request target is at most 8 KiB: \
            send longer documents with POST"),
        ("variables" = Option<String>, Query, description = "The variables as a JSON object"),
        ("operationName" = Option<String>, Query, description = "Which operation of the \
            document to run"),
    ),
    responses(
        (status = 200, description = "The result, or GraphiQL's page without `query`",
         content(
            (GraphqlResponse = "application/json"),
            (String = "text/html"),
         )),
        (status = 405, description = "`METHOD_NOT_ALLOWED`: a mutation must be sent with POST",
         body = crate::error::ErrorEnvelope),
    ))]
async fn get_graphql(
    State(state): State<AppState>,
    axum::Extension(schema): axum::Extension<GraphqlSchema>,
    caller: Caller,
    uri: Uri,
) -> Response {
    let Some(query) = uri.query().filter(|query| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "query")
    }) else {
        return graphiql::page();
    };
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(request) => request,
        Err(error) => {
            return AppError::Validation(vec![crate::error::FieldError::new(
                "query",
                format!("is not a GraphQL request: {error}"),
            )])
            .into_response();
        }
    };
    if is_mutation(&request) {
        let mut response = AppError::MethodNotAllowed.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    execute(&state, &schema, caller, request).await
}

/// A GraphQL request, as GraphQL over HTTP defines it.
#[derive(utoipa::ToSchema)]
#[schema(as = GraphqlRequest)]
#[expect(dead_code, reason = "documents the body async-graphql reads")]
struct GraphqlRequest {
    /// The document; at most 10 levels deep and within the complexity budget.
    query: String,
    /// Values for the document's variables.
    variables: Option<std::collections::HashMap<String, serde_json::Value>>,
    /// Which operation of the document to run.
    #[schema(rename = "operationName")]
    operation_name: Option<String>,
}

/// A GraphQL result.
#[derive(utoipa::ToSchema)]
#[schema(as = GraphqlResponse)]
#[expect(dead_code, reason = "documents the body async-graphql writes")]
struct GraphqlResponse {
    /// What was asked for; `null` when the request was refused before it ran.
    data: Option<serde_json::Value>,
    errors: Option<Vec<GraphqlError>>,
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "documents the body async-graphql writes")]
struct GraphqlError {
    message: String,
    /// `code` (from `ErrorCode`), and for `VALIDATION_ERROR` the failing fields in `details`.
    extensions: Option<std::collections::HashMap<String, serde_json::Value>>,
    locations: Option<Vec<serde_json::Value>>,
    path: Option<Vec<serde_json::Value>>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(post_graphql, get_graphql),
    components(schemas(GraphqlRequest, GraphqlResponse, GraphqlError)),
    tags((name = "graphql", description = "The same services over GraphQL; the schema is \
        `ecommerce-api graphql-schema`, GraphiQL is `GET /graphql`")),
)]
struct Document;

/// The OpenAPI description of `/graphql`, merged into the REST document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <Document as utoipa::OpenApi>::openapi()
}

/// Whether the operation the request would run is a mutation (a document that does not parse
/// is left to the executor to refuse).
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    document
        .operations
        .iter()
        .filter(|(name, _)| match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        })
        .any(|(_, operation)| operation.node.ty == OperationType::Mutation)
}
