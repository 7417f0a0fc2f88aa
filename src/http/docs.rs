//! The OpenAPI document's frame (info, shared schemas, the bearer scheme) and Swagger UI,
//! whose assets are compiled into the binary so `/docs` works without internet.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
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
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "auth", description = "Registration, login and sessions"),
        (name = "users", description = "The caller's account, and account administration"),
        (name = "catalog", description = "Categories, products, search and reviews"),
        (name = "orders", description = "Placing orders, their lifecycle and history"),
        (name = "blog", description = "Posts, comments and tags"),
    )
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

/// The errors any `/api` route can answer, declared once here instead of on every route, then
/// referenced from each operation they apply to: 400 where there is input, 413 and 415 where
/// there is a body, 401 where a token is required, 429 and 500 everywhere.
pub struct CommonResponses;

const COMMON_RESPONSES: &[(&str, &str, &str)] = &[
    (
        "400",
        "ValidationError",
        "`VALIDATION_ERROR`: malformed JSON, wrong types or failing rules; `details` names \
         every failing field",
    ),
    (
        "401",
        "Unauthorized",
        "`UNAUTHORIZED`: the access token is missing, malformed, tampered with or expired",
    ),
    (
        "413",
        "PayloadTooLarge",
        "`PAYLOAD_TOO_LARGE`: the body is over 10 MB",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`",
    ),
    (
        "429",
        "RateLimited",
        "`RATE_LIMITED`: this client's request budget is spent; see `Retry-After`",
    ),
    (
        "500",
        "InternalError",
        "`INTERNAL_ERROR`: the message is always `Internal server error`",
    ),
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_default();
        for (_, name, description) in COMMON_RESPONSES {
            components.responses.insert(
                (*name).to_owned(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/json",
                            Content::new(Some(Ref::from_schema_name("ErrorEnvelope"))),
                        )
                        .build(),
                ),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_common_responses(operation);
            }
        }
    }
}

fn add_common_responses(operation: &mut Operation) {
    let has_body = operation.request_body.is_some();
    let has_input = has_body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    for (status, name, _) in COMMON_RESPONSES {
        let applies = match *status {
            "400" => has_input,
            "401" => secured,
            "413" | "415" => has_body,
            _ => true,
        };
        if applies {
            operation
                .responses
                .responses
                .entry((*status).to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
        }
    }
}

/// `/docs` (Swagger UI) and the document it reads.
pub fn swagger_ui<S: Clone + Send + Sync + 'static>(
    openapi: utoipa::openapi::OpenApi,
) -> Router<S> {
    SwaggerUi::new("/docs").url(OPENAPI_PATH, openapi).into()
}
