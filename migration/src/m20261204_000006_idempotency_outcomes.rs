//! Idempotency keys keep the outcome of their first request (the order, or the refusal's
//! code, message and details) instead of its HTTP rendering, so REST and GraphQL replay one key
//! the same way. The old columns stay for keys stored before this (they expire within a day).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000006_idempotency_outcomes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run(
            manager,
            &["ALTER TABLE idempotency_keys ADD COLUMN outcome TEXT NULL"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run(
            manager,
            &["ALTER TABLE idempotency_keys DROP COLUMN outcome"],
        )
        .await
    }
}
