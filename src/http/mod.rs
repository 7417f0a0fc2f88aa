//! The REST adapter. Each resource module contributes `routes()`; this module merges them into
//! one `OpenApiRouter`, so the OpenAPI document is generated from the same code that routes.

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

use crate::app::AppState;

/// Every documented route, and the OpenAPI document generated from them.
pub fn api() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = routes().split_for_parts();
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
}

/// The OpenAPI document, as served at `/api-docs/openapi.json` and printed by `openapi`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}
