//! PostgreSQL: drops the name-only full-text index; name matches now go through the one
//! `search_vector` index, with the name's weight (A) in the query.
//!
//! Migration 7 added the index so a search could take its name matches first. A weighted
//! query finds the same rows through `idx_products_search`, and reads no more of the heap,
//! so the second GIN index only cost every product write (and a third of a bulk load's
//! index builds).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000009_one_search_index"
    }
}

const POSTGRES_UP: &[&str] = &["DROP INDEX IF EXISTS idx_products_name_search"];

const POSTGRES_DOWN: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS idx_products_name_search ON products \
     USING GIN (to_tsvector('english', name))",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_UP, &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, &[]).await
    }
}
