//! Extractors: `Json`, `Query` and `Path` with our rejection, so malformed input answers the
//! contract's envelope instead of axum's plain-text errors; and the authentication extractors
//! `AuthUser`, `Option<AuthUser>` and `RequireRole<…>`.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{Actor, Role};
use crate::error::{AppError, FieldError};
use crate::services::accounts;
use crate::state::AppState;

/// A JSON object body. Rejections: malformed JSON → 400 `VALIDATION_ERROR` on `body`, a body
/// that is not an object → 400 ("must be a JSON object"; serde would take an array for a
/// struct's fields in order), a non-JSON content type → 415, a body over the route's limit →
/// 413. Field errors are the command's to report: bodies declare their fields as `Field`s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(request.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "Expected a request body with Content-Type: application/json".to_owned(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    body_error("could not be read")
                }
            })?;
        let is_object = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&first| first == b'{');
        let parsed = if is_object {
            serde_json::from_slice::<T>(&bytes)
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .and_then(|_| Err(serde::de::Error::custom("not an object")))
        };
        match parsed {
            Ok(value) => Ok(Json(value)),
            Err(error) if error.is_syntax() || error.is_eof() => Err(body_error(&format!(
                "is not valid JSON ({})",
                syntax(&error)
            ))),
            Err(_) => Err(body_error("must be a JSON object")),
        }
    }
}

fn body_error(message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new("body", message)])
}

/// serde_json's description of a syntax error, without its position.
fn syntax(error: &serde_json::Error) -> String {
    strip_position(&error.to_string())
}

/// `application/json`, or any `application/…+json`.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

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

/// The caller of a request: `None` without a token, an error for a bad one. What
/// `Option<AuthUser>` and the GraphQL handler both use.
pub async fn actor_from_parts(parts: &Parts, state: &AppState) -> Result<Option<Actor>, AppError> {
    match bearer(parts)? {
        None => Ok(None),
        Some(token) => accounts::authenticate(&state.db, &state.auth, token)
            .await
            .map(Some),
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
        Ok(actor_from_parts(parts, state).await?.map(AuthUser))
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
    struct Order {
        items: crate::http::field::Field<Vec<String>>,
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
    async fn a_body_that_is_not_an_object_is_named_as_the_body() {
        for json in ["[1, 2]", "7", "\"text\"", "null"] {
            let (status, body) = call(Some("application/json"), json).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
            assert_eq!(body["error"]["details"][0]["field"], "body", "{json}");
            assert_eq!(
                body["error"]["details"][0]["message"], "must be a JSON object",
                "{json}"
            );
        }
    }

    #[tokio::test]
    async fn a_field_of_the_wrong_type_does_not_fail_the_body() {
        let (status, _) = call(Some("application/json"), r#"{"items": 5}"#).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the handler decides what a bad field means"
        );
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
