//! The contract's errors: one variant per code, the only place that picks a status code and
//! builds the `{"success": false, "error": …}` envelope.
//!
//! A 500 never says more than `Internal server error`: its cause travels in a response
//! extension to the request logger, which writes it once, with the request id.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::domain::FieldError;

/// Machine-readable error code: clients branch on this, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    InvalidCredentials,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InsufficientStock,
    InvalidStatusTransition,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    AccountLocked,
    InternalError,
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Every failing field at once, so a client can fix a form in one round trip.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("a valid access token is required")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("you do not have permission to do this")]
    Forbidden,
    /// Also for resources that exist but belong to someone else, so ids leak nothing.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// `details` carries one entry per short product.
    #[error("insufficient stock")]
    InsufficientStock(Vec<FieldError>),
    #[error("cannot change status from {from} to {to}")]
    InvalidStatusTransition { from: String, to: String },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many failed logins; try again later")]
    AccountLocked { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The refusal an earlier request with the same `Idempotency-Key` got, told again as it
    /// was stored (its code, message and details).
    #[error("{}", .0.message)]
    Replayed(ErrorBody),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::domain::Validation> for AppError {
    fn from(validation: crate::domain::Validation) -> Self {
        AppError::Validation(validation.into_errors())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::Internal(err.into())
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "success": false,
    "error": {"code": "VALIDATION_ERROR", "message": "Validation failed",
              "details": [{"field": "email", "message": "must be a valid email address"}]}
}))]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Present for `VALIDATION_ERROR` (each failing field) and `INSUFFICIENT_STOCK` (each
    /// short product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
}

/// The cause of a 500, kept out of the body and logged once by the request logger.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub Arc<anyhow::Error>);

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Validation(_) => ErrorCode::ValidationError,
            AppError::Unauthorized => ErrorCode::Unauthorized,
            AppError::InvalidCredentials => ErrorCode::InvalidCredentials,
            AppError::Forbidden => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::InsufficientStock(_) => ErrorCode::InsufficientStock,
            AppError::InvalidStatusTransition { .. } => ErrorCode::InvalidStatusTransition,
            AppError::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            AppError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            AppError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::AccountLocked { .. } => ErrorCode::AccountLocked,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::Replayed(body) => body.code,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::ValidationError => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict
            | ErrorCode::InsufficientStock
            | ErrorCode::InvalidStatusTransition
            | ErrorCode::IdempotencyKeyReused => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited | ErrorCode::AccountLocked => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The client-facing message: a sentence for people, never internals.
    fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "Internal server error".to_owned(),
            AppError::Replayed(body) => body.message.clone(),
            other => {
                let text = other.to_string();
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => text,
                }
            }
        }
    }

    /// The error a bare status code stands for, for responses made outside our handlers
    /// (axum's 405, tower-http's timeout and body limit); see `http::middleware`.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                AppError::Validation(vec![FieldError::new("request", "is malformed")])
            }
            StatusCode::UNAUTHORIZED => AppError::Unauthorized,
            StatusCode::FORBIDDEN => AppError::Forbidden,
            StatusCode::NOT_FOUND => AppError::NotFound("Route"),
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::UnsupportedMediaType("Unsupported media type".to_owned())
            }
            StatusCode::TOO_MANY_REQUESTS => AppError::RateLimited {
                retry_after_secs: 1,
            },
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => {
                AppError::Unavailable("The server could not answer in time".to_owned())
            }
            _ => AppError::Internal(anyhow::anyhow!("unexpected status {status}")),
        }
    }
}

impl AppError {
    /// The body this error answers with.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: self.code(),
                message: self.public_message(),
                details: match self {
                    AppError::Validation(fields) | AppError::InsufficientStock(fields) => {
                        Some(fields.clone())
                    }
                    AppError::Replayed(body) => body.details.clone(),
                    _ => None,
                },
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = self.envelope();
        let mut response = (status, axum::Json(body)).into_response();
        match self {
            AppError::RateLimited { retry_after_secs }
            | AppError::AccountLocked { retry_after_secs } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
            }
            AppError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::Internal(cause) => {
                response
                    .extensions_mut()
                    .insert(ErrorCause(Arc::new(cause)));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response = AppError::Internal(anyhow::anyhow!("relation \"users\" does not exist"))
            .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<ErrorCause>().is_some());
        let body = body_json(response).await;
        assert_eq!(
            body,
            serde_json::json!({"success": false,
                "error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}})
        );
    }

    #[tokio::test]
    async fn validation_errors_name_each_field() {
        let response = AppError::Validation(vec![
            FieldError::new("email", "must be a valid email address"),
            FieldError::new("password", "must be 8 to 128 characters"),
        ])
        .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][1]["field"], "password");
    }

    #[tokio::test]
    async fn throttling_errors_say_when_to_retry() {
        for error in [
            AppError::RateLimited {
                retry_after_secs: 42,
            },
            AppError::AccountLocked {
                retry_after_secs: 42,
            },
        ] {
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        }
    }

    #[test]
    fn every_code_has_the_contract_status() {
        let cases = [
            (AppError::Unauthorized, 401, "UNAUTHORIZED"),
            (AppError::InvalidCredentials, 401, "INVALID_CREDENTIALS"),
            (AppError::Forbidden, 403, "FORBIDDEN"),
            (AppError::NotFound("Order"), 404, "NOT_FOUND"),
            (AppError::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
            (AppError::Conflict("taken".into()), 409, "CONFLICT"),
            (
                AppError::InsufficientStock(vec![]),
                409,
                "INSUFFICIENT_STOCK",
            ),
            (
                AppError::InvalidStatusTransition {
                    from: "DELIVERED".into(),
                    to: "PENDING".into(),
                },
                409,
                "INVALID_STATUS_TRANSITION",
            ),
            (
                AppError::IdempotencyKeyReused,
                409,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (AppError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (
                AppError::UnsupportedMediaType("x".into()),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                AppError::RateLimited {
                    retry_after_secs: 1,
                },
                429,
                "RATE_LIMITED",
            ),
            (
                AppError::AccountLocked {
                    retry_after_secs: 1,
                },
                429,
                "ACCOUNT_LOCKED",
            ),
            (AppError::Unavailable("db".into()), 503, "UNAVAILABLE"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{code}");
            assert_eq!(serde_json::to_value(error.code()).unwrap(), code);
        }
    }
}
