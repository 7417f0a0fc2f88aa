//! The reference point for `bench/run.sh`: a bare axum handler returning a small JSON object,
//! with no middleware, so the cost of our stack is the difference between the two.

use axum::Router;
use axum::routing::get;

/// The same allocator as the real binary, so the comparison measures the stack, not malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3101".to_owned());
    let app = Router::new().route(
        "/health",
        get(|| async { axum::Json(serde_json::json!({"status": "healthy"})) }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap()))
        .await
        .unwrap();
    axum::serve(listener, app).await.unwrap();
}
