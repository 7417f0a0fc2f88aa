//! `X-Request-Id`: echoed when the client (or a proxy) sent a sane one, generated otherwise,
//! and put on both the request, for logs, and the response.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, for log spans.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Ids longer than this or with unusual characters are replaced rather than logged.
const MAX_LEN: usize = 128;

fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// Takes the client's id or makes one, and writes it onto the request for handlers and proxies.
pub fn assign(request: &mut Request) -> HeaderValue {
    let id = match request.headers().get(&X_REQUEST_ID) {
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let generated = HeaderValue::try_from(uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value");
            request
                .headers_mut()
                .insert(X_REQUEST_ID.clone(), generated.clone());
            generated
        }
    };
    request.extensions_mut().insert(RequestId(id.clone()));
    id
}
