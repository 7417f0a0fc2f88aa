//! `ecommerce-api seed`: demo data for trying the API and for the benchmarks — categories,
//! products with varied names and descriptions, users, reviews and blog posts.
//!
//! Rows go in with multi-row `INSERT`s inside one transaction, which is what makes 100,000
//! products take seconds rather than minutes on SQLite. Generation is seeded, so the same
//! database gets the same products. Running it again adds products; categories, users and
//! posts that exist already are left alone.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::{Alias, OnConflict, Query};
use sea_orm::{ConnectionTrait, Value};

use crate::db::{self, Db, money};
use crate::domain::{CategoryId, Money, PostId, ProductId, ReviewId, Slug, TagId, UserId};
use crate::error::AppError;
use crate::services::accounts::Passwords;

/// The password of every demo user (`demo1@example.com` … `demo20@example.com`).
pub const DEMO_PASSWORD: &str = "demo password";
const DEMO_USERS: usize = 20;
/// Rows per `INSERT`: well under SQLite's 32,766 bound parameters at nine columns.
const BATCH: usize = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub categories: usize,
    pub products: usize,
    pub users: usize,
    pub reviews: usize,
    pub posts: usize,
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

pub async fn seed(db: &Db, passwords: &Passwords, products: usize) -> Result<SeedReport, AppError> {
    let password_hash = passwords.hash(DEMO_PASSWORD).await?;
    let mut rng = StdRng::seed_from_u64(products as u64);
    let txn = db.begin_write().await?;
    let mut report = SeedReport::default();

    let categories = seed_categories(&txn, &mut report).await?;
    let users = seed_users(&txn, &password_hash, &mut report).await?;
    let product_ids = seed_products(&txn, &mut rng, &categories, products).await?;
    report.products = product_ids.len();
    report.reviews = seed_reviews(&txn, &mut rng, &product_ids, &users).await?;
    report.posts = seed_posts(&txn, &users).await?;
    txn.commit().await?;
    // Fresh statistics, so the planner sees the tables as they now are; on PostgreSQL also
    // reclaim the row versions the review triggers left behind, before autovacuum would.
    db.write()
        .execute_unprepared(match db.backend() {
            sea_orm::DbBackend::Postgres => "VACUUM ANALYZE",
            _ => "ANALYZE",
        })
        .await?;
    Ok(report)
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
    let mut insert = Query::insert()
        .into_table(Alias::new("categories"))
        .columns(["id", "name", "slug", "created_at", "updated_at"].map(Alias::new))
        .on_conflict(
            OnConflict::column(Alias::new("name"))
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    for name in CATEGORIES {
        let slug = Slug::from_text(name).expect("category names have letters");
        insert.values_panic([
            CategoryId::generate().into(),
            (*name).into(),
            slug.as_str().into(),
            now.into(),
            now.into(),
        ]);
    }
    report.categories = usize::try_from(db.execute(&insert).await?.rows_affected()).unwrap_or(0);
    ids_of(db, "SELECT id FROM categories ORDER BY name").await
}

async fn seed_users(
    db: &impl ConnectionTrait,
    password_hash: &str,
    report: &mut SeedReport,
) -> Result<Vec<UserId>, AppError> {
    let now = db::now();
    let mut insert = Query::insert()
        .into_table(Alias::new("users"))
        .columns(
            [
                "id",
                "email",
                "password_hash",
                "name",
                "role",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .on_conflict(
            OnConflict::column(Alias::new("email"))
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    for n in 1..=DEMO_USERS {
        insert.values_panic([
            UserId::generate().into(),
            format!("demo{n}@example.com").into(),
            password_hash.into(),
            format!("Demo User {n}").into(),
            "USER".into(),
            now.into(),
            now.into(),
        ]);
    }
    report.users = usize::try_from(db.execute(&insert).await?.rows_affected()).unwrap_or(0);
    ids_of(
        db,
        "SELECT id FROM users WHERE email LIKE 'demo%@example.com' ORDER BY email",
    )
    .await
}

async fn seed_products(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    categories: &[CategoryId],
    count: usize,
) -> Result<Vec<ProductId>, AppError> {
    let backend = db.get_database_backend();
    let now = db::now();
    let mut ids = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        let rows = left.min(BATCH);
        left -= rows;
        let mut insert = Query::insert()
            .into_table(Alias::new("products"))
            .columns(
                [
                    "id",
                    "name",
                    "description",
                    "price",
                    "in_stock",
                    "archived",
                    "category_id",
                    "created_at",
                    "updated_at",
                ]
                .map(Alias::new),
            )
            .to_owned();
        for _ in 0..rows {
            let id = ProductId::generate();
            let name = format!(
                "{} {} {}",
                ADJECTIVES.choose(rng).expect("not empty"),
                MATERIALS.choose(rng).expect("not empty"),
                NOUNS.choose(rng).expect("not empty"),
            );
            let mut phrases: Vec<&str> = PHRASES.choose_multiple(rng, 2).copied().collect();
            phrases.shuffle(rng);
            let description = format!(
                "A {} {}, {} and {}.",
                name.to_lowercase(),
                "for every day",
                phrases[0],
                phrases[1]
            );
            let price = Money::from_cents(rng.random_range(199..=49_999)).expect("in range");
            // Spread over the past year, so lists and cursors have a real order to walk.
            let created = now - chrono::Duration::seconds(rng.random_range(0..31_536_000));
            let category: Option<CategoryId> = if rng.random_bool(0.9) {
                categories.choose(rng).copied()
            } else {
                None
            };
            insert.values_panic([
                id.into(),
                name.into(),
                description.into(),
                money::to_value(backend, price).into(),
                Value::from(rng.random_range(0..=200_i32)).into(),
                false.into(),
                category.into(),
                created.into(),
                created.into(),
            ]);
            ids.push(id);
        }
        db.execute(&insert).await?;
    }
    Ok(ids)
}

async fn seed_reviews(
    db: &impl ConnectionTrait,
    rng: &mut StdRng,
    products: &[ProductId],
    users: &[UserId],
) -> Result<usize, AppError> {
    const COMMENTS: &[&str] = &[
        "Exactly as described.",
        "Great quality for the price.",
        "Arrived quickly, works well.",
        "Good, but runs a little small.",
        "Would buy again.",
        "Not for me, sadly.",
    ];
    let now = db::now();
    let mut rows = Vec::new();
    for product in products {
        if !rng.random_bool(0.3) {
            continue;
        }
        let reviewers = rng.random_range(1..=5).min(users.len());
        for user in users.choose_multiple(rng, reviewers) {
            rows.push((
                *product,
                *user,
                rng.random_range(1..=5_i16),
                *COMMENTS.choose(rng).expect("not empty"),
            ));
        }
    }
    for chunk in rows.chunks(BATCH) {
        let mut insert = Query::insert()
            .into_table(Alias::new("reviews"))
            .columns(
                [
                    "id",
                    "product_id",
                    "user_id",
                    "rating",
                    "comment",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .to_owned();
        for (product, user, rating, comment) in chunk {
            insert.values_panic([
                ReviewId::generate().into(),
                (*product).into(),
                (*user).into(),
                (*rating).into(),
                (*comment).into(),
                now.into(),
            ]);
        }
        db.execute(&insert).await?;
    }
    Ok(rows.len())
}

async fn seed_posts(db: &impl ConnectionTrait, users: &[UserId]) -> Result<usize, AppError> {
    let now = db::now();
    let mut written = 0;
    for (i, (title, tags)) in POSTS.iter().enumerate() {
        let slug = Slug::from_text(title).expect("titles have letters");
        let id = PostId::generate();
        let published_at = now - chrono::Duration::days(i64::try_from(i).unwrap_or(0) * 3);
        let inserted = db
            .execute_raw(db::sql(
                db,
                "INSERT INTO posts \
                   (id, slug, title, content, published, published_at, author_id, created_at, \
                    updated_at) \
                 VALUES ($1, $2, $3, $4, true, $5, $6, $5, $5) ON CONFLICT (slug) DO NOTHING",
                [
                    id.into(),
                    slug.as_str().into(),
                    (*title).into(),
                    format!("{title}. Notes from the team on what we sell and why.").into(),
                    published_at.into(),
                    users[i % users.len()].into(),
                ],
            ))
            .await?;
        if inserted.rows_affected() == 0 {
            continue;
        }
        written += 1;
        for tag in *tags {
            db.execute_raw(db::sql(
                db,
                "INSERT INTO tags (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                [TagId::generate().into(), (*tag).into()],
            ))
            .await?;
            db.execute_raw(db::sql(
                db,
                "INSERT INTO post_tags (post_id, tag_id) SELECT $1, id FROM tags WHERE name = $2",
                [id.into(), (*tag).into()],
            ))
            .await?;
        }
    }
    Ok(written)
}
