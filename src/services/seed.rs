//! `ecommerce-api seed`: demo data for trying the API and for measuring it at scale —
//! categories, products, users, reviews, orders and blog posts.
//!
//! The data has the shape of a real shop rather than a uniform grid: a few products sell far
//! more than the rest and carry most reviews, some customers order again and again, and product
//! names mix common words (a handful of adjectives, nouns and materials) with brand names drawn
//! from a long tail of thousands, so a search can match a tenth of the catalogue or one product.
//!
//! Rows go in a few thousand per statement (a multi-row `INSERT` on SQLite, one JSON array on
//! PostgreSQL) inside one transaction, so a failure leaves nothing behind; on PostgreSQL a
//! table the seed at least doubles is loaded without its secondary indexes, foreign keys and
//! counting triggers, which are restored before the commit. Generation is seeded by the
//! options, so the same options give the same data. Running it again adds products and
//! orders; categories, users and posts are numbered, and those that exist already are kept.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::{Alias, OnConflict, Query};
use sea_orm::{ConnectionTrait, Value};

use crate::db::{self, Db, money};
use crate::domain::{CategoryId, Money, OrderId, PostId, ProductId, ReviewId, Slug, TagId, UserId};
use crate::error::{AppError, FieldError};
use crate::services::accounts::Passwords;
use crate::services::orders::{EVENT_PLACED, EVENT_STATUS_CHANGED};

/// The password of every demo user (`demo1@example.com`, `demo2@example.com` …).
pub const DEMO_PASSWORD: &str = "demo password";
/// The most rows of one kind a seed adds; `seed` refuses more before it writes anything.
pub const MAX_ROWS: usize = 10_000_000;
/// Bound parameters per `INSERT`: under SQLite's 32,766 and PostgreSQL's 65,535, and large
/// enough that a round trip carries thousands of rows.
const PARAMS_PER_STATEMENT: usize = 30_000;
/// The SQLite writer's page cache while it seeds. SQLite's default of 2,000 KiB is restored
/// when the load commits; after a failed load the seed command exits anyway.
const SQLITE_SEED_CACHE_KIB: u32 = 128 * 1024;
/// How often a long table reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How much to add. The defaults are the demo data of a fresh install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    pub products: usize,
    /// Demo users `demo1` … `demoN`; those that exist already are kept.
    pub users: usize,
    pub orders: usize,
    /// The first eight are the welcome posts; posts that exist already are kept.
    pub posts: usize,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            products: 1000,
            users: 20,
            orders: 0,
            posts: POSTS.len(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub categories: usize,
    pub products: usize,
    pub users: usize,
    pub reviews: usize,
    pub orders: usize,
    pub order_items: usize,
    pub order_events: usize,
    pub posts: usize,
}

impl SeedReport {
    pub fn rows(&self) -> usize {
        self.categories
            + self.products
            + self.users
            + self.reviews
            + self.orders
            + self.order_items
            + self.order_events
            + self.posts
    }
}

/// How far one table (or the rebuild after a bulk load) has got, for a progress line on a
/// terminal.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub table: &'static str,
    pub done: usize,
    pub total: usize,
    pub counted: Counted,
    pub elapsed: Duration,
}

/// What a [`Progress`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Rows,
    /// The index builds, foreign keys and recounts after a bulk load.
    Statements,
}

const CATEGORIES: &[&str] = &[
    "Running",
    "Hiking",
    "Cycling",
    "Swimming",
    "Camping",
    "Climbing",
    "Yoga",
    "Tennis",
    "Kitchen",
    "Coffee",
    "Books",
    "Electronics",
];
const ADJECTIVES: &[&str] = &[
    "Lightweight",
    "Waterproof",
    "Classic",
    "Ultra",
    "Compact",
    "Ergonomic",
    "Vintage",
    "Premium",
    "Rugged",
    "Breathable",
    "Insulated",
    "Foldable",
    "Wireless",
    "Handmade",
    "Reflective",
    "Quick-Dry",
    "Organic",
    "Heavy-Duty",
    "Minimalist",
    "Adjustable",
];
const MATERIALS: &[&str] = &[
    "Merino",
    "Carbon",
    "Leather",
    "Bamboo",
    "Titanium",
    "Cotton",
    "Nylon",
    "Steel",
    "Ceramic",
    "Walnut",
    "Aluminium",
    "Canvas",
    "Wool",
    "Cork",
    "Silicone",
];
const NOUNS: &[&str] = &[
    "Shoe",
    "Jacket",
    "Backpack",
    "Bottle",
    "Tent",
    "Helmet",
    "Glove",
    "Sock",
    "Mat",
    "Racket",
    "Mug",
    "Kettle",
    "Lamp",
    "Headphones",
    "Notebook",
    "Watch",
    "Shorts",
    "Hoodie",
    "Stove",
    "Grinder",
    "Sleeping Bag",
    "Rope",
    "Towel",
    "Speaker",
    "Pan",
];
const PHRASES: &[&str] = &[
    "built for long runs on rough trails",
    "keeps you dry when the weather turns",
    "packs down small for travel",
    "made from recycled materials",
    "tested through a full season of daily use",
    "comfortable from the first wear",
    "easy to clean and quick to dry",
    "designed with athletes and weekend hikers",
    "a favourite for running in the city",
    "brews a rich cup every morning",
    "warm enough for winter camping",
    "balanced for fast swimming and cycling",
    "with a lifetime repair guarantee",
    "that fits neatly in any kitchen",
];
const POSTS: &[(&str, &[&str])] = &[
    ("Welcome to the shop", &["news"]),
    ("How we pick running shoes", &["running", "guides"]),
    (
        "Ten things to pack for a weekend hike",
        &["hiking", "guides"],
    ),
    ("Brewing better coffee at home", &["coffee"]),
    ("Our favourite tents this year", &["camping", "reviews"]),
    ("Caring for merino wool", &["guides"]),
    ("Summer sale: what's new", &["news"]),
    ("Getting started with climbing", &["climbing", "guides"]),
];

const BRAND_SYLLABLES: &[&str] = &[
    "ba", "be", "bo", "da", "de", "di", "fa", "fi", "ga", "go", "ka", "ke", "ki", "ko", "la", "le",
    "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pe", "ra", "ri", "ro", "sa", "se",
    "si", "so", "ta", "te", "ti", "to", "va", "vi", "za", "zo",
];
/// Brands in the long tail: the most common is in about a tenth of the names, most in a few.
const BRANDS: usize = 20_000;
const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ben", "Chen", "Clara", "Dario", "Elena", "Femi", "Grace", "Hana",
    "Ivan", "Jamal", "Julia", "Kai", "Lena", "Luis", "Maya", "Nia", "Omar", "Priya", "Quinn",
    "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yara", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi",
    "Smith", "Tanaka", "Urban", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang",
];
const COMMENTS: &[&str] = &[
    "Exactly as described.",
    "Great quality for the price.",
    "Arrived quickly, works well.",
    "Good, but runs a little small.",
    "Would buy again.",
    "Not for me, sadly.",
];
/// Order statuses with their share: most orders of a year are delivered.
const STATUSES: &[(&str, u32)] = &[
    ("DELIVERED", 60),
    ("SHIPPED", 10),
    ("CONFIRMED", 8),
    ("PENDING", 12),
    ("CANCELLED", 10),
];
const YEAR_SECS: i64 = 31_536_000;

/// Adds demo data as `options` say, in one transaction, reporting each table's progress.
pub async fn seed(
    db: &Db,
    passwords: &Passwords,
    options: &SeedOptions,
    progress: &dyn Fn(Progress),
) -> Result<SeedReport, AppError> {
    let SeedOptions {
        products,
        users,
        orders,
        posts,
    } = *options;
    let too_many: Vec<FieldError> = [
        ("products", products),
        ("users", users),
        ("orders", orders),
        ("posts", posts),
    ]
    .into_iter()
    .filter(|(_, n)| *n > MAX_ROWS)
    .map(|(field, _)| FieldError::new(field, format!("must be at most {MAX_ROWS}")))
    .collect();
    if !too_many.is_empty() {
        return Err(AppError::Validation(too_many));
    }
    let password_hash = passwords.hash(DEMO_PASSWORD).await?;
    let mut rng = StdRng::seed_from_u64(
        [products, users, orders, posts]
            .iter()
            .fold(0x5eed_u64, |acc, &n| acc.rotate_left(17) ^ n as u64),
    );
    let txn = db.begin_write().await?;
    if db.backend() == sea_orm::DbBackend::Sqlite {
        // The writer's page cache, for this load only: at a million orders the indexes it
        // inserts into outgrow SQLite's 2 MiB, and every insert read its pages back from the
        // file.
        txn.execute_unprepared(&format!("PRAGMA cache_size = -{SQLITE_SEED_CACHE_KIB}"))
            .await?;
    }
    let mut report = SeedReport::default();
    let set_aside = set_aside(
        &txn,
        &[
            ("users", users),
            ("products", products),
            ("reviews", products / 4),
            ("orders", orders),
            ("order_items", orders * 5 / 2),
            ("order_events", orders * 3 / 2),
        ],
    )
    .await?;

    let categories = seed_categories(&txn, &mut report).await?;
    let mut users =
        seed_users(&txn, &mut rng, &password_hash, users, &mut report, progress).await?;
    let mut listed = seed_products(&txn, &mut rng, &categories, products, progress).await?;
    report.products = listed.len();
    if orders > 0 && listed.is_empty() {
        listed = existing_products(&txn).await?;
    }
    let catalogue = Catalogue::new(listed, &mut rng);
    // Loyalty follows the order of the list, so shuffle it: the most loyal customers are not
    // simply the first accounts.
    users.shuffle(&mut rng);
    report.reviews = seed_reviews(&txn, &mut rng, &catalogue, &users, progress).await?;
    seed_orders(
        &txn,
        &mut rng,
        &catalogue,
        &users,
        orders,
        &mut report,
        progress,
    )
    .await?;
    report.posts = seed_posts(&txn, &mut rng, &users, posts, progress).await?;
    restore(&txn, &set_aside, progress).await?;
    if db.backend() == sea_orm::DbBackend::Sqlite {
        txn.execute_unprepared("PRAGMA cache_size = -2000").await?;
    }
    txn.commit().await?;
    // Fresh statistics, so the planner sees the tables as they now are; on PostgreSQL also
    // reclaim the row versions the recounts left behind, before autovacuum would. On SQLite,
    // merge the FTS5 indexes' segments, which a load of thousands of rows per statement
    // leaves many of, so a search reads fewer segments per word.
    let finish: &[&str] = match db.backend() {
        sea_orm::DbBackend::Postgres => &["VACUUM ANALYZE"],
        _ => &[
            "INSERT INTO products_fts (products_fts) VALUES ('optimize')",
            "INSERT INTO users_trgm (users_trgm) VALUES ('optimize')",
            "ANALYZE",
        ],
    };
    for statement in finish {
        db.write().execute_unprepared(statement).await?;
    }
    Ok(report)
}

/// Triggers that keep aggregates of a table in another, with the statements that recompute
/// them all at once: a bulk load of the table runs those once instead of the triggers per
/// row or per statement (a review's firing rewrote a product row, full-text vector and all;
/// an order's rewrote its customer's latest activity and moved it between days, a hundred
/// times over per customer at a million orders, and made SQLite's load of orders four times
/// slower).
struct Aggregate {
    /// The bulk-loaded table.
    loaded: &'static str,
    postgres: Recount,
    sqlite: Recount,
    /// What recomputes it on either backend, after the backend's own statements.
    then: &'static [&'static str],
}

/// One backend's triggers of an [`Aggregate`] and its own statements that recompute it.
struct Recount {
    /// `(table, trigger)`: the triggers set aside while the table loads.
    triggers: &'static [(&'static str, &'static str)],
    statements: &'static [&'static str],
}

/// Every product's review count and rating total, written where they differ.
const REVIEWS_OF_PRODUCTS: &str = "UPDATE products AS p \
     SET review_count = r.n, rating_total = r.total \
     FROM (SELECT product_id, COUNT(*) AS n, SUM(rating) AS total FROM reviews \
           GROUP BY product_id) AS r \
     WHERE p.id = r.product_id AND (p.review_count <> r.n OR p.rating_total <> r.total)";

/// The day of every customer's latest order, kept where it is later already: the statement
/// for PostgreSQL's and for SQLite's day of `o.created_at`.
macro_rules! activity_of_customers {
    ($day:literal) => {
        concat!(
            "INSERT INTO user_activity (user_id, active_day) \
             SELECT o.customer_id, MAX(",
            $day,
            ") FROM orders o \
             JOIN users u ON u.id = o.customer_id AND u.deleted_at IS NULL \
             WHERE TRUE GROUP BY o.customer_id \
             ON CONFLICT (user_id) DO UPDATE SET active_day = excluded.active_day \
             WHERE user_activity.active_day < excluded.active_day"
        )
    };
}

/// The users by the day of their latest activity, counted afresh: also for the activity the
/// seed adds while the day triggers are off (its posts).
const ACTIVITY_DAYS_RECOUNT: &[&str] = &[
    "DELETE FROM activity_days",
    "INSERT INTO activity_days (day, shard, n) \
     SELECT active_day, 0, COUNT(*) FROM user_activity GROUP BY active_day",
];

const AGGREGATES: &[Aggregate] = &[
    Aggregate {
        loaded: "reviews",
        postgres: Recount {
            triggers: &[("reviews", "reviews_aggregate")],
            statements: &[],
        },
        sqlite: Recount {
            triggers: &[("reviews", "reviews_aggregate_insert")],
            statements: &[],
        },
        then: &[REVIEWS_OF_PRODUCTS],
    },
    Aggregate {
        loaded: "orders",
        postgres: Recount {
            triggers: &[
                ("orders", "user_activity_orders"),
                ("user_activity", "activity_days_move"),
            ],
            statements: &[activity_of_customers!(
                "CAST(floor(extract(epoch FROM o.created_at) / 86400) AS INTEGER)"
            )],
        },
        sqlite: Recount {
            triggers: &[
                ("orders", "user_activity_orders"),
                ("user_activity", "activity_days_insert"),
                ("user_activity", "activity_days_update"),
            ],
            statements: &[activity_of_customers!("unixepoch(o.created_at) / 86400")],
        },
        then: ACTIVITY_DAYS_RECOUNT,
    },
];

/// A table the seed adds at least this many rows to, and at least as many as it holds, is
/// loaded without its aggregate triggers and, on PostgreSQL, its secondary indexes and
/// foreign keys.
const BULK_ROWS: usize = 10_000;

/// Sets aside the aggregate triggers ([`AGGREGATES`]) and, on PostgreSQL, the non-unique
/// indexes and the foreign keys of each table the seed at least doubles (by its planned
/// rows), and returns the statements that restore them for [`restore`].
///
/// Each row inserted into an indexed table updates every index on it (the products'
/// full-text and trigram GIN indexes cost more per row than the row itself), and each row
/// with a foreign key runs a lookup of the row it names: at a million orders those per-row
/// checks were three fifths of the database's time. One sorted build per index and one join
/// per foreign key after the load cost a fraction of that and end in the same schema. The
/// drops and the restores run in the seed's transaction, so a failure leaves everything as
/// it was; the tables stay locked until the seed commits. Unique indexes stay: the conflict
/// clauses and the foreign keys use them. SQLite keeps its indexes and checks: its FTS5 table
/// is kept by triggers, and its foreign keys cannot be dropped from a table. It cannot switch
/// a trigger off either, so an aggregate trigger is dropped and created again from its text.
async fn set_aside(
    db: &impl ConnectionTrait,
    planned: &[(&str, usize)],
) -> Result<Vec<String>, AppError> {
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let mut aggregates = Vec::new();
    let mut indexes = Vec::new();
    let mut keys = Vec::new();
    let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    for &(table, rows) in planned {
        if rows < BULK_ROWS {
            continue;
        }
        // PostgreSQL's estimate is enough to compare with; SQLite keeps none.
        let held = if postgres {
            "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class \
             WHERE oid = CAST($1 AS regclass)"
                .to_owned()
        } else {
            format!("SELECT COUNT(*) FROM {table}")
        };
        let values = if postgres { vec![table.into()] } else { vec![] };
        let held: i64 = db
            .query_one_raw(db::sql(db, &held, values))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the table {table} exists"))?
            .try_get_by_index(0)?;
        if i64::try_from(rows).unwrap_or(i64::MAX) < held {
            continue;
        }
        for aggregate in AGGREGATES.iter().filter(|a| a.loaded == table) {
            let recount = if postgres {
                &aggregate.postgres
            } else {
                &aggregate.sqlite
            };
            let mut triggers = Vec::new();
            for &(owner, trigger) in recount.triggers {
                if postgres {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {owner} DISABLE TRIGGER {trigger}"
                    ))
                    .await?;
                    triggers.push(format!("ALTER TABLE {owner} ENABLE TRIGGER {trigger}"));
                } else {
                    let definition: String = db
                        .query_one_raw(db::sql(
                            db,
                            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1",
                            [trigger.into()],
                        ))
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("the trigger {trigger} exists"))?
                        .try_get_by_index(0)?;
                    db.execute_unprepared(&format!("DROP TRIGGER {trigger}"))
                        .await?;
                    triggers.push(definition);
                }
            }
            aggregates.extend(
                recount
                    .statements
                    .iter()
                    .chain(aggregate.then)
                    .map(|sql| (*sql).to_owned()),
            );
            aggregates.extend(triggers);
        }
        if !postgres {
            continue;
        }
        for index in db
            .query_all_raw(db::sql(
                db,
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x \
                 JOIN pg_class i ON i.oid = x.indexrelid \
                 WHERE x.indrelid = CAST($1 AS regclass) AND NOT x.indisunique \
                 ORDER BY i.relname",
                [table.into()],
            ))
            .await?
        {
            let name: String = index.try_get_by_index(0)?;
            db.execute_unprepared(&format!("DROP INDEX {}", quoted(&name)))
                .await?;
            indexes.push(index.try_get_by_index(1)?);
        }
        for key in db
            .query_all_raw(db::sql(
                db,
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE conrelid = CAST($1 AS regclass) AND contype = 'f' ORDER BY conname",
                [table.into()],
            ))
            .await?
        {
            let name: String = key.try_get_by_index(0)?;
            let definition: String = key.try_get_by_index(1)?;
            db.execute_unprepared(&format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                quoted(table),
                quoted(&name)
            ))
            .await?;
            keys.push(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
                quoted(table),
                quoted(&name)
            ));
        }
    }
    // Counters first, while the tables they update have no secondary indexes to maintain;
    // then indexes, so a foreign key's check reads a settled table.
    aggregates.extend(indexes);
    aggregates.extend(keys);
    Ok(aggregates)
}

/// Runs the statements [`set_aside`] returned, with room for index builds to sort in memory.
async fn restore(
    db: &impl ConnectionTrait,
    statements: &[String],
    progress: &dyn Fn(Progress),
) -> Result<(), AppError> {
    if statements.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("SET LOCAL maintenance_work_mem = '256MB'")
            .await?;
    }
    for (done, statement) in statements.iter().enumerate() {
        db.execute_unprepared(statement).await?;
        progress(Progress {
            table: match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "indexes, foreign keys and counters",
                _ => "counters",
            },
            done: done + 1,
            total: statements.len(),
            counted: Counted::Statements,
            elapsed: started.elapsed(),
        });
    }
    Ok(())
}

/// Draws ranks `0..n` with probability falling as `1 / (rank + 1)^exponent`: a long tail.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += (rank as f64).powf(-exponent);
                total
            })
            .collect();
        Zipf(cumulative)
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.0.last().copied().unwrap_or(0.0);
        let target = rng.random_range(0.0..1.0) * total;
        self.0
            .partition_point(|&c| c <= target)
            .min(self.0.len().saturating_sub(1))
    }
}

/// Rows for one table, written a statement of thousands of rows at a time.
struct Inserter<'a> {
    table: &'static str,
    columns: &'static [&'static str],
    /// Rows whose key exists already are skipped.
    conflict: Option<&'static [&'static str]>,
    rows: Vec<Vec<Value>>,
    per_statement: usize,
    inserted: usize,
    pushed: usize,
    total: usize,
    started: Instant,
    reported: Instant,
    progress: &'a dyn Fn(Progress),
}

impl<'a> Inserter<'a> {
    fn new(
        table: &'static str,
        columns: &'static [&'static str],
        total: usize,
        progress: &'a dyn Fn(Progress),
    ) -> Self {
        let per_statement = PARAMS_PER_STATEMENT / columns.len();
        Inserter {
            table,
            columns,
            conflict: None,
            rows: Vec::with_capacity(per_statement.min(total)),
            per_statement,
            inserted: 0,
            pushed: 0,
            total,
            started: Instant::now(),
            reported: Instant::now(),
            progress,
        }
    }

    fn skip_existing(mut self, key: &'static [&'static str]) -> Self {
        self.conflict = Some(key);
        self
    }

    async fn push(&mut self, db: &impl ConnectionTrait, row: Vec<Value>) -> Result<(), AppError> {
        self.queue(row);
        if self.is_full() {
            self.flush(db).await?;
        }
        Ok(())
    }

    /// Holds a row for the next statement; the caller flushes, for rows that must wait for
    /// the rows of another table they name.
    fn queue(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
        self.pushed += 1;
    }

    fn is_full(&self) -> bool {
        self.rows.len() >= self.per_statement
    }

    async fn flush(&mut self, db: &impl ConnectionTrait) -> Result<(), AppError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let written = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => self.insert_recordset(db).await?,
            _ => self.insert_values(db).await?,
        };
        self.inserted += usize::try_from(written).unwrap_or(0);
        if self.reported.elapsed() >= PROGRESS_EVERY {
            self.reported = Instant::now();
            self.report();
        }
        Ok(())
    }

    /// PostgreSQL: the rows as one JSON array, unpacked into the table's own row type. A
    /// `VALUES` list of thousands of rows is planned expression by expression, and at a
    /// million rows that planning was two fifths of the database's time; one parameter is
    /// planned once whatever it holds.
    async fn insert_recordset(&mut self, db: &impl ConnectionTrait) -> Result<u64, AppError> {
        let mut json = String::with_capacity(self.rows.len() * 64 * self.columns.len());
        json.push('[');
        for (n, row) in self.rows.drain(..).enumerate() {
            if n > 0 {
                json.push(',');
            }
            json.push('{');
            for (i, (column, value)) in self.columns.iter().zip(row).enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json.push('"');
                json.push_str(column);
                json.push_str("\":");
                push_json(&mut json, &value)?;
            }
            json.push('}');
        }
        json.push(']');
        let columns = self.columns.join(", ");
        let conflict = self
            .conflict
            .map(|key| format!(" ON CONFLICT ({}) DO NOTHING", key.join(", ")))
            .unwrap_or_default();
        let sql = format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} \
             FROM json_populate_recordset(NULL::{table}, CAST($1 AS json)){conflict}",
            table = self.table
        );
        Ok(db
            .execute_raw(db::sql(db, &sql, [json.into()]))
            .await?
            .rows_affected())
    }

    async fn insert_values(&mut self, db: &impl ConnectionTrait) -> Result<u64, AppError> {
        let mut insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns(self.columns.iter().map(|c| Alias::new(*c)))
            .to_owned();
        if let Some(key) = self.conflict {
            insert.on_conflict(
                OnConflict::columns(key.iter().map(|c| Alias::new(*c)))
                    .do_nothing()
                    .to_owned(),
            );
        }
        for row in self.rows.drain(..) {
            insert.values_panic(row.into_iter().map(Into::into));
        }
        Ok(db.execute(&insert).await?.rows_affected())
    }

    fn report(&self) {
        (self.progress)(Progress {
            table: self.table,
            done: self.pushed,
            total: self.total,
            counted: Counted::Rows,
            elapsed: self.started.elapsed(),
        });
    }

    /// Writes what is left and returns how many rows went in.
    async fn finish(mut self, db: &impl ConnectionTrait) -> Result<usize, AppError> {
        self.flush(db).await?;
        if self.total > 0 {
            self.report();
        }
        Ok(self.inserted)
    }
}

/// Appends one seeded value as JSON that PostgreSQL reads back as the column's type: the
/// kinds of value the seed writes, and an error for any other rather than a guess.
fn push_json(json: &mut String, value: &Value) -> Result<(), AppError> {
    use std::fmt::Write;
    let written = match value {
        Value::Bool(Some(b)) => write!(json, "{b}"),
        Value::SmallInt(Some(n)) => write!(json, "{n}"),
        Value::Int(Some(n)) => write!(json, "{n}"),
        Value::BigInt(Some(n)) => write!(json, "{n}"),
        // As text, so no amount passes through a float.
        Value::Decimal(Some(d)) => write!(json, "\"{d}\""),
        Value::Uuid(Some(id)) => write!(json, "\"{id}\""),
        Value::ChronoDateTimeUtc(Some(at)) => write!(json, "\"{}\"", at.to_rfc3339()),
        Value::String(Some(text)) => {
            json.push_str(&serde_json::to_string(text).map_err(anyhow::Error::from)?);
            Ok(())
        }
        Value::Bool(None)
        | Value::SmallInt(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Decimal(None)
        | Value::Uuid(None)
        | Value::ChronoDateTimeUtc(None)
        | Value::String(None) => write!(json, "null"),
        other => {
            return Err(anyhow::anyhow!("the seed does not write values like {other:?}").into());
        }
    };
    written.map_err(anyhow::Error::from)?;
    Ok(())
}

async fn ids_of<T: sea_orm::TryGetable>(
    db: &impl ConnectionTrait,
    sql: &str,
) -> Result<Vec<T>, AppError> {
    let rows = db.query_all_raw(db::sql(db, sql, [])).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get_by_index::<T>(0))
        .collect::<Result<_, _>>()?)
}

async fn seed_categories(
    db: &impl ConnectionTrait,
    report: &mut SeedReport,
) -> Result<Vec<CategoryId>, AppError> {
    let now = db::now();
    let ignore = |_: Progress| {};
    let mut insert = Inserter::new(
        "categories",
        &["id", "name", "slug", "created_at", "updated_at"],
        0,
        &ignore,
    )
    .skip_existing(&["name"]);
    for name in CATEGORIES {
        let slug = Slug::from_text(name).expect("category names have letters");
        insert
            .push(
                db,
                vec![
                    CategoryId::generate().into(),
                    (*name).into(),
                    slug.as_str().into(),
                    now.into(),
                    now.into(),
                ],
            )
            .await?;
    }
    report.categories = insert.finish(db).await?;
    ids_of(db, "SELECT id FROM categories ORDER BY name").await
}

/// `demo1@example.com` … `demo{count}@example.com`, all with [`DEMO_PASSWORD`].
async fn seed_users(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    password_hash: &str,
    count: usize,
    report: &mut SeedReport,
    progress: &dyn Fn(Progress),
) -> Result<Vec<UserId>, AppError> {
    let now = db::now();
    let mut insert = Inserter::new(
        "users",
        &[
            "id",
            "email",
            "password_hash",
            "name",
            "role",
            "created_at",
            "updated_at",
        ],
        count,
        progress,
    )
    .skip_existing(&["email"]);
    for n in 1..=count {
        let name = format!(
            "{} {}",
            FIRST_NAMES.choose(rng).expect("not empty"),
            LAST_NAMES.choose(rng).expect("not empty")
        );
        let created = now - chrono::Duration::seconds(rng.random_range(0..2 * YEAR_SECS));
        insert
            .push(
                db,
                vec![
                    UserId::generate().into(),
                    format!("demo{n}@example.com").into(),
                    password_hash.into(),
                    name.into(),
                    "USER".into(),
                    created.into(),
                    created.into(),
                ],
            )
            .await?;
    }
    report.users = insert.finish(db).await?;
    ids_of(
        db,
        "SELECT id FROM users WHERE email LIKE 'demo%@example.com' AND deleted_at IS NULL",
    )
    .await
}

/// What an order line needs of a product.
#[derive(Debug, Clone)]
struct Listed {
    id: ProductId,
    name: String,
    price: Money,
}

fn brand(rank: usize) -> String {
    // Spread the ranks over the syllable space, so neighbouring ranks do not look alike.
    let n = BRAND_SYLLABLES.len();
    let mut code = (rank * 7_919 + 13) % (n * n * n);
    let mut word = String::with_capacity(6);
    for _ in 0..3 {
        word.push_str(BRAND_SYLLABLES[code % n]);
        code /= n;
    }
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn seed_products(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    categories: &[CategoryId],
    count: usize,
    progress: &dyn Fn(Progress),
) -> Result<Vec<Listed>, AppError> {
    let backend = db.get_database_backend();
    let now = db::now();
    let adjectives = Zipf::new(ADJECTIVES.len(), 1.0);
    let brands = Zipf::new(BRANDS, 1.0);
    let mut listed = Vec::with_capacity(count);
    let mut insert = Inserter::new(
        "products",
        &[
            "id",
            "name",
            "description",
            "price",
            "in_stock",
            "archived",
            "category_id",
            "created_at",
            "updated_at",
        ],
        count,
        progress,
    );
    for _ in 0..count {
        let id = ProductId::generate();
        let name = format!(
            "{} {} {} {}",
            brand(brands.sample(rng)),
            ADJECTIVES[adjectives.sample(rng)],
            MATERIALS.choose(rng).expect("not empty"),
            NOUNS.choose(rng).expect("not empty"),
        );
        let mut phrases: Vec<&str> = PHRASES.choose_multiple(rng, 2).copied().collect();
        phrases.shuffle(rng);
        let description = format!(
            "A {} for every day, {} and {}.",
            name.to_lowercase(),
            phrases[0],
            phrases[1]
        );
        // Cheap things are common and dear ones rare: uniform in the logarithm of the price.
        let cents = rng
            .random_range(199_f64.ln()..49_999_f64.ln())
            .exp()
            .round() as i64;
        let price = Money::from_cents(cents).expect("in range");
        let stock = if rng.random_bool(0.05) {
            0
        } else {
            rng.random_range(1..=200_i32)
        };
        // Spread over the past year, so lists and cursors have a real order to walk.
        let created = now - chrono::Duration::seconds(rng.random_range(0..YEAR_SECS));
        let category: Option<CategoryId> = if rng.random_bool(0.9) {
            categories.choose(rng).copied()
        } else {
            None
        };
        insert
            .push(
                db,
                vec![
                    id.into(),
                    name.clone().into(),
                    description.into(),
                    money::to_value(backend, price),
                    Value::from(stock),
                    false.into(),
                    category.into(),
                    created.into(),
                    created.into(),
                ],
            )
            .await?;
        listed.push(Listed { id, name, price });
    }
    insert.finish(db).await?;
    Ok(listed)
}

/// The products reviews and orders draw from, with how popular each is.
struct Catalogue {
    products: Vec<Listed>,
    popularity: Zipf,
}

impl Catalogue {
    /// Popularity follows the order of the list, so it is shuffled first: the bestsellers are
    /// not simply the oldest products.
    fn new(mut products: Vec<Listed>, rng: &mut StdRng) -> Self {
        products.shuffle(rng);
        let popularity = Zipf::new(products.len(), 1.0);
        Catalogue {
            products,
            popularity,
        }
    }

    /// The index of a product, drawn by popularity.
    fn pick(&self, rng: &mut StdRng) -> usize {
        self.popularity.sample(rng)
    }
}

/// The products on sale, for orders when this run adds none.
async fn existing_products(db: &impl ConnectionTrait) -> Result<Vec<Listed>, AppError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(db::sql(
            db,
            "SELECT id, name, price FROM products WHERE NOT archived",
            [],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                id: ProductId(row.try_get("", "id")?),
                name: row.try_get("", "name")?,
                price: money::read(row, "price", backend)?,
            })
        })
        .collect()
}

/// Reviews a product gets at most from the seed.
const MAX_REVIEWS_PER_PRODUCT: u8 = 20;

/// About one review for every four products, most of them on the popular ones.
async fn seed_reviews(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    catalogue: &Catalogue,
    users: &[UserId],
    progress: &dyn Fn(Progress),
) -> Result<usize, AppError> {
    let products = &catalogue.products;
    if products.is_empty() || users.is_empty() {
        return Ok(0);
    }
    let wanted = products.len() / 4 + 1;
    let mut per_product = vec![0_u8; products.len()];
    let now = db::now();
    let mut seen = HashSet::with_capacity(wanted);
    let mut insert = Inserter::new(
        "reviews",
        &[
            "id",
            "product_id",
            "user_id",
            "rating",
            "comment",
            "created_at",
        ],
        wanted,
        progress,
    )
    .skip_existing(&["product_id", "user_id"]);
    // A bounded number of draws: a small shop runs out of distinct reviewers for its
    // bestsellers long before it runs out of draws.
    for _ in 0..wanted * 2 {
        if seen.len() == wanted {
            break;
        }
        let product = catalogue.pick(rng);
        let user = rng.random_range(0..users.len());
        // Each review rewrites its product's aggregates: a bestseller with thousands of
        // them in one transaction would leave a chain of thousands of row versions that
        // every later read of that product walks.
        if per_product[product] >= MAX_REVIEWS_PER_PRODUCT || !seen.insert((product, user)) {
            continue;
        }
        per_product[product] += 1;
        let created = now - chrono::Duration::seconds(rng.random_range(0..YEAR_SECS));
        insert
            .push(
                db,
                vec![
                    ReviewId::generate().into(),
                    products[product].id.into(),
                    users[user].into(),
                    Value::from(rng.random_range(1..=5_i16)),
                    (*COMMENTS.choose(rng).expect("not empty")).into(),
                    created.into(),
                ],
            )
            .await?;
    }
    insert.finish(db).await
}

/// Orders of the past year: one to four lines of popular products, placed mostly by the
/// same loyal customers, each with its history.
async fn seed_orders(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    catalogue: &Catalogue,
    users: &[UserId],
    count: usize,
    report: &mut SeedReport,
    progress: &dyn Fn(Progress),
) -> Result<(), AppError> {
    let products = &catalogue.products;
    if count == 0 || products.is_empty() || users.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let now = db::now();
    let loyalty = Zipf::new(users.len(), 0.6);
    let mut orders = Inserter::new(
        "orders",
        &[
            "id",
            "customer_id",
            "status",
            "total",
            "created_at",
            "updated_at",
        ],
        count,
        progress,
    );
    let mut items = Inserter::new(
        "order_items",
        &[
            "id",
            "order_id",
            "product_id",
            "product_name",
            "quantity",
            "price",
        ],
        count * 2,
        progress,
    );
    let mut events = Inserter::new(
        "order_events",
        &[
            "id",
            "order_id",
            "kind",
            "from_status",
            "to_status",
            "actor_id",
            "created_at",
        ],
        count,
        progress,
    );
    let status_total: u32 = STATUSES.iter().map(|(_, share)| share).sum();
    for _ in 0..count {
        let id = OrderId::generate();
        let lines = match rng.random_range(0..100) {
            0..50 => 1,
            50..75 => 2,
            75..90 => 3,
            _ => 4,
        };
        let mut total = Money::from_cents(0).expect("zero is money");
        let mut chosen = Vec::with_capacity(lines);
        for _ in 0..lines {
            let product = &products[catalogue.pick(rng)];
            if chosen.contains(&product.id) {
                continue;
            }
            chosen.push(product.id);
            let quantity = rng.random_range(1..=3_u32);
            let line = product
                .price
                .times(quantity)
                .expect("seeded prices are small");
            total = total.plus(line).expect("seeded totals are small");
            items.queue(vec![
                uuid::Uuid::now_v7().into(),
                id.into(),
                product.id.into(),
                product.name.as_str().into(),
                Value::from(quantity as i32),
                money::to_value(backend, product.price),
            ]);
        }
        let mut pick = rng.random_range(0..status_total);
        let status = STATUSES
            .iter()
            .find(|(_, share)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .map_or("DELIVERED", |(status, _)| status);
        let placed = now - chrono::Duration::seconds(rng.random_range(0..YEAR_SECS));
        let customer = users[loyalty.sample(rng)];
        orders.queue(vec![
            id.into(),
            customer.into(),
            status.into(),
            money::to_value(backend, total),
            placed.into(),
            placed.into(),
        ]);
        events.queue(vec![
            uuid::Uuid::now_v7().into(),
            id.into(),
            EVENT_PLACED.into(),
            Option::<&str>::None.into(),
            "PENDING".into(),
            customer.into(),
            placed.into(),
        ]);
        if status != "PENDING" {
            // The seed has no staff: the customer cancels, and other changes show no actor.
            let actor = (status == "CANCELLED").then_some(customer);
            events.queue(vec![
                uuid::Uuid::now_v7().into(),
                id.into(),
                EVENT_STATUS_CHANGED.into(),
                "PENDING".into(),
                status.into(),
                actor.into(),
                (placed + chrono::Duration::hours(rng.random_range(1..72))).into(),
            ]);
        }
        // Orders first: their items and history name them.
        if orders.is_full() || items.is_full() || events.is_full() {
            orders.flush(db).await?;
            items.flush(db).await?;
            events.flush(db).await?;
        }
    }
    // The item and event counts were estimates; report the real ones.
    items.total = items.pushed;
    events.total = events.pushed;
    report.orders = orders.finish(db).await?;
    report.order_items = items.finish(db).await?;
    report.order_events = events.finish(db).await?;
    Ok(())
}

/// The welcome posts, then numbered field notes; posts whose slug exists already are kept.
async fn seed_posts(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    users: &[UserId],
    count: usize,
    progress: &dyn Fn(Progress),
) -> Result<usize, AppError> {
    if count == 0 || users.is_empty() {
        return Ok(0);
    }
    let now = db::now();
    let existing: HashSet<String> = ids_of(db, "SELECT slug FROM posts")
        .await?
        .into_iter()
        .collect();
    let mut tag_names: Vec<String> = POSTS
        .iter()
        .flat_map(|(_, tags)| tags.iter().map(|tag| (*tag).to_owned()))
        .chain(CATEGORIES.iter().map(|name| name.to_lowercase()))
        .collect();
    tag_names.sort();
    tag_names.dedup();
    let ignore = |_: Progress| {};
    let mut tags = Inserter::new("tags", &["id", "name"], 0, &ignore).skip_existing(&["name"]);
    for name in &tag_names {
        tags.push(db, vec![TagId::generate().into(), name.as_str().into()])
            .await?;
    }
    tags.finish(db).await?;
    let tag_rows = db
        .query_all_raw(db::sql(db, "SELECT id, name FROM tags", []))
        .await?;
    let tag_ids: HashMap<String, TagId> = tag_rows
        .iter()
        .map(|row| Ok((row.try_get("", "name")?, TagId(row.try_get("", "id")?))))
        .collect::<Result<_, AppError>>()?;

    let mut posts = Inserter::new(
        "posts",
        &[
            "id",
            "slug",
            "title",
            "content",
            "published",
            "published_at",
            "author_id",
            "created_at",
            "updated_at",
        ],
        count,
        progress,
    )
    .skip_existing(&["slug"]);
    let mut post_tags = Vec::new();
    for i in 0..count {
        let (title, tags, published) = match POSTS.get(i) {
            Some((title, tags)) => ((*title).to_owned(), tags.to_vec(), true),
            None => {
                let topic = CATEGORIES[i % CATEGORIES.len()];
                (
                    format!("Field notes {}: {topic}", i - POSTS.len() + 1),
                    vec!["guides"],
                    rng.random_bool(0.9),
                )
            }
        };
        let slug = Slug::from_text(&title).expect("titles have letters");
        if existing.contains(slug.as_str()) {
            continue;
        }
        let id = PostId::generate();
        let days = i64::try_from(i).unwrap_or(0) * 3;
        let created = if i < POSTS.len() {
            now - chrono::Duration::days(days)
        } else {
            now - chrono::Duration::seconds(rng.random_range(0..2 * YEAR_SECS))
        };
        let published_at: Option<chrono::DateTime<chrono::Utc>> = published.then_some(created);
        let content = format!("{title}. Notes from the team on what we sell and why.");
        posts
            .push(
                db,
                vec![
                    id.into(),
                    slug.as_str().into(),
                    title.as_str().into(),
                    content.into(),
                    published.into(),
                    published_at.into(),
                    users[i % users.len()].into(),
                    created.into(),
                    created.into(),
                ],
            )
            .await?;
        let topic = (i >= POSTS.len()).then(|| CATEGORIES[i % CATEGORIES.len()].to_lowercase());
        for tag in tags.iter().map(|t| (*t).to_owned()).chain(topic) {
            post_tags.push((id, tag_ids[&tag]));
        }
    }
    let written = posts.finish(db).await?;
    let mut links = Inserter::new("post_tags", &["post_id", "tag_id"], 0, &ignore);
    for (post, tag) in post_tags {
        links.push(db, vec![post.into(), tag.into()]).await?;
    }
    links.finish(db).await?;
    Ok(written)
}
