//! Review aggregates on the product row: `review_count` and `rating_total`, kept by triggers.
//!
//! Every product read shows `averageRating` and `reviewCount`; computing them per row took
//! two index probes into `reviews` and halved the throughput of product reads on PostgreSQL.
//! Triggers keep the counters exact whoever writes reviews — the API, the seed, or a cascade
//! when a user or product is deleted — and a review and its counters commit together.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000003_review_aggregates"
    }
}

const COLUMNS_UP: &[&str] = &[
    "ALTER TABLE products ADD COLUMN review_count INTEGER NOT NULL DEFAULT 0 \
     CHECK (review_count >= 0)",
    "ALTER TABLE products ADD COLUMN rating_total INTEGER NOT NULL DEFAULT 0 \
     CHECK (rating_total >= 0)",
    // Reviews written before this migration.
    "UPDATE products SET \
       review_count = (SELECT COUNT(*) FROM reviews r WHERE r.product_id = products.id), \
       rating_total = COALESCE((SELECT SUM(r.rating) FROM reviews r \
                                WHERE r.product_id = products.id), 0)",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE OR REPLACE FUNCTION reviews_aggregate() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         UPDATE products SET review_count = review_count + 1, \
                             rating_total = rating_total + NEW.rating \
         WHERE id = NEW.product_id; \
       ELSIF TG_OP = 'DELETE' THEN \
         UPDATE products SET review_count = review_count - 1, \
                             rating_total = rating_total - OLD.rating \
         WHERE id = OLD.product_id; \
       ELSE \
         UPDATE products SET rating_total = rating_total - OLD.rating + NEW.rating \
         WHERE id = NEW.product_id; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER reviews_aggregate AFTER INSERT OR DELETE OR UPDATE OF rating ON reviews \
     FOR EACH ROW EXECUTE FUNCTION reviews_aggregate()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS reviews_aggregate ON reviews",
    "DROP FUNCTION IF EXISTS reviews_aggregate()",
    "ALTER TABLE products DROP COLUMN IF EXISTS rating_total",
    "ALTER TABLE products DROP COLUMN IF EXISTS review_count",
];

const SQLITE_UP: &[&str] = &[
    "CREATE TRIGGER reviews_aggregate_insert AFTER INSERT ON reviews BEGIN \
     UPDATE products SET review_count = review_count + 1, rating_total = rating_total + new.rating \
     WHERE id = new.product_id; END",
    "CREATE TRIGGER reviews_aggregate_delete AFTER DELETE ON reviews BEGIN \
     UPDATE products SET review_count = review_count - 1, rating_total = rating_total - old.rating \
     WHERE id = old.product_id; END",
    "CREATE TRIGGER reviews_aggregate_update AFTER UPDATE OF rating ON reviews BEGIN \
     UPDATE products SET rating_total = rating_total - old.rating + new.rating \
     WHERE id = new.product_id; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS reviews_aggregate_update",
    "DROP TRIGGER IF EXISTS reviews_aggregate_delete",
    "DROP TRIGGER IF EXISTS reviews_aggregate_insert",
    "ALTER TABLE products DROP COLUMN rating_total",
    "ALTER TABLE products DROP COLUMN review_count",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run(manager, COLUMNS_UP).await?;
        crate::run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
