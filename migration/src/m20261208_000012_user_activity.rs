//! `/users/stats` from what is kept, not from what is counted: the day of each live user's
//! latest activity, how many users' latest activity fell on each day, and the number of live
//! users, all kept by triggers.
//!
//! An active user is one who placed an order or wrote a post or a comment in the last 30
//! days, counted in UTC days: today and the 29 days before. Counted from those rows, that was
//! a distinct count over a month of orders joined with the users (467 ms at a million orders
//! on PostgreSQL, 1.6 s on SQLite). Now `activity_days` counts users by the day of their
//! latest activity, so the active users are the window's 30 day rows, however large the
//! shop; `user_activity` holds each user's day, for the triggers to move them between days;
//! `user_count` holds the number of live users. A user counts as active for the activity,
//! even if they later delete the post or comment. Days are whole days since 1970-01-01.
//!
//! The triggers keep all three exact whoever writes (the API, the seed, a cascade) and commit
//! with the rows they count. An order, post or comment on a day its author was already
//! active only reads `user_activity`: a customer's first activity of the day writes their
//! row, and it is locked until that transaction commits, so concurrent orders of one customer
//! queue on it at most once a day. (Kept to the moment, every order rewrote it, and one
//! customer's concurrent orders queued on it: half the throughput on PostgreSQL.) On
//! PostgreSQL, inserts are counted by statement triggers over the transition tables, so a
//! bulk insert writes each counter row once; a user's day moves through a row trigger on
//! `user_activity`, which adds to one of 16 rows per day picked by the backend, as
//! `order_counts` does, so concurrent first orders of the day do not queue on the day's row;
//! it locks the earlier day first, and a user's day only moves later. The registrations'
//! counter is one row: a registration hashes its password (tens of milliseconds) before it
//! takes the lock for the rest of its short transaction. Anonymising a user (setting
//! `deleted_at`) is a row trigger, as it is rare.
//!
//! The indexes on posts' and comments' `created_at` served only the old count and go.
//! Users newest first get a partial index of the live ones, which `GET /users` and the
//! month's registrations read without visiting anonymised rows.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000012_user_activity"
    }
}

/// The day of each live user's latest activity, as the triggers would have kept it, given
/// the backend's expression for the day of the activity's time `at`.
fn backfill(day: &str) -> String {
    format!(
        "INSERT INTO user_activity (user_id, active_day) \
         SELECT a.user_id, MAX({day}) FROM ( \
           SELECT customer_id AS user_id, created_at AS at FROM orders \
           UNION ALL SELECT author_id, created_at FROM posts \
           UNION ALL SELECT author_id, created_at FROM comments) AS a \
         JOIN users u ON u.id = a.user_id AND u.deleted_at IS NULL \
         GROUP BY a.user_id"
    )
}

/// The day of a time, in whole days since 1970-01-01 (UTC).
fn postgres_day(time: &str) -> String {
    format!("CAST(floor(extract(epoch FROM {time}) / 86400) AS INTEGER)")
}

/// The same of SQLite's times, RFC 3339 text.
fn sqlite_day(time: &str) -> String {
    format!("unixepoch({time}) / 86400")
}

const TABLES: &[&str] = &[
    "CREATE TABLE user_activity ( \
       user_id uuid_text NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
       active_day INTEGER NOT NULL)",
    // PostgreSQL spreads each day over shards; a day's count is the sum of its rows.
    "CREATE TABLE activity_days ( \
       day INTEGER NOT NULL, shard SMALLINT NOT NULL, n BIGINT NOT NULL, \
       PRIMARY KEY (day, shard))",
    "CREATE TABLE user_count (id SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL)",
];

const COMMON_UP: &[&str] = &[
    "INSERT INTO activity_days (day, shard, n) \
     SELECT active_day, 0, COUNT(*) FROM user_activity GROUP BY active_day",
    "INSERT INTO user_count (id, n) SELECT 1, COUNT(*) FROM users WHERE deleted_at IS NULL",
    "DROP INDEX idx_posts_created_at",
    "DROP INDEX idx_comments_created_at",
    "CREATE INDEX idx_users_live_created ON users (created_at DESC, id DESC) \
     WHERE deleted_at IS NULL",
    "DROP INDEX idx_users_created_id",
];

const COMMON_DOWN: &[&str] = &[
    "CREATE INDEX idx_users_created_id ON users (created_at DESC, id DESC)",
    "DROP INDEX idx_users_live_created",
    "CREATE INDEX idx_comments_created_at ON comments (created_at)",
    "CREATE INDEX idx_posts_created_at ON posts (created_at)",
    "DROP TABLE user_count",
    "DROP TABLE activity_days",
    "DROP TABLE user_activity",
];

/// PostgreSQL's trigger function noting activity: each live user a statement names, with the
/// day of their latest activity in it, unless their kept day is that day or later (read
/// without a lock); in user order, so two transactions lock the rows in the same order.
fn postgres_note() -> String {
    let note = |user: &str| {
        let day = postgres_day("created_at");
        format!(
            "INSERT INTO user_activity (user_id, active_day) \
             SELECT n.user_id, n.day FROM ( \
               SELECT {user} AS user_id, MAX({day}) AS day FROM new_rows GROUP BY {user}) AS n \
             JOIN users u ON u.id = n.user_id AND u.deleted_at IS NULL \
             WHERE NOT EXISTS (SELECT 1 FROM user_activity k \
                               WHERE k.user_id = n.user_id AND k.active_day >= n.day) \
             ORDER BY n.user_id \
             ON CONFLICT (user_id) DO UPDATE SET active_day = EXCLUDED.active_day \
             WHERE user_activity.active_day < EXCLUDED.active_day;"
        )
    };
    format!(
        "CREATE FUNCTION user_activity_note() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF TG_TABLE_NAME = 'orders' THEN {} ELSE {} END IF; \
           RETURN NULL; \
         END $$",
        note("customer_id"),
        note("author_id")
    )
}

const POSTGRES_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER user_activity_orders AFTER INSERT ON orders \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION user_activity_note()",
    "CREATE TRIGGER user_activity_posts AFTER INSERT ON posts \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION user_activity_note()",
    "CREATE TRIGGER user_activity_comments AFTER INSERT ON comments \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION user_activity_note()",
    // A user's latest activity moving to a later day (or appearing, or going with the user),
    // in the backend's shard of each day: the earlier day first.
    "CREATE FUNCTION activity_days_move() RETURNS trigger LANGUAGE plpgsql AS $$ \
     DECLARE \
       pick SMALLINT := pg_backend_pid() % 16; \
     BEGIN \
       IF TG_OP <> 'INSERT' THEN \
         INSERT INTO activity_days (day, shard, n) VALUES (OLD.active_day, pick, -1) \
         ON CONFLICT (day, shard) DO UPDATE SET n = activity_days.n - 1; \
       END IF; \
       IF TG_OP <> 'DELETE' THEN \
         INSERT INTO activity_days (day, shard, n) VALUES (NEW.active_day, pick, 1) \
         ON CONFLICT (day, shard) DO UPDATE SET n = activity_days.n + 1; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER activity_days_move AFTER INSERT OR DELETE OR UPDATE OF active_day \
     ON user_activity FOR EACH ROW EXECUTE FUNCTION activity_days_move()",
    // A statement that inserts or deletes no live user writes nothing.
    "CREATE FUNCTION user_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         UPDATE user_count SET n = n + c.added \
         FROM (SELECT COUNT(*) AS added FROM new_rows WHERE deleted_at IS NULL) AS c \
         WHERE c.added <> 0; \
       ELSE \
         UPDATE user_count SET n = n - c.removed \
         FROM (SELECT COUNT(*) AS removed FROM old_rows WHERE deleted_at IS NULL) AS c \
         WHERE c.removed <> 0; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER user_count_insert AFTER INSERT ON users \
     REFERENCING NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION user_count_apply()",
    "CREATE TRIGGER user_count_delete AFTER DELETE ON users \
     REFERENCING OLD TABLE AS old_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION user_count_apply()",
    // Anonymising a user (or, in principle, restoring one).
    "CREATE FUNCTION user_liveness_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       UPDATE user_count SET n = n + CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE -1 END; \
       DELETE FROM user_activity WHERE user_id = NEW.id AND NEW.deleted_at IS NOT NULL; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER user_liveness AFTER UPDATE OF deleted_at ON users FOR EACH ROW \
     WHEN ((OLD.deleted_at IS NULL) IS DISTINCT FROM (NEW.deleted_at IS NULL)) \
     EXECUTE FUNCTION user_liveness_changed()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS user_liveness ON users",
    "DROP FUNCTION IF EXISTS user_liveness_changed()",
    "DROP TRIGGER IF EXISTS user_count_delete ON users",
    "DROP TRIGGER IF EXISTS user_count_insert ON users",
    "DROP FUNCTION IF EXISTS user_count_apply()",
    "DROP TRIGGER IF EXISTS activity_days_move ON user_activity",
    "DROP FUNCTION IF EXISTS activity_days_move()",
    "DROP TRIGGER IF EXISTS user_activity_comments ON comments",
    "DROP TRIGGER IF EXISTS user_activity_posts ON posts",
    "DROP TRIGGER IF EXISTS user_activity_orders ON orders",
    "DROP FUNCTION IF EXISTS user_activity_note()",
];

/// SQLite's trigger noting the activity of `new.{user}` (one writer at a time, so row
/// triggers and no shards).
fn sqlite_note(table: &str, user: &str) -> String {
    let day = sqlite_day("new.created_at");
    format!(
        "CREATE TRIGGER user_activity_{table} AFTER INSERT ON {table} \
         WHEN NOT EXISTS (SELECT 1 FROM user_activity \
                          WHERE user_id = new.{user} \
                          AND active_day >= {day}) \
         BEGIN \
         INSERT INTO user_activity (user_id, active_day) \
         SELECT id, {day} FROM users \
         WHERE id = new.{user} AND deleted_at IS NULL \
         ON CONFLICT (user_id) DO UPDATE SET active_day = excluded.active_day \
         WHERE user_activity.active_day < excluded.active_day; END"
    )
}

const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER activity_days_insert AFTER INSERT ON user_activity BEGIN \
     INSERT INTO activity_days (day, shard, n) VALUES (new.active_day, 0, 1) \
     ON CONFLICT (day, shard) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER activity_days_update AFTER UPDATE OF active_day ON user_activity \
     WHEN old.active_day <> new.active_day BEGIN \
     INSERT INTO activity_days (day, shard, n) VALUES (old.active_day, 0, -1) \
     ON CONFLICT (day, shard) DO UPDATE SET n = n - 1; \
     INSERT INTO activity_days (day, shard, n) VALUES (new.active_day, 0, 1) \
     ON CONFLICT (day, shard) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER activity_days_delete AFTER DELETE ON user_activity BEGIN \
     INSERT INTO activity_days (day, shard, n) VALUES (old.active_day, 0, -1) \
     ON CONFLICT (day, shard) DO UPDATE SET n = n - 1; END",
    "CREATE TRIGGER user_count_insert AFTER INSERT ON users WHEN new.deleted_at IS NULL BEGIN \
     UPDATE user_count SET n = n + 1; END",
    "CREATE TRIGGER user_count_delete AFTER DELETE ON users WHEN old.deleted_at IS NULL BEGIN \
     UPDATE user_count SET n = n - 1; END",
    "CREATE TRIGGER user_liveness AFTER UPDATE OF deleted_at ON users \
     WHEN (old.deleted_at IS NULL) <> (new.deleted_at IS NULL) BEGIN \
     UPDATE user_count SET n = n + CASE WHEN new.deleted_at IS NULL THEN 1 ELSE -1 END; \
     DELETE FROM user_activity WHERE user_id = new.id AND new.deleted_at IS NOT NULL; END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS user_liveness",
    "DROP TRIGGER IF EXISTS user_count_delete",
    "DROP TRIGGER IF EXISTS user_count_insert",
    "DROP TRIGGER IF EXISTS activity_days_delete",
    "DROP TRIGGER IF EXISTS activity_days_update",
    "DROP TRIGGER IF EXISTS activity_days_insert",
    "DROP TRIGGER IF EXISTS user_activity_comments",
    "DROP TRIGGER IF EXISTS user_activity_posts",
    "DROP TRIGGER IF EXISTS user_activity_orders",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == sea_orm::DbBackend::Postgres;
        // The SQLite types of the other tables; PostgreSQL's own where they differ.
        let tables: Vec<String> = TABLES
            .iter()
            .map(|sql| {
                if postgres {
                    sql.replace("uuid_text", "UUID")
                } else {
                    (*sql).to_owned()
                }
            })
            .collect();
        let backfill = backfill(&if postgres {
            postgres_day("at")
        } else {
            sqlite_day("at")
        });
        let mut up: Vec<&str> = tables.iter().map(String::as_str).collect();
        up.push(&backfill);
        up.extend(COMMON_UP);
        crate::run(manager, &up).await?;
        if postgres {
            let note = postgres_note();
            let triggers: Vec<&str> = [note.as_str()]
                .into_iter()
                .chain(POSTGRES_TRIGGERS.iter().copied())
                .collect();
            return crate::run(manager, &triggers).await;
        }
        let notes = [
            sqlite_note("orders", "customer_id"),
            sqlite_note("posts", "author_id"),
            sqlite_note("comments", "author_id"),
        ];
        let triggers: Vec<&str> = SQLITE_TRIGGERS
            .iter()
            .copied()
            .chain(notes.iter().map(String::as_str))
            .collect();
        crate::run(manager, &triggers).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await?;
        crate::run(manager, COMMON_DOWN).await
    }
}
