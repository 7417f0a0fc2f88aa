//! `AppError` as GraphQL errors: the contract's code in `extensions.code`, the failing fields
//! in `extensions.details`, and for a 500 nothing but "Internal server error" (the cause goes
//! to the log, once). Errors made by the GraphQL machinery itself — a parse error, a field
//! that does not exist, a query too deep or too complex — carry no code of their own and get
//! `VALIDATION_ERROR` ([`add_missing_codes`]).

use async_graphql::{Error, ErrorExtensions, Response, Value};

use crate::error::AppError;

/// `error` as GraphQL reports it.
pub fn to_graphql(error: &AppError) -> Error {
    if let AppError::Internal(cause) = error {
        tracing::error!(error = format!("{cause:#}"), "a GraphQL resolver failed");
    }
    let envelope = error.envelope().error;
    let code = serde_json::to_value(envelope.code)
        .ok()
        .and_then(|code| code.as_str().map(str::to_owned))
        .unwrap_or_default();
    Error::new(envelope.message).extend_with(|_, extensions| {
        extensions.set("code", code);
        if let Some(details) = &envelope.details {
            let details: Vec<Value> = details
                .iter()
                .map(|detail| Value::from_json(serde_json::json!(detail)).unwrap_or(Value::Null))
                .collect();
            extensions.set("details", Value::List(details));
        }
        if let AppError::RateLimited { retry_after_secs }
        | AppError::AccountLocked { retry_after_secs } = error
        {
            extensions.set("retryAfter", *retry_after_secs);
        }
    })
}

/// `?` for a service call in a resolver: its error becomes the contract's GraphQL error.
pub trait OrGraphql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrGraphql<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|error| to_graphql(&error))
    }
}

/// Gives every error without a code `VALIDATION_ERROR`: what async-graphql refuses before or
/// while it reads a request is the client's request being invalid.
pub fn add_missing_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.get("code").is_some());
        if !has_code {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "VALIDATION_ERROR");
        }
    }
    response
}
