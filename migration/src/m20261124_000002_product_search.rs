//! Full-text search structures, which differ per backend and so live behind one `match`.
//!
//! PostgreSQL: a stored generated `tsvector` over name and description with a GIN index.
//! SQLite: an FTS5 table with the porter stemmer, kept in step with `products` by triggers.
//! The FTS5 rows carry the product id rather than borrowing `products.rowid`, because SQLite
//! may renumber implicit rowids on `VACUUM`; the update trigger fires only when the indexed
//! text changes, so price and stock updates never touch the index.

use sea_orm_migration::prelude::*;

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
