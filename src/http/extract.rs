//! Extractors: `Json`, `Query` and `Path` with our rejection, so malformed input answers the
//! contract's envelope instead of axum's plain-text errors; and the authentication extractors
//! `AuthUser`, `Option<AuthUser>` and `RequireRole<…>`.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::AppState;
use crate::domain::{Actor, Role};
use crate::error::{AppError, FieldError};
use crate::services::accounts;

/// A JSON body. Rejections: malformed JSON or wrong types → 400 `VALIDATION_ERROR` naming the
/// field, a non-JSON content type → 415, a body over the limit → 413.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters; a value of the wrong type is a 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// Path parameters. An id that cannot even be parsed names no resource, so it is a 404 like an
/// unknown one: clients treat ids as opaque strings.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => AppError::Validation(vec![describe(
                &e.body_text(),
                "Failed to deserialize the JSON body into the target type: ",
                "body",
            )]),
            JsonRejection::JsonSyntaxError(e) => AppError::Validation(vec![FieldError::new(
                "body",
                format!(
                    "is not valid JSON ({})",
                    strip_position(e.body_text().rsplit(": ").next().unwrap_or_default())
                ),
            )]),
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
                "Expected a request body with Content-Type: application/json".to_owned(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge
            }
            other => AppError::Validation(vec![FieldError::new("body", other.body_text())]),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::Validation(vec![describe(
            &rejection.body_text(),
            "Failed to deserialize query string: ",
            "query",
        )])
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::NotFound("Resource")
    }
}

/// The caller behind a valid access token. Missing, malformed, tampered or expired tokens, and
/// tokens of users that no longer exist, are 401.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Actor);

impl Deref for AuthUser {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.0
    }
}

/// The token of `Authorization: Bearer <token>`; `None` without the header.
fn bearer(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AppError::Unauthorized)?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(AppError::Unauthorized),
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer(parts)?.ok_or(AppError::Unauthorized)?;
        accounts::authenticate(&state.db, &state.auth, token)
            .await
            .map(AuthUser)
    }
}

/// `Option<AuthUser>`: `None` for an anonymous request, but a bad token is still a 401 rather
/// than silently anonymous, so a client learns its token expired.
impl OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        match bearer(parts)? {
            None => Ok(None),
            Some(token) => accounts::authenticate(&state.db, &state.auth, token)
                .await
                .map(|actor| Some(AuthUser(actor))),
        }
    }
}

/// A set of roles a route admits, as a type: `RequireRole<Admin>`.
pub trait Roles: Send + Sync {
    const ALLOWED: &'static [Role];
}

/// Only admins.
#[derive(Debug)]
pub struct Admin;

impl Roles for Admin {
    const ALLOWED: &'static [Role] = &[Role::Admin];
}

/// An authenticated caller whose role is in `R`; 401 without a valid token, 403 with the
/// wrong role.
#[derive(Debug)]
pub struct RequireRole<R>(pub Actor, pub PhantomData<R>);

impl<R> Deref for RequireRole<R> {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.0
    }
}

impl<R: Roles> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let AuthUser(actor) =
            <AuthUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if R::ALLOWED.contains(&actor.role) {
            Ok(RequireRole(actor, PhantomData))
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// For `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`: a missing
/// key stays `None`, `null` becomes `Some(None)`, so a partial update can tell "leave alone"
/// from "clear".
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Turns serde's "path: message at line 1 column 9" into a field error. serde reports a missing
/// field at its parent, so that case appends the field's name from the message.
fn describe(text: &str, prefix: &str, whole: &str) -> FieldError {
    let text = text.strip_prefix(prefix).unwrap_or(text);
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (Some(path), message),
        _ => (None, text),
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let field = path.map_or_else(|| name.to_owned(), |parent| format!("{parent}.{name}"));
        return FieldError::new(field, "is required");
    }
    FieldError::new(path.unwrap_or(whole), strip_position(message))
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::post;
    use serde::Deserialize;
    use tower::ServiceExt;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Item {
        name: String,
        quantity: u32,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Order {
        items: Vec<Item>,
    }

    async fn call(content_type: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/", post(|Json(_): Json<Order>| async { "ok" }));
        let mut request = Request::post("/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = app
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_envelope() {
        let (status, body) = call(Some("application/json"), "{\"items\": [").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][0]["field"], "body");
    }

    #[tokio::test]
    async fn a_wrong_type_names_the_field() {
        let (status, body) = call(
            Some("application/json"),
            r#"{"items": [{"name": "x", "quantity": "two"}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"][0]["field"], "items[0].quantity");
        let message = body["error"]["details"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("invalid type"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }

    #[tokio::test]
    async fn a_missing_field_is_named() {
        let (status, body) = call(Some("application/json"), r#"{"items": [{"name": "x"}]}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"][0]["field"], "items[0].quantity");
        assert_eq!(body["error"]["details"][0]["message"], "is required");
    }

    #[tokio::test]
    async fn a_missing_top_level_field_is_named() {
        let (status, body) = call(Some("application/json"), "{}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"][0]["field"], "items");
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_415() {
        for content_type in [None, Some("text/plain")] {
            let (status, body) = call(content_type, r#"{"items": []}"#).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
        }
    }
}
