//! Full-text search structures, which differ per backend and so live behind one `match`.
//!
//! PostgreSQL: a stored generated `tsvector` over name and description with a GIN index.
//! SQLite: an FTS5 table with the porter stemmer, kept in step with `products` by triggers.
//! The FTS5 rows carry the product id rather than borrowing `products.rowid`, because SQLite
//! may renumber implicit rowids on `VACUUM`; the update trigger fires only when the indexed
//! text changes, so price and stock updates never touch the index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000002_product_search"
    }
}

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE products ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS \
     (setweight(to_tsvector('english', coalesce(name, '')), 'A') || \
      setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED",
    "CREATE INDEX IF NOT EXISTS idx_products_search ON products USING GIN (search_vector)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_products_search",
    "ALTER TABLE products DROP COLUMN IF EXISTS search_vector",
];

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5(\
     product_id UNINDEXED, name, description, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS products_fts_insert AFTER INSERT ON products BEGIN \
     INSERT INTO products_fts (product_id, name, description) \
     VALUES (new.id, new.name, coalesce(new.description, '')); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_delete AFTER DELETE ON products BEGIN \
     DELETE FROM products_fts WHERE product_id = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_update AFTER UPDATE OF name, description \
     ON products BEGIN \
     DELETE FROM products_fts WHERE product_id = old.id; \
     INSERT INTO products_fts (product_id, name, description) \
     VALUES (new.id, new.name, coalesce(new.description, '')); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS products_fts_update",
    "DROP TRIGGER IF EXISTS products_fts_delete",
    "DROP TRIGGER IF EXISTS products_fts_insert",
    "DROP TABLE IF EXISTS products_fts",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_UP).await,
            DbBackend::Sqlite => run(manager, SQLITE_UP).await,
            other => Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            DbBackend::Sqlite => run(manager, SQLITE_DOWN).await,
            other => Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
        }
    }
}
