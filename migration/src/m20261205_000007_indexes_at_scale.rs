//! Indexes for a catalogue of millions: every list the API serves walks an index in its own
//! order, so a page costs the same at a thousand rows and at a million.
//!
//! - Products of one category, newest first: `(category_id, created_at, id)`.
//! - Orders of one customer, or of one status, newest first, and all orders newest first with
//!   the id that breaks ties; these replace the narrower indexes they cover.
//! - Users newest first with their tie-breaking id, and posts and comments by creation time,
//!   which the activity count of `/users/stats` ranges over.
//! - PostgreSQL only: product names on their own as a `tsvector`, so a search can take its
//!   best candidates (name matches) without ranking every description match; and trigram
//!   indexes for the substring search of `/users?search=`. `pg_trgm` ships with PostgreSQL and
//!   is a trusted extension, but a role that may not create it still gets a working schema:
//!   the search then scans, as before.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000007_indexes_at_scale"
    }
}

const BOTH_UP: &[&str] = &[
    "CREATE INDEX idx_products_category_created ON products \
     (category_id, created_at DESC, id DESC)",
    "CREATE INDEX idx_orders_customer_created ON orders (customer_id, created_at DESC, id DESC)",
    "CREATE INDEX idx_orders_status_created ON orders (status, created_at DESC, id DESC)",
    "CREATE INDEX idx_orders_created_id ON orders (created_at DESC, id DESC)",
    "DROP INDEX idx_orders_customer_status",
    "DROP INDEX idx_orders_pending",
    "DROP INDEX idx_orders_created_at",
    "CREATE INDEX idx_users_created_id ON users (created_at DESC, id DESC)",
    "DROP INDEX idx_users_created_at",
    "CREATE INDEX idx_posts_created_at ON posts (created_at)",
    "CREATE INDEX idx_comments_created_at ON comments (created_at)",
];

const BOTH_DOWN: &[&str] = &[
    "DROP INDEX idx_comments_created_at",
    "DROP INDEX idx_posts_created_at",
    "CREATE INDEX idx_users_created_at ON users (created_at DESC)",
    "DROP INDEX idx_users_created_id",
    "CREATE INDEX idx_orders_created_at ON orders (created_at DESC)",
    "CREATE INDEX idx_orders_pending ON orders (created_at DESC) WHERE status = 'PENDING'",
    "CREATE INDEX idx_orders_customer_status ON orders (customer_id, status)",
    "DROP INDEX idx_orders_created_id",
    "DROP INDEX idx_orders_status_created",
    "DROP INDEX idx_orders_customer_created",
    "DROP INDEX idx_products_category_created",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE INDEX idx_products_name_search ON products USING GIN \
     (to_tsvector('english', name))",
    "DO $$ BEGIN \
       CREATE EXTENSION IF NOT EXISTS pg_trgm; \
     EXCEPTION WHEN insufficient_privilege OR undefined_file THEN \
       RAISE NOTICE 'pg_trgm is not available: /users?search= scans the users table'; \
     END $$",
    "DO $$ BEGIN \
       IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
         CREATE INDEX idx_users_name_trgm ON users USING GIN (lower(name) gin_trgm_ops); \
         CREATE INDEX idx_users_email_trgm ON users USING GIN (email gin_trgm_ops); \
       END IF; \
     END $$",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_users_email_trgm",
    "DROP INDEX IF EXISTS idx_users_name_trgm",
    "DROP INDEX idx_products_name_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run(manager, BOTH_UP).await?;
        crate::run_for_backend(manager, POSTGRES_UP, &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, &[]).await?;
        crate::run(manager, BOTH_DOWN).await
    }
}
