//! The REST adapter. Each resource module contributes `routes()`; this module merges them into
//! one `OpenApiRouter`, so the OpenAPI document is generated from the same code that routes.

pub mod docs;
pub mod extract;
pub mod middleware;
pub mod system;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Every documented route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .routes(routes!(system::metrics))
}

/// The OpenAPI document, as served at `/api-docs/openapi.json` and printed by `openapi`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}
