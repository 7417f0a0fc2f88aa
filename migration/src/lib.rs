//! Versioned schema migrations, one Rust source for SQLite and PostgreSQL.
//!
//! Migrations are append-only once they have landed on `main`: change the schema by adding a
//! new migration, never by editing an old one, because deployed databases remember what ran.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

mod m20261124_000001_create_schema;
mod m20261124_000002_product_search;
mod m20261201_000003_review_aggregates;
mod m20261202_000004_attempt_budgets;
mod m20261203_000005_events_and_jobs;
mod m20261204_000006_idempotency_outcomes;
mod m20261205_000007_indexes_at_scale;
mod m20261206_000008_list_counts;
mod m20261206_000009_one_search_index;
mod m20261206_000010_user_search_trigrams;
mod m20261206_000011_posts_in_page_order;
mod m20261208_000012_user_activity;

/// Runs backend-specific statements in order: the one place migrations match on the backend.
async fn run_for_backend(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        DbBackend::Sqlite => sqlite,
        other => return Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
    };
    run(manager, statements).await
}

/// Runs raw statements in order, on whatever backend.
async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schema::Migration),
            Box::new(m20261124_000002_product_search::Migration),
            Box::new(m20261201_000003_review_aggregates::Migration),
            Box::new(m20261202_000004_attempt_budgets::Migration),
            Box::new(m20261203_000005_events_and_jobs::Migration),
            Box::new(m20261204_000006_idempotency_outcomes::Migration),
            Box::new(m20261205_000007_indexes_at_scale::Migration),
            Box::new(m20261206_000008_list_counts::Migration),
            Box::new(m20261206_000009_one_search_index::Migration),
            Box::new(m20261206_000010_user_search_trigrams::Migration),
            Box::new(m20261206_000011_posts_in_page_order::Migration),
            Box::new(m20261208_000012_user_activity::Migration),
        ]
    }
}
