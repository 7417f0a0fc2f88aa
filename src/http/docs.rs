//! The OpenAPI document's frame (info, shared schemas, the bearer scheme) and Swagger UI,
//! whose assets are compiled into the binary so `/docs` works without internet.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ErrorCode, ErrorEnvelope, FieldError};

pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ecommerce-api",
        description = "Online shop and blog backend. Successful responses are \
            `{\"success\": true, \"data\": …}`; errors are the `ErrorEnvelope` with a code from \
            `ErrorCode`. Every response carries `X-Request-Id`; `/api/*` responses carry \
            `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy` \
            when limiting is on, and a 429 carries `Retry-After`. A request that takes longer \
            than 30 seconds is answered 503 `UNAVAILABLE`."
    ),
    components(schemas(ErrorEnvelope, ErrorCode, FieldError)),
    modifiers(&BearerAuth),
    tags((name = "operations", description = "Health, readiness and metrics"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearerAuth",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some("An access token from `POST /api/v1/auth/login`"))
                        .build(),
                ),
            );
    }
}

/// `/docs` (Swagger UI) and the document it reads.
pub fn swagger_ui<S: Clone + Send + Sync + 'static>(
    openapi: utoipa::openapi::OpenApi,
) -> Router<S> {
    SwaggerUi::new("/docs").url(OPENAPI_PATH, openapi).into()
}
