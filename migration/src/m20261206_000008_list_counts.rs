//! Counts kept by triggers, so lists know their totals without counting the table: orders
//! by status (an admin's order list) and each category's visible products (`GET /categories`).
//!
//! An offset list reports the exact number of matching rows. For a customer's orders that is
//! a short index range; for an admin's list of every order, or of one status, it was a scan
//! of up to every order (84 ms for one status and a parallel sequential scan unfiltered, at a
//! million orders on PostgreSQL), paid on every page. Each category's product count was a
//! count of its products: 2.7 s for the category list at a million products. Triggers keep
//! the counts exact whoever writes (the API, the seed, a cascade) and commit with the rows
//! they count.
//!
//! Orders on PostgreSQL: each status has 16 counter rows and a transaction adds to the one its
//! backend picks, so concurrent order placements do not queue on one row lock; statement
//! triggers with transition tables add a whole multi-row insert in one write, and the rows are
//! written in status order so two transactions lock them in the same order. A status's count
//! is the sum of its rows (a single row may go below zero: an order counted in one row can
//! leave its status through another). SQLite has one writer at a time, so one row per status.
//!
//! Categories: products are written by admins, so one counter per category is enough; a row
//! trigger on a change of category or archiving (not on stock or price updates, which every
//! order makes) locks both categories in id order before it moves the count. The locks are
//! `FOR NO KEY UPDATE`, which the foreign-key check's `KEY SHARE` on the new category does
//! not block: with `FOR UPDATE`, two concurrent moves into one category deadlocked.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000008_list_counts"
    }
}

const COMMON_UP: &[&str] = &[
    "CREATE TABLE order_counts (\
       status VARCHAR(16) NOT NULL, \
       shard SMALLINT NOT NULL, \
       n BIGINT NOT NULL, \
       PRIMARY KEY (status, shard))",
    // Orders placed before this migration.
    "INSERT INTO order_counts (status, shard, n) \
     SELECT status, 0, COUNT(*) FROM orders GROUP BY status",
    "ALTER TABLE categories ADD COLUMN product_count BIGINT NOT NULL DEFAULT 0",
    "UPDATE categories SET product_count = (SELECT COUNT(*) FROM products p \
     WHERE p.category_id = categories.id AND NOT p.archived)",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE OR REPLACE FUNCTION order_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$ \
     DECLARE pick SMALLINT := pg_backend_pid() % 16; \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         INSERT INTO order_counts (status, shard, n) \
         SELECT status, pick, COUNT(*) FROM new_rows GROUP BY status ORDER BY status \
         ON CONFLICT ON CONSTRAINT order_counts_pkey \
         DO UPDATE SET n = order_counts.n + EXCLUDED.n; \
       ELSIF TG_OP = 'DELETE' THEN \
         INSERT INTO order_counts (status, shard, n) \
         SELECT status, pick, -COUNT(*) FROM old_rows GROUP BY status ORDER BY status \
         ON CONFLICT ON CONSTRAINT order_counts_pkey \
         DO UPDATE SET n = order_counts.n + EXCLUDED.n; \
       ELSE \
         INSERT INTO order_counts (status, shard, n) \
         SELECT status, pick, SUM(change) FROM ( \
           SELECT status, -1 AS change FROM old_rows \
           UNION ALL SELECT status, 1 FROM new_rows) AS changes \
         GROUP BY status HAVING SUM(change) <> 0 ORDER BY status \
         ON CONFLICT ON CONSTRAINT order_counts_pkey \
         DO UPDATE SET n = order_counts.n + EXCLUDED.n; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER order_counts_insert AFTER INSERT ON orders \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply()",
    "CREATE TRIGGER order_counts_update AFTER UPDATE ON orders \
     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply()",
    "CREATE TRIGGER order_counts_delete AFTER DELETE ON orders \
     REFERENCING OLD TABLE AS old_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION order_counts_apply()",
    "CREATE OR REPLACE FUNCTION category_counts_statement() RETURNS trigger \
     LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         UPDATE categories c SET product_count = c.product_count + a.n \
         FROM (SELECT category_id, COUNT(*) AS n FROM new_rows \
               WHERE NOT archived AND category_id IS NOT NULL GROUP BY category_id) a \
         WHERE c.id = a.category_id; \
       ELSE \
         UPDATE categories c SET product_count = c.product_count - a.n \
         FROM (SELECT category_id, COUNT(*) AS n FROM old_rows \
               WHERE NOT archived AND category_id IS NOT NULL GROUP BY category_id) a \
         WHERE c.id = a.category_id; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE OR REPLACE FUNCTION category_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       PERFORM 1 FROM categories WHERE id IN (OLD.category_id, NEW.category_id) \
       ORDER BY id FOR NO KEY UPDATE; \
       UPDATE categories SET product_count = product_count - 1 \
       WHERE id = OLD.category_id AND NOT OLD.archived; \
       UPDATE categories SET product_count = product_count + 1 \
       WHERE id = NEW.category_id AND NOT NEW.archived; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER category_counts_insert AFTER INSERT ON products \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION category_counts_statement()",
    "CREATE TRIGGER category_counts_delete AFTER DELETE ON products \
     REFERENCING OLD TABLE AS old_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION category_counts_statement()",
    "CREATE TRIGGER category_counts_update AFTER UPDATE OF category_id, archived ON products \
     FOR EACH ROW WHEN (OLD.category_id IS DISTINCT FROM NEW.category_id \
                        OR OLD.archived IS DISTINCT FROM NEW.archived) \
     EXECUTE FUNCTION category_counts_row()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS category_counts_update ON products",
    "DROP TRIGGER IF EXISTS category_counts_delete ON products",
    "DROP TRIGGER IF EXISTS category_counts_insert ON products",
    "DROP FUNCTION IF EXISTS category_counts_row()",
    "DROP FUNCTION IF EXISTS category_counts_statement()",
    "ALTER TABLE categories DROP COLUMN IF EXISTS product_count",
    "DROP TRIGGER IF EXISTS order_counts_delete ON orders",
    "DROP TRIGGER IF EXISTS order_counts_update ON orders",
    "DROP TRIGGER IF EXISTS order_counts_insert ON orders",
    "DROP FUNCTION IF EXISTS order_counts_apply()",
    "DROP TABLE IF EXISTS order_counts",
];

const SQLITE_UP: &[&str] = &[
    "CREATE TRIGGER order_counts_insert AFTER INSERT ON orders BEGIN \
     INSERT INTO order_counts (status, shard, n) VALUES (new.status, 0, 1) \
     ON CONFLICT (status, shard) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER order_counts_delete AFTER DELETE ON orders BEGIN \
     INSERT INTO order_counts (status, shard, n) VALUES (old.status, 0, -1) \
     ON CONFLICT (status, shard) DO UPDATE SET n = n - 1; END",
    "CREATE TRIGGER order_counts_update AFTER UPDATE OF status ON orders \
     WHEN old.status IS NOT new.status BEGIN \
     INSERT INTO order_counts (status, shard, n) VALUES (old.status, 0, -1) \
     ON CONFLICT (status, shard) DO UPDATE SET n = n - 1; \
     INSERT INTO order_counts (status, shard, n) VALUES (new.status, 0, 1) \
     ON CONFLICT (status, shard) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER category_counts_insert AFTER INSERT ON products \
     WHEN new.category_id IS NOT NULL AND NOT new.archived BEGIN \
     UPDATE categories SET product_count = product_count + 1 WHERE id = new.category_id; END",
    "CREATE TRIGGER category_counts_delete AFTER DELETE ON products \
     WHEN old.category_id IS NOT NULL AND NOT old.archived BEGIN \
     UPDATE categories SET product_count = product_count - 1 WHERE id = old.category_id; END",
    "CREATE TRIGGER category_counts_update AFTER UPDATE OF category_id, archived ON products \
     WHEN old.category_id IS NOT new.category_id OR old.archived IS NOT new.archived BEGIN \
     UPDATE categories SET product_count = product_count - 1 \
     WHERE id = old.category_id AND NOT old.archived; \
     UPDATE categories SET product_count = product_count + 1 \
     WHERE id = new.category_id AND NOT new.archived; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS category_counts_update",
    "DROP TRIGGER IF EXISTS category_counts_delete",
    "DROP TRIGGER IF EXISTS category_counts_insert",
    "ALTER TABLE categories DROP COLUMN product_count",
    "DROP TRIGGER IF EXISTS order_counts_update",
    "DROP TRIGGER IF EXISTS order_counts_delete",
    "DROP TRIGGER IF EXISTS order_counts_insert",
    "DROP TABLE IF EXISTS order_counts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run(manager, COMMON_UP).await?;
        crate::run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
