//! Attempt budgets replace `login_failures`: one row per budget (`scope`, `subject`) — a login
//! email, or a user checking their current password — counting failures in a window and the
//! attempts in flight, under a lease, so concurrent correct passwords wait for a verdict
//! instead of being refused, while concurrent guesses still get at most the budget.
//!
//! Also bounds stock on SQLite, where an INTEGER column would take any 64-bit value: the
//! column is read as a 32-bit number, so a larger value would make every read of the product
//! fail. PostgreSQL's `integer` already refuses one.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000004_attempt_budgets"
    }
}

#[derive(DeriveIden)]
enum AttemptBudgets {
    Table,
    Scope,
    Subject,
    Failures,
    WindowStartedAt,
    InFlight,
    LeaseUntil,
}

const SQLITE_STOCK_BOUNDS: &[&str] = &[
    "CREATE TRIGGER products_in_stock_bound_insert BEFORE INSERT ON products \
     WHEN new.in_stock > 2147483647 BEGIN SELECT RAISE(ABORT, 'in_stock out of range'); END",
    "CREATE TRIGGER products_in_stock_bound_update BEFORE UPDATE OF in_stock ON products \
     WHEN new.in_stock > 2147483647 BEGIN SELECT RAISE(ABORT, 'in_stock out of range'); END",
];

const SQLITE_STOCK_BOUNDS_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS products_in_stock_bound_update",
    "DROP TRIGGER IF EXISTS products_in_stock_bound_insert",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AttemptBudgets::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AttemptBudgets::Scope)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttemptBudgets::Subject)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttemptBudgets::Failures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AttemptBudgets::WindowStartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AttemptBudgets::InFlight)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AttemptBudgets::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AttemptBudgets::Scope)
                            .col(AttemptBudgets::Subject),
                    )
                    .to_owned(),
            )
            .await?;
        // Lockout windows are minutes long; the ones open now start afresh.
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("login_failures"))
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        crate::run_for_backend(manager, &[], SQLITE_STOCK_BOUNDS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, &[], SQLITE_STOCK_BOUNDS_DOWN).await?;
        manager
            .drop_table(
                Table::drop()
                    .table(AttemptBudgets::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
