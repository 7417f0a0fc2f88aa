//! Counts the SQL statements each request sends, so an N+1 (a statement per item of a page)
//! shows in the request's log line and in `/metrics` instead of only in latency — the
//! discipline Saleor needed a bot for. The count follows the request's task and what it hands
//! to [`spawn`] (GraphQL's DataLoaders); statements of background work are not counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinHandle;

tokio::task_local! {
    static COUNTER: Arc<AtomicU64>;
}

/// Runs `future`, counting the statements it sends; returns its output and the count.
pub async fn count<F: Future>(future: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let output = COUNTER.scope(Arc::clone(&counter), future).await;
    (output, counter.load(Ordering::Relaxed))
}

/// `tokio::spawn` whose task counts towards the caller's request.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match COUNTER.try_with(Arc::clone) {
        Ok(counter) => tokio::spawn(COUNTER.scope(counter, future)),
        Err(_) => tokio::spawn(future),
    }
}

/// SeaORM's callback after every statement (pools get it in `db::connect`).
pub(super) fn record(_: &sea_orm::metric::Info<'_>) {
    // Outside a counted request (background work) there is nothing to add to.
    let _ = COUNTER.try_with(|counter| counter.fetch_add(1, Ordering::Relaxed));
}
