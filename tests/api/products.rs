//! `/api/v1/products`: exact money, admin writes, archiving, all-or-nothing price batches, and
//! the keyset-paginated list.

use std::collections::HashSet;

use ecommerce_api::db::Backend;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::{TestApp, backend, id_value, spawn_app};

/// The price as the database holds it, written as a decimal: proves nothing was rounded
/// through a float on the way in.
async fn stored_price(app: &TestApp, id: &str) -> String {
    match backend() {
        Backend::Postgres => app
            .scalar::<String>(
                "SELECT CAST(price AS TEXT) FROM products WHERE id = $1",
                [id_value(id)],
            )
            .await
            .unwrap(),
        Backend::Sqlite => {
            let cents: i64 = app
                .scalar("SELECT price FROM products WHERE id = $1", [id_value(id)])
                .await
                .unwrap();
            format!("{}.{:02}", cents / 100, cents % 100)
        }
    }
}

#[tokio::test]
async fn an_admin_creates_a_product_with_an_exact_price_from_a_string_or_a_number() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let category = admin.create_category("Shoes").await;

    let from_string = admin
        .post(
            "/api/v1/products",
            &json!({"name": " Run Shoe ", "description": "Light", "price": "0.10",
                    "inStock": 5, "categoryId": category}),
        )
        .await;
    let from_number = admin
        .post("/api/v1/products", &json!({"name": "Mug", "price": 19.99}))
        .await;

    from_string.assert_status(201);
    let product = &from_string.body["data"];
    assert_eq!(product["name"], "Run Shoe");
    assert_eq!(product["price"], "0.10");
    assert_eq!(product["inStock"], 5);
    assert_eq!(product["archived"], false);
    assert_eq!(
        product["category"],
        json!({"id": category, "name": "Shoes"})
    );
    assert_eq!(product["averageRating"], Value::Null);
    assert_eq!(product["reviewCount"], 0);
    from_number.assert_status(201);
    assert_eq!(from_number.body["data"]["price"], "19.99");
    assert_eq!(
        from_number.body["data"]["inStock"], 0,
        "stock defaults to 0"
    );
    assert_eq!(from_number.body["data"]["category"], Value::Null);
    assert_eq!(
        stored_price(&app, product["id"].as_str().unwrap()).await,
        "0.10"
    );
    assert_eq!(
        stored_price(&app, from_number.body["data"]["id"].as_str().unwrap()).await,
        "19.99"
    );
    let fetched = app
        .anonymous()
        .get(&format!(
            "/api/v1/products/{}",
            product["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(fetched.body["data"], *product);
}

#[tokio::test]
async fn bad_product_fields_are_all_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    for (price, message) in [
        (json!("19.999"), "two decimal places"),
        (json!(19.999), "two decimal places"),
        (json!("-1"), "negative"),
        (json!("100000000"), "at most"),
        (json!("abc"), "decimal amount"),
        (json!(null), "is required"),
    ] {
        let response = admin
            .post("/api/v1/products", &json!({"name": "X", "price": price}))
            .await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), ["price"], "{price}");
        let text = response.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap();
        assert!(text.contains(message), "{price}: {text}");
    }
    let everything = admin
        .post(
            "/api/v1/products",
            &json!({"name": "", "price": "1.001", "inStock": -1, "categoryId": "nope"}),
        )
        .await;
    let unknown_category = admin
        .post(
            "/api/v1/products",
            &json!({"name": "X", "price": "1", "categoryId": uuid::Uuid::now_v7()}),
        )
        .await;

    everything.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        everything.error_fields(),
        ["name", "price", "inStock", "categoryId"]
    );
    unknown_category.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(unknown_category.error_fields(), ["categoryId"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 0);
}

#[tokio::test]
async fn only_admins_write_products() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let product = admin.create_product(json!({})).await;
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());

    user.post("/api/v1/products", &json!({"name": "X", "price": "1"}))
        .await
        .assert_error(403, "FORBIDDEN");
    user.patch(&path, &json!({"price": "1"}))
        .await
        .assert_error(403, "FORBIDDEN");
    user.delete(&path).await.assert_error(403, "FORBIDDEN");
    user.patch(
        "/api/v1/products/prices",
        &json!({"updates": [{"id": product["id"], "price": "1"}]}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.anonymous()
        .post("/api/v1/products", &json!({"name": "X", "price": "1"}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 1);
    assert_eq!(
        stored_price(&app, product["id"].as_str().unwrap()).await,
        "10.00"
    );
}

#[tokio::test]
async fn a_patch_changes_only_what_it_names() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let category = admin.create_category("Shoes").await;
    let product = admin
        .create_product(json!({"description": "Old", "categoryId": category}))
        .await;
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());

    let renamed = admin
        .patch(
            &path,
            &json!({"name": "New name", "price": 12.5, "inStock": 0}),
        )
        .await;
    let cleared = admin
        .patch(&path, &json!({"description": null, "categoryId": null}))
        .await;
    let invalid = admin.patch(&path, &json!({"price": "-3"})).await;
    let missing = admin
        .patch(
            &format!("/api/v1/products/{}", uuid::Uuid::now_v7()),
            &json!({"name": "X"}),
        )
        .await;

    renamed.assert_status(200);
    assert_eq!(renamed.body["data"]["name"], "New name");
    assert_eq!(renamed.body["data"]["price"], "12.50");
    assert_eq!(renamed.body["data"]["description"], "Old");
    assert_eq!(renamed.body["data"]["inStock"], 0);
    cleared.assert_status(200);
    assert_eq!(cleared.body["data"]["description"], Value::Null);
    assert_eq!(cleared.body["data"]["category"], Value::Null);
    assert_eq!(cleared.body["data"]["name"], "New name");
    invalid.assert_error(400, "VALIDATION_ERROR");
    missing.assert_error(404, "NOT_FOUND");
    assert_eq!(
        stored_price(&app, product["id"].as_str().unwrap()).await,
        "12.50"
    );
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;

    for path in [
        format!("/api/v1/products/{}", uuid::Uuid::now_v7()),
        "/api/v1/products/not-an-id".to_owned(),
        format!("/api/v1/products/{}/reviews", uuid::Uuid::now_v7()),
    ] {
        app.anonymous()
            .get(&path)
            .await
            .assert_error(404, "NOT_FOUND");
    }
}

/// Puts `product` in an order, as placing one will.
async fn order_containing(app: &TestApp, product: &Value) {
    let buyer = app.user().await;
    let order = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    app.execute(
        "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
         VALUES ($1, $2, 'DELIVERED', 0, $3, $3)",
        [order.into(), id_value(&buyer.id), now.into()],
    )
    .await;
    app.execute(
        "INSERT INTO order_items (id, order_id, product_id, product_name, quantity, price) \
         VALUES ($1, $2, $3, 'x', 1, 0)",
        [
            uuid::Uuid::now_v7().into(),
            order.into(),
            id_value(product["id"].as_str().unwrap()),
        ],
    )
    .await;
}

#[tokio::test]
async fn deleting_removes_a_product_unless_an_order_has_it_which_archives_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let unsold = admin.create_product(json!({"name": "Unsold Lamp"})).await;
    let sold = admin.create_product(json!({"name": "Sold Lamp"})).await;
    order_containing(&app, &sold).await;

    let deleted = admin
        .delete(&format!(
            "/api/v1/products/{}",
            unsold["id"].as_str().unwrap()
        ))
        .await;
    let archived = admin
        .delete(&format!(
            "/api/v1/products/{}",
            sold["id"].as_str().unwrap()
        ))
        .await;

    deleted.assert_status(200);
    assert!(
        deleted.body["message"]
            .as_str()
            .unwrap()
            .contains("deleted")
    );
    archived.assert_status(200);
    assert!(
        archived.body["message"]
            .as_str()
            .unwrap()
            .contains("archived")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 1);
    let shown = app
        .anonymous()
        .get(&format!(
            "/api/v1/products/{}",
            sold["id"].as_str().unwrap()
        ))
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["data"]["archived"], true);
    let listed = app.anonymous().get("/api/v1/products").await;
    assert_eq!(listed.body["data"], json!([]));
    let found = app.anonymous().get("/api/v1/products/search?q=lamp").await;
    assert_eq!(found.body["data"], json!([]));
    app.anonymous()
        .get(&format!(
            "/api/v1/products/{}",
            unsold["id"].as_str().unwrap()
        ))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_price_batch_changes_every_price_in_one_go() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = admin.create_product(json!({"price": "1.00"})).await;
    let b = admin.create_product(json!({"price": "2.00"})).await;

    let response = admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": b["id"], "price": "20.50"}, {"id": a["id"], "price": 10}]}),
        )
        .await;

    response.assert_status(200);
    let data = response.body["data"].as_array().unwrap();
    assert_eq!(data[0]["id"], b["id"]);
    assert_eq!(data[0]["price"], "20.50");
    assert_eq!(data[1]["price"], "10.00");
    assert_eq!(stored_price(&app, a["id"].as_str().unwrap()).await, "10.00");
    assert_eq!(stored_price(&app, b["id"].as_str().unwrap()).await, "20.50");
}

#[tokio::test]
async fn one_unknown_id_or_bad_price_in_a_batch_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = admin.create_product(json!({"price": "1.00"})).await;
    let b = admin.create_product(json!({"price": "2.00"})).await;
    let archived = admin.create_product(json!({"price": "3.00"})).await;
    app.execute(
        "UPDATE products SET archived = true WHERE id = $1",
        [id_value(archived["id"].as_str().unwrap())],
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let with_unknown = admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": a["id"], "price": "9.00"}, {"id": unknown, "price": "9.00"},
                                {"id": archived["id"], "price": "9.00"}]}),
        )
        .await;
    let with_bad_price = admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": a["id"], "price": "9.00"}, {"id": b["id"], "price": "9.001"}]}),
        )
        .await;
    let with_duplicate = admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": a["id"], "price": "9"}, {"id": a["id"], "price": "8"}]}),
        )
        .await;
    let empty = admin
        .patch("/api/v1/products/prices", &json!({"updates": []}))
        .await;

    with_unknown.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        with_unknown.error_fields(),
        ["updates[1].id", "updates[2].id"]
    );
    with_bad_price.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(with_bad_price.error_fields(), ["updates[1].price"]);
    with_duplicate.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(with_duplicate.error_fields(), ["updates[1].id"]);
    empty.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(stored_price(&app, a["id"].as_str().unwrap()).await, "1.00");
    assert_eq!(stored_price(&app, b["id"].as_str().unwrap()).await, "2.00");
    assert_eq!(
        stored_price(&app, archived["id"].as_str().unwrap()).await,
        "3.00"
    );
}

/// Seeds `n` products with creation times spread over a year, as the `seed` command does.
async fn seed_products(app: &TestApp, n: usize) {
    use ecommerce_api::services::seed::{SeedOptions, seed};
    let options = SeedOptions {
        products: n,
        ..SeedOptions::default()
    };
    seed(&app.state.db, &app.state.auth.passwords, &options, &|_| {})
        .await
        .expect("the seed runs");
}

/// Every product id of a full walk with `query`, in the order served.
async fn walk(app: &TestApp, query: &str, limit: u64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/products?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.anonymous().get(&path).await;
        page.assert_status(200);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() as u64 <= limit);
        ids.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        let pagination = &page.body["pagination"];
        assert_eq!(pagination["limit"], limit);
        match pagination["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(pagination["hasNextPage"], true);
                assert_eq!(data.len() as u64, limit, "only the last page is short");
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(pagination["hasNextPage"], false);
                break;
            }
        }
    }
    ids
}

/// The ids the database says a walk must return, newest first.
async fn expected_ids(app: &TestApp, condition: &str, values: Vec<sea_orm::Value>) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let rows = app
        .db
        .read()
        .query_all_raw(ecommerce_api::db::sql(
            app.db.read(),
            &format!(
                "SELECT id FROM products WHERE NOT archived AND {condition} \
                 ORDER BY created_at DESC, id DESC"
            ),
            values,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<uuid::Uuid>(0).unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn walking_every_page_returns_each_visible_product_once_in_order() {
    let app = spawn_app().await;
    seed_products(&app, 1000).await;
    app.execute(
        "UPDATE products SET archived = true WHERE id IN \
         (SELECT id FROM products ORDER BY id LIMIT 25)",
        [],
    )
    .await;

    let ids = walk(&app, "", 37).await;

    let expected = expected_ids(&app, "1 = 1", vec![]).await;
    assert_eq!(expected.len(), 975);
    assert_eq!(ids.len(), expected.len(), "no gaps");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no duplicates"
    );
    assert_eq!(ids, expected, "newest first, ties broken by id");
}

#[tokio::test]
async fn walking_with_filters_returns_exactly_the_matching_products() {
    let app = spawn_app().await;
    seed_products(&app, 1000).await;
    let category: uuid::Uuid = app
        .scalar("SELECT id FROM categories ORDER BY name LIMIT 1", [])
        .await
        .unwrap();
    let min = ecommerce_api::domain::Money::parse("50.00").unwrap();
    let max = ecommerce_api::domain::Money::parse("300.00").unwrap();
    let db_backend = app.db.backend();

    let ids = walk(
        &app,
        &format!("&categoryId={category}&minPrice=50&maxPrice=300.00&inStock=true"),
        20,
    )
    .await;
    let out_of_stock = walk(&app, "&inStock=false", 50).await;

    let expected = expected_ids(
        &app,
        "category_id = $1 AND price >= $2 AND price <= $3 AND in_stock > 0",
        vec![
            category.into(),
            ecommerce_api::db::money::to_value(db_backend, min),
            ecommerce_api::db::money::to_value(db_backend, max),
        ],
    )
    .await;
    assert!(expected.len() > 20, "several pages: {}", expected.len());
    assert_eq!(ids, expected);
    assert_eq!(
        out_of_stock,
        expected_ids(&app, "in_stock = 0", vec![]).await
    );
}

#[tokio::test]
async fn a_walk_is_stable_while_products_are_added() {
    let app = spawn_app().await;
    seed_products(&app, 200).await;
    let admin = app.admin().await;
    let before = expected_ids(&app, "1 = 1", vec![]).await;

    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/products?limit=30&cursor={cursor}"),
            None => "/api/v1/products?limit=30".to_owned(),
        };
        let page = app.anonymous().get(&path).await;
        ids.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        // New products arrive between pages.
        admin.create_product(json!({"name": "Newcomer"})).await;
        match page.body["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(
        ids, before,
        "every product that existed at the start, once, in order"
    );
}

#[tokio::test]
async fn list_parameters_are_checked() {
    let app = spawn_app().await;

    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=garbage", "cursor"),
        ("minPrice=abc", "minPrice"),
        ("maxPrice=1.234", "maxPrice"),
        ("inStock=maybe", "inStock"),
        ("categoryId=7", "categoryId"),
        ("minPrice=10&maxPrice=5", "minPrice"),
    ];
    let paths: Vec<String> = cases
        .iter()
        .map(|(query, _)| format!("/api/v1/products?{query}"))
        .collect();
    let responses = join_all(paths.iter().map(|path| app.get(path))).await;

    for ((query, field), response) in cases.iter().zip(&responses) {
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), [*field], "{query}");
    }
}

#[tokio::test]
async fn pages_cross_runs_of_equal_creation_times_without_gaps_or_repeats() {
    let app = spawn_app().await;
    seed_products(&app, 600).await;
    // A bulk import stamps many rows alike: two runs of equal times, broken only by id.
    app.execute(
        "UPDATE products SET created_at = $1 WHERE id IN \
         (SELECT id FROM products ORDER BY id LIMIT 250)",
        [ecommerce_api::db::now().into()],
    )
    .await;
    app.execute(
        "UPDATE products SET created_at = $1 WHERE id IN \
         (SELECT id FROM products ORDER BY id DESC LIMIT 150)",
        [(ecommerce_api::db::now() - chrono::Duration::days(400)).into()],
    )
    .await;

    let ids = walk(&app, "", 23).await;

    let expected = expected_ids(&app, "1 = 1", vec![]).await;
    assert_eq!(expected.len(), 600);
    assert_eq!(ids.len(), 600, "no gaps");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 600, "no repeats");
    assert_eq!(ids, expected, "newest first, equal times in id order");
}

#[tokio::test]
async fn a_common_word_ranks_the_name_match_first_among_many_description_matches() {
    let app = spawn_app().await;
    // Every seeded description says "for every day"; no seeded name has "day" in it.
    seed_products(&app, 1500).await;
    let admin = app.admin().await;
    let best = admin
        .post(
            "/api/v1/products",
            &json!({"name": "Day Pack", "description": "A small bag.", "price": "30.00"}),
        )
        .await;
    best.assert_status(201);
    assert!(
        app.count(
            "SELECT COUNT(*) FROM products WHERE description LIKE '%every day%'",
            []
        )
        .await
            > 1000,
        "the word matches far more products than a search ranks"
    );

    let found = app
        .anonymous()
        .get("/api/v1/products/search?q=day&limit=10")
        .await;

    found.assert_status(200);
    let data = found.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 10);
    assert_eq!(
        data[0]["id"], best.body["data"]["id"],
        "the name match first"
    );
    for product in &data[1..] {
        assert!(
            product["description"]
                .as_str()
                .unwrap()
                .contains("every day"),
            "{product}"
        );
    }
}
