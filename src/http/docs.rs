//! The OpenAPI document's frame (info, shared schemas, the bearer scheme) and Swagger UI,
//! whose assets are compiled into the binary so `/docs` works without internet.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{Object, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::domain::{Lines, text_pattern};
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
            than 30 seconds is answered 503 `UNAVAILABLE`. Text fields refuse control \
            characters (multi-line fields allow tab and line feed) and bidirectional controls; \
            each field's `pattern` says which. `details` of a 400 name every failing field. \
            Bodies have per-route limits (see each 413); a request target over 8 KiB is a 414 \
            and more than 100 header fields or 32 KiB of headers a 431, with this envelope. \
            Bodies over 1 KiB are gzip-compressed when the request accepts gzip; smaller ones \
            are sent as they are, since compressing them costs more than it saves."
    ),
    components(schemas(ErrorEnvelope, ErrorCode, FieldError, crate::http::field::MoneyText)),
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
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "metricsToken",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "`METRICS_TOKEN`, required by `GET /metrics` when it is set",
                        ))
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
        "404",
        "NotFound",
        "`NOT_FOUND`: nothing with this id (also one that does not parse as an id), or it \
         belongs to someone else",
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
            if !path.starts_with("/api/") && path != "/graphql" {
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
                add_common_responses(path, operation);
            }
        }
    }
}

fn add_common_responses(path: &str, operation: &mut Operation) {
    let has_body = operation.request_body.is_some();
    let has_input = has_body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_path_parameter = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
    });
    for (status, name, _) in COMMON_RESPONSES {
        let applies = match *status {
            "400" => has_input,
            // GraphQL reports a bad token as a GraphQL error, with 200.
            "401" => secured && path != "/graphql",
            "404" => has_path_parameter,
            "415" => has_body,
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
    if has_body {
        let limit = crate::http::body_limits::for_path(path) / 1024;
        operation.responses.responses.insert(
            "413".to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(format!(
                        "`PAYLOAD_TOO_LARGE`: the body is over {limit} KiB, this route's limit"
                    ))
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorEnvelope"))),
                    )
                    .build(),
            ),
        );
    }
}

/// Puts the character rule of `domain::text` into the document, the one mechanism that
/// applies it: every string a client sends as text (a request-body property or a query
/// parameter with no format, enum or pattern of its own) gets the pattern of its kind, with
/// "not blank" where `minLength` is at least 1. Secrets are hashed, never stored as text, and
/// keep no pattern.
pub struct TextRules;

/// Request properties that may span lines; everything else is single-line.
const MULTI_LINE_PROPERTIES: &[&str] = &["content", "description", "bio", "comment"];
/// Request properties and parameters that are not text: secrets, and GraphQL documents and
/// variables (which may hold any character GraphQL or JSON allows, carriage returns included;
/// their parsers judge them).
const NOT_TEXT_PROPERTIES: &[&str] = &[
    "password",
    "currentPassword",
    "newPassword",
    "refreshToken",
    "query",
    "variables",
];

impl Modify for TextRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for (name, schema) in components.schemas.iter_mut() {
                let RefOr::T(Schema::Object(object)) = schema else {
                    continue;
                };
                if name.ends_with("Request") {
                    for (property, schema) in object.properties.iter_mut() {
                        if let RefOr::T(Schema::Object(text)) = schema
                            && !NOT_TEXT_PROPERTIES.contains(&property.as_str())
                        {
                            let lines = if MULTI_LINE_PROPERTIES.contains(&property.as_str()) {
                                Lines::Multi
                            } else {
                                Lines::Single
                            };
                            add_text_pattern(text, lines);
                        }
                    }
                } else if name == "TagName" {
                    add_text_pattern(object, Lines::Single);
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if NOT_TEXT_PROPERTIES.contains(&parameter.name.as_str()) {
                        continue;
                    }
                    if let Some(RefOr::T(Schema::Object(text))) = parameter.schema.as_mut() {
                        add_text_pattern(text, Lines::Single);
                    }
                }
            }
        }
    }
}

fn add_text_pattern(object: &mut Object, lines: Lines) {
    let is_string = match &object.schema_type {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    };
    if !is_string
        || object.format.is_some()
        || object.enum_values.is_some()
        || object.pattern.is_some()
    {
        return;
    }
    let non_blank = object.min_length.is_some_and(|min| min >= 1);
    object.pattern = Some(text_pattern(lines, non_blank));
}

/// `/docs` (Swagger UI) and the document it reads.
pub fn swagger_ui<S: Clone + Send + Sync + 'static>(
    openapi: utoipa::openapi::OpenApi,
) -> Router<S> {
    SwaggerUi::new("/docs").url(OPENAPI_PATH, openapi).into()
}
