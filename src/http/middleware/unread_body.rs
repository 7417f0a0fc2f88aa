//! Early refusals on kept-alive connections.
//!
//! A handler may answer before reading the body (a 401 from the token check, a 413 from the
//! body limit). hyper then reuses the connection only if the rest of the body is already
//! buffered; otherwise it closes it after the response, without saying so, and a client that
//! sends its next request on that connection gets it reset instead of answered. So the body is
//! kept aside while the handler runs: what the handler left unread is drained (a little, for a
//! short while) so the connection can serve the next request, or, when it is too much, the
//! response says `Connection: close` and the client opens a new one.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;

/// At most this much of an unread body is read and thrown away to keep a connection.
const DRAIN_LIMIT_BYTES: usize = 64 * 1024;
/// ... and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The request body, shared between the handler's end and [`finish`].
#[derive(Clone)]
pub struct KeptBody(Arc<Mutex<Option<Body>>>);

/// Replaces the request's body by an end that the handler reads as usual, keeping the body
/// itself here. `None` when there is no body, the common case, which then costs nothing.
pub fn keep(body: &mut Body) -> Option<KeptBody> {
    if body.is_end_stream() {
        return None;
    }
    let kept = KeptBody(Arc::new(Mutex::new(Some(std::mem::take(body)))));
    *body = Body::new(kept.clone());
    Some(kept)
}

/// After the handler: drains what it left unread, or marks the response to close.
pub async fn finish(kept: KeptBody, response: &mut Response) {
    let rest = kept.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some(rest) = rest.filter(|body| !body.is_end_stream()) else {
        return;
    };
    if !matches!(
        tokio::time::timeout(DRAIN_TIME, drain(rest)).await,
        Ok(true)
    ) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Reads the body to its end within [`DRAIN_LIMIT_BYTES`]; whether it ended.
async fn drain(mut body: Body) -> bool {
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > DRAIN_LIMIT_BYTES {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

impl HttpBody for KeptBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(HttpBody::size_hint)
            .unwrap_or_default()
    }
}
