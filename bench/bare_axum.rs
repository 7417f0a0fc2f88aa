//! The reference points for `bench/run.sh`, without our middleware or ORM, so the cost of our
//! stack is the difference:
//! - `GET /health`: a bare axum handler returning a small JSON object;
//! - `GET /products/{id}` (when `DATABASE_URL` is set): one prepared primary-key SELECT
//!   through sqlx, on PostgreSQL or SQLite, the minimal server the catalog benchmark compares
//!   against.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use std::str::FromStr;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sea_orm::sqlx::{self, PgPool, Row};

/// The same allocator as the real binary, so the comparison measures the stack, not malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn product(
    State(pool): State<PgPool>,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::Json<serde_json::Value>, StatusCode> {
    let row =
        sqlx::query("SELECT id, name, price::text AS price, in_stock FROM products WHERE id = $1")
            .bind(id)
            .fetch_optional(&pool)
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
            .ok_or(StatusCode::NOT_FOUND)?;
    Ok(axum::Json(serde_json::json!({
        "id": row.get::<uuid::Uuid, _>("id"),
        "name": row.get::<String, _>("name"),
        "price": row.get::<String, _>("price"),
        "inStock": row.get::<i32, _>("in_stock"),
    })))
}

/// The same read on SQLite, where prices are kept in cents.
async fn sqlite_product(
    State(pool): State<SqlitePool>,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::Json<serde_json::Value>, StatusCode> {
    let row = sqlx::query("SELECT id, name, price, in_stock FROM products WHERE id = ?")
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::NOT_FOUND)?;
    let cents = row.get::<i64, _>("price");
    Ok(axum::Json(serde_json::json!({
        "id": row.get::<uuid::Uuid, _>("id"),
        "name": row.get::<String, _>("name"),
        "price": format!("{}.{:02}", cents / 100, cents % 100),
        "inStock": row.get::<i32, _>("in_stock"),
    })))
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3101);
    let mut app = Router::new().route(
        "/health",
        get(|| async { axum::Json(serde_json::json!({"status": "healthy"})) }),
    );
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(32)
                .connect(&url)
                .await
                .expect("DATABASE_URL connects");
            app = app.merge(
                Router::new()
                    .route("/products/{id}", get(product))
                    .with_state(pool),
            );
        }
        Ok(url) if url.starts_with("sqlite") => {
            let options = SqliteConnectOptions::from_str(&url)
                .expect("DATABASE_URL parses")
                .read_only(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .expect("DATABASE_URL connects");
            app = app.merge(
                Router::new()
                    .route("/products/{id}", get(sqlite_product))
                    .with_state(pool),
            );
        }
        _ => {}
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    axum::serve(listener, app).await.expect("the server runs");
}
