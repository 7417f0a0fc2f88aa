//! The REST adapter. Each resource module contributes `routes()`; this module merges them into
//! one `OpenApiRouter`, so the OpenAPI document is generated from the same code that routes.

pub mod admin;
pub mod auth;
pub mod categories;
pub mod docs;
pub mod envelope;
pub mod extract;
pub mod field;
pub mod middleware;
pub mod orders;
pub mod posts;
pub mod products;
pub mod system;
pub mod users;

use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Request-body limits, per group of routes: what each needs, so no route parses megabytes
/// it would then refuse by its own caps (API.md §2 allows 10 MB; none of ours needs it).
pub mod body_limits {
    /// Credentials and tokens.
    pub const AUTH: usize = 16 * 1024;
    /// Everything not listed: profiles, categories, orders (100 lines), reviews.
    pub const DEFAULT: usize = 64 * 1024;
    /// Products: a 10,000-character description, or a batch of 1,000 prices.
    pub const CATALOG: usize = 256 * 1024;
    /// Posts: 100,000 characters of content, which JSON escapes may grow sixfold.
    pub const BLOG: usize = 1024 * 1024;
    /// GraphQL: `createPost` takes what `POST /posts` takes.
    pub const GRAPHQL: usize = BLOG;

    /// The limit of the routes under `path`, for the OpenAPI document.
    pub fn for_path(path: &str) -> usize {
        if path.starts_with("/api/v1/auth/") {
            AUTH
        } else if path.starts_with("/api/v1/products") {
            CATALOG
        } else if path.starts_with("/api/v1/posts") || path.starts_with("/api/v1/comments") {
            BLOG
        } else if path == "/graphql" {
            GRAPHQL
        } else {
            DEFAULT
        }
    }
}

/// Every REST route, and the OpenAPI document generated from them together with `others`,
/// the description of routes other adapters serve (GraphQL), so one set of rules describes all.
pub fn api(others: utoipa::openapi::OpenApi) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = routes().split_for_parts();
    openapi.merge(others);
    docs::CommonResponses.modify(&mut openapi);
    docs::TextRules.modify(&mut openapi);
    (router, openapi)
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .routes(routes!(system::metrics))
        .merge(auth::routes())
        .merge(users::routes())
        .merge(categories::routes())
        .merge(products::routes())
        .merge(orders::routes())
        .merge(posts::routes())
        .merge(admin::routes())
}
