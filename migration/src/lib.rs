//! Versioned schema migrations, one Rust source for SQLite and PostgreSQL.
//!
//! Migrations are append-only once they have landed on `main`: change the schema by adding a
//! new migration, never by editing an old one, because deployed databases remember what ran.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_schema;
mod m20261124_000002_product_search;
mod m20261201_000003_review_aggregates;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schema::Migration),
            Box::new(m20261124_000002_product_search::Migration),
            Box::new(m20261201_000003_review_aggregates::Migration),
        ]
    }
}
