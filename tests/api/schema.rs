//! The migrations: the whole schema on both backends, exact money, full-text structures kept
//! in sync, and idempotent re-runs.

use ecommerce_api::db::Backend;
use ecommerce_api::db::Db;
use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::harness::{TestDatabase, backend, spawn_app};

const TABLES: &[&str] = &[
    "users",
    "user_profiles",
    "refresh_tokens",
    "attempt_budgets",
    "categories",
    "products",
    "reviews",
    "orders",
    "order_items",
    "order_events",
    "order_counts",
    "user_activity",
    "activity_days",
    "user_count",
    "idempotency_keys",
    "posts",
    "tags",
    "post_tags",
    "comments",
    "outbox",
    "jobs",
];

const INDEXES: &[&str] = &[
    "idx_users_role",
    "idx_users_live_created",
    "idx_products_created_at_id",
    "idx_products_category_created",
    "idx_products_category_price",
    "idx_products_in_stock",
    "idx_orders_customer_created",
    "idx_orders_status_created",
    "idx_orders_created_id",
    "idx_posts_author_published",
    "idx_posts_published",
];

/// PostgreSQL's own: the full-text index and the trigram indexes of user search.
const POSTGRES_INDEXES: &[&str] = &[
    "idx_products_search",
    "idx_users_name_trgm",
    "idx_users_email_trgm",
];

async fn strings(db: &Db, sql: &str) -> Vec<String> {
    db.read()
        .query_all_raw(Statement::from_string(db.backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

async fn table_names(db: &Db) -> Vec<String> {
    strings(
        db,
        match backend() {
            Backend::Postgres => {
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            }
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
        },
    )
    .await
}

#[tokio::test]
async fn migrations_create_every_table_and_the_seed_indexes() {
    let app = spawn_app().await;

    let tables = table_names(&app.db).await;
    let indexes = strings(
        &app.db,
        match backend() {
            Backend::Postgres => "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'",
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
        },
    )
    .await;

    for table in TABLES {
        assert!(
            tables.iter().any(|t| t == table),
            "missing table {table}: {tables:?}"
        );
    }
    let backend_indexes = match backend() {
        Backend::Postgres => POSTGRES_INDEXES,
        Backend::Sqlite => &[],
    };
    for index in INDEXES.iter().chain(backend_indexes) {
        assert!(
            indexes.iter().any(|i| i == index),
            "missing index {index}: {indexes:?}"
        );
    }
    let unique_email = app
        .db
        .write()
        .execute_raw(Statement::from_string(
            app.db.backend(),
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
             SELECT id, email, password_hash, role, created_at, updated_at FROM users",
        ))
        .await;
    assert!(unique_email.is_ok(), "an empty copy inserts nothing");
}

#[tokio::test]
async fn running_migrations_twice_is_harmless() {
    let database = TestDatabase::create_empty().await;
    let db = ecommerce_api::db::connect(&database.url).await.unwrap();

    ecommerce_api::db::migrate(&db).await.unwrap();
    let before = table_names(&db).await;
    ecommerce_api::db::migrate(&db).await.unwrap();

    assert_eq!(table_names(&db).await, before);
    let applied = strings(&db, "SELECT version FROM seaql_migrations ORDER BY version").await;
    assert_eq!(
        applied,
        [
            "m20261124_000001_create_schema",
            "m20261124_000002_product_search",
            "m20261201_000003_review_aggregates",
            "m20261202_000004_attempt_budgets",
            "m20261203_000005_events_and_jobs",
            "m20261204_000006_idempotency_outcomes",
            "m20261205_000007_indexes_at_scale",
            "m20261206_000008_list_counts",
            "m20261206_000009_one_search_index",
            "m20261206_000010_user_search_trigrams",
            "m20261206_000011_posts_in_page_order",
            "m20261208_000012_user_activity",
        ]
    );
    db.close().await.unwrap();
}

/// Inserts a product the way the catalog will: money in the backend's representation.
async fn insert_product(db: &Db, name: &str, description: &str, price: Decimal) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let price: Value = match db.backend() {
        DbBackend::Postgres => price.into(),
        _ => i64::try_from(price * Decimal::ONE_HUNDRED).unwrap().into(),
    };
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Alias::new("products"))
        .columns(
            [
                "id",
                "name",
                "description",
                "price",
                "in_stock",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            id.into(),
            name.into(),
            description.into(),
            price.into(),
            5.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.write().execute(&insert).await.unwrap();
    id
}

#[tokio::test]
async fn money_is_stored_exactly_and_sums_exactly() {
    let app = spawn_app().await;
    // 0.1 + 0.2 is the classic binary floating-point failure.
    for price in ["0.10", "0.20", "99999999.99"] {
        insert_product(&app.db, "p", "d", price.parse().unwrap()).await;
    }

    let backend = app.db.backend();
    let (sum_sql, type_sql) = match backend {
        DbBackend::Postgres => (
            "SELECT CAST(SUM(price) AS TEXT) FROM products WHERE price < 1",
            "SELECT data_type || '(' || numeric_precision || ',' || numeric_scale || ')' \
             FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'price'",
        ),
        _ => (
            "SELECT CAST(SUM(price) AS TEXT) FROM products WHERE price < 100",
            "SELECT DISTINCT typeof(price) FROM products",
        ),
    };
    let sum = strings(&app.db, sum_sql).await;
    let stored_type = strings(&app.db, type_sql).await;

    match backend {
        DbBackend::Postgres => {
            assert_eq!(sum, ["0.30"]);
            assert_eq!(stored_type, ["numeric(10,2)"]);
        }
        _ => {
            assert_eq!(sum, ["30"], "integer cents");
            assert_eq!(stored_type, ["integer"]);
        }
    }
}

#[tokio::test]
async fn the_database_refuses_negative_stock_and_prices() {
    let app = spawn_app().await;
    let id = insert_product(&app.db, "p", "d", Decimal::ONE).await;

    for column in ["in_stock", "price"] {
        let update = Query::update()
            .table(Alias::new("products"))
            .value(Alias::new(column), -1)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        assert!(
            app.db.write().execute(&update).await.is_err(),
            "{column} = -1 was accepted"
        );
    }
}

async fn search(db: &Db, words: &str) -> Vec<uuid::Uuid> {
    let sql = match db.backend() {
        DbBackend::Postgres => {
            "SELECT id FROM products WHERE search_vector @@ plainto_tsquery('english', $1)"
        }
        _ => "SELECT product_id FROM products_fts WHERE products_fts MATCH ?",
    };
    let words = match db.backend() {
        DbBackend::Postgres => words.to_owned(),
        _ => words.split_whitespace().collect::<Vec<_>>().join(" AND "),
    };
    db.read()
        .query_all_raw(Statement::from_sql_and_values(
            db.backend(),
            sql,
            [words.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<uuid::Uuid>(0).unwrap())
        .collect()
}

#[tokio::test]
async fn the_full_text_index_follows_inserts_renames_and_deletes_with_stemming() {
    let app = spawn_app().await;
    let shoe = insert_product(
        &app.db,
        "Run Shoe",
        "Light trainers for the road",
        Decimal::TEN,
    )
    .await;
    insert_product(&app.db, "Coffee Mug", "Ceramic, 300 ml", Decimal::ONE).await;

    assert_eq!(search(&app.db, "running shoes").await, [shoe], "stemmed");
    assert_eq!(
        search(&app.db, "trainer").await,
        [shoe],
        "description is indexed"
    );

    let rename = Query::update()
        .table(Alias::new("products"))
        .value(Alias::new("name"), "Walking Boot")
        .and_where(Expr::col(Alias::new("id")).eq(shoe))
        .to_owned();
    app.db.write().execute(&rename).await.unwrap();
    assert!(search(&app.db, "running shoes").await.is_empty());
    assert_eq!(search(&app.db, "walk boots").await, [shoe]);

    let delete = Query::delete()
        .from_table(Alias::new("products"))
        .and_where(Expr::col(Alias::new("id")).eq(shoe))
        .to_owned();
    app.db.write().execute(&delete).await.unwrap();
    assert!(search(&app.db, "walk").await.is_empty());
}

#[tokio::test]
async fn review_aggregates_follow_inserts_updates_deletes_and_cascades() {
    let app = spawn_app().await;
    let product = insert_product(&app.db, "p", "d", Decimal::ONE).await;
    let now = chrono::Utc::now();
    let mut users = Vec::new();
    for i in 0..3 {
        let user = uuid::Uuid::now_v7();
        app.db
            .write()
            .execute_raw(Statement::from_sql_and_values(
                app.db.backend(),
                "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
                 VALUES ($1, $2, 'x', 'USER', $3, $3)",
                [user.into(), format!("u{i}@example.com").into(), now.into()],
            ))
            .await
            .unwrap();
        users.push(user);
    }
    let review = |user: uuid::Uuid, rating: i16| {
        Statement::from_sql_and_values(
            app.db.backend(),
            "INSERT INTO reviews (id, product_id, user_id, rating, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            [
                uuid::Uuid::now_v7().into(),
                product.into(),
                user.into(),
                rating.into(),
                now.into(),
            ],
        )
    };
    let aggregates = || async {
        let row = app
            .db
            .read()
            .query_one_raw(Statement::from_sql_and_values(
                app.db.backend(),
                "SELECT review_count, rating_total FROM products WHERE id = $1",
                [product.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        (
            row.try_get_by_index::<i32>(0).unwrap(),
            row.try_get_by_index::<i32>(1).unwrap(),
        )
    };

    for (user, rating) in users.iter().zip([5, 4, 2]) {
        app.db
            .write()
            .execute_raw(review(*user, rating))
            .await
            .unwrap();
    }
    assert_eq!(aggregates().await, (3, 11));
    app.db
        .write()
        .execute_raw(Statement::from_sql_and_values(
            app.db.backend(),
            "UPDATE reviews SET rating = 1 WHERE user_id = $1",
            [users[0].into()],
        ))
        .await
        .unwrap();
    assert_eq!(aggregates().await, (3, 7));
    // Deleting a user cascades to their review, and the trigger follows the cascade.
    app.db
        .write()
        .execute_raw(Statement::from_sql_and_values(
            app.db.backend(),
            "DELETE FROM users WHERE id = $1",
            [users[1].into()],
        ))
        .await
        .unwrap();
    assert_eq!(aggregates().await, (2, 3));
}
