//! The contract's success shapes: `{"success": true, "data": …}` with an optional `message`,
//! `pagination` on lists, and `{"success": true, "message": …}` for deletes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Cursor, Pagination};
use crate::error::AppError;

#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    /// Always `true`.
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    pub data: T,
}

impl<T> Data<T> {
    pub fn new(data: T) -> Self {
        Data {
            success: true,
            message: None,
            data,
        }
    }

    pub fn with_message(data: T, message: &'static str) -> Self {
        Data {
            success: true,
            message: Some(message),
            data,
        }
    }

    /// The same body with `201 Created`.
    pub fn created(self) -> Created<T> {
        Created(self)
    }
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A [`Data`] answered with `201 Created`.
#[derive(Debug)]
pub struct Created<T>(pub Data<T>);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, axum::Json(self.0)).into_response()
    }
}

/// An offset-paginated list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Paginated<T> {
    pub fn new(data: Vec<T>, pagination: Pagination) -> Self {
        Paginated {
            success: true,
            data,
            pagination,
        }
    }
}

impl<T: Serialize> IntoResponse for Paginated<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A keyset-paginated list: pass `nextCursor` back as `?cursor=` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CursorPaginated<T> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: CursorPagination,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorPagination {
    pub limit: u64,
    pub has_next_page: bool,
    /// Opaque; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> CursorPaginated<T> {
    pub fn new(data: Vec<T>, limit: u64, next: Option<Cursor>) -> Self {
        CursorPaginated {
            success: true,
            data,
            pagination: CursorPagination {
                limit,
                has_next_page: next.is_some(),
                next_cursor: next.map(|cursor| cursor.encode()),
            },
        }
    }
}

impl<T: Serialize> IntoResponse for CursorPaginated<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// The body of a `DELETE` and other answers that carry only a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// Always `true`.
    pub success: bool,
    pub message: &'static str,
}

impl Message {
    pub fn new(message: &'static str) -> Self {
        Message {
            success: true,
            message,
        }
    }
}

impl IntoResponse for Message {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A body serialised once and kept: what the cache stores and answers with.
#[derive(Debug, Clone)]
pub struct Serialized(pub bytes::Bytes);

impl Serialized {
    pub fn of<T: Serialize>(body: &T) -> Result<Self, AppError> {
        serde_json::to_vec(body)
            .map(|bytes| Serialized(bytes.into()))
            .map_err(|error| AppError::Internal(error.into()))
    }
}

impl IntoResponse for Serialized {
    fn into_response(self) -> Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}
