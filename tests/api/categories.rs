//! `/api/v1/categories`: public reads with product counts, admin-only writes, unique names.

use serde_json::{Value, json};

use crate::harness::{id_value, spawn_app};

#[tokio::test]
async fn anyone_lists_categories_by_name_with_their_visible_product_count() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shoes = admin.create_category("Shoes").await;
    admin.create_category("Bags").await;
    admin
        .create_product(json!({"name": "A", "categoryId": shoes}))
        .await;
    let archived = admin
        .create_product(json!({"name": "B", "categoryId": shoes}))
        .await;
    app.execute(
        "UPDATE products SET archived = true WHERE id = $1",
        [id_value(archived["id"].as_str().unwrap())],
    )
    .await;

    let response = app.anonymous().get("/api/v1/categories").await;

    response.assert_status(200);
    let categories = response.body["data"].as_array().unwrap();
    assert_eq!(categories.len(), 2);
    assert_eq!(categories[0]["name"], "Bags");
    assert_eq!(categories[0]["productCount"], 0);
    assert_eq!(
        categories[1],
        json!({"id": shoes, "name": "Shoes", "slug": "shoes", "productCount": 1})
    );
    let one = app
        .anonymous()
        .get(&format!("/api/v1/categories/{shoes}"))
        .await;
    one.assert_status(200);
    assert_eq!(one.body["data"], categories[1]);
}

#[tokio::test]
async fn product_counts_follow_moves_deletes_and_concurrent_creates() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shoes = admin.create_category("Shoes").await;
    let bags = admin.create_category("Bags").await;
    let products = futures::future::join_all(
        (0..12)
            .map(|i| admin.create_product(json!({"name": format!("P{i}"), "categoryId": shoes}))),
    )
    .await;
    let id = |i: usize| products[i]["id"].as_str().unwrap().to_owned();
    // Moves in both directions at once, an uncategorised product, a delete.
    let moves = futures::future::join_all((0..4).map(|i| {
        let path = format!("/api/v1/products/{}", id(i));
        let admin = &admin;
        let bags = bags.clone();
        async move { admin.patch(&path, &json!({"categoryId": bags})).await }
    }))
    .await;
    for moved in &moves {
        moved.assert_status(200);
    }
    admin
        .patch(
            &format!("/api/v1/products/{}", id(4)),
            &json!({"categoryId": null}),
        )
        .await
        .assert_status(200);
    admin
        .delete(&format!("/api/v1/products/{}", id(5)))
        .await
        .assert_status(200);

    let counts = |body: &Value| -> Vec<(String, i64)> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["productCount"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let listed = app.anonymous().get("/api/v1/categories").await;
    assert_eq!(
        counts(&listed.body),
        [("Bags".to_owned(), 4), ("Shoes".to_owned(), 6)]
    );
    for (category, expected) in [(&bags, 4), (&shoes, 6)] {
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM products WHERE category_id = $1 AND NOT archived",
                [id_value(category)],
            )
            .await,
            expected,
            "the rows themselves"
        );
    }

    admin
        .delete(&format!("/api/v1/categories/{bags}"))
        .await
        .assert_status(200);
    let after = app.anonymous().get("/api/v1/categories").await;
    assert_eq!(counts(&after.body), [("Shoes".to_owned(), 6)]);
    let recreated = admin.create_category("Bags").await;
    let fresh = app
        .anonymous()
        .get(&format!("/api/v1/categories/{recreated}"))
        .await;
    assert_eq!(fresh.body["data"]["productCount"], 0);
}

#[tokio::test]
async fn admins_create_categories_with_slugs_and_names_are_unique() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let created = admin
        .post(
            "/api/v1/categories",
            &json!({"name": "  Crème Brûlée Sets "}),
        )
        .await;
    let same_name = admin
        .post("/api/v1/categories", &json!({"name": "Crème Brûlée Sets"}))
        .await;
    let same_slug = admin
        .post("/api/v1/categories", &json!({"name": "creme brulee sets!"}))
        .await;
    let blank = admin
        .post("/api/v1/categories", &json!({"name": "  "}))
        .await;
    let symbols = admin
        .post("/api/v1/categories", &json!({"name": "!!!"}))
        .await;

    created.assert_status(201);
    assert_eq!(created.body["data"]["name"], "Crème Brûlée Sets");
    assert_eq!(created.body["data"]["slug"], "creme-brulee-sets");
    assert_eq!(created.body["data"]["productCount"], 0);
    same_name.assert_error(409, "CONFLICT");
    same_slug.assert_error(409, "CONFLICT");
    blank.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(blank.body["error"]["details"][0]["field"], "name");
    symbols.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(app.count("SELECT COUNT(*) FROM categories", []).await, 1);
}

#[tokio::test]
async fn only_admins_write_categories() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let id = admin.create_category("Shoes").await;
    let path = format!("/api/v1/categories/{id}");

    user.post("/api/v1/categories", &json!({"name": "Bags"}))
        .await
        .assert_error(403, "FORBIDDEN");
    user.patch(&path, &json!({"name": "Boots"}))
        .await
        .assert_error(403, "FORBIDDEN");
    user.delete(&path).await.assert_error(403, "FORBIDDEN");
    app.anonymous()
        .post("/api/v1/categories", &json!({"name": "Bags"}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    assert_eq!(
        app.scalar::<String>("SELECT name FROM categories", [])
            .await
            .as_deref(),
        Some("Shoes")
    );
}

#[tokio::test]
async fn renaming_moves_the_slug_and_deleting_keeps_the_products() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = admin.create_category("Shoes").await;
    admin.create_category("Bags").await;
    let product = admin.create_product(json!({"categoryId": id})).await;
    let path = format!("/api/v1/categories/{id}");

    let renamed = admin.patch(&path, &json!({"name": "Trail Shoes"})).await;
    let taken = admin.patch(&path, &json!({"name": "Bags"})).await;
    let deleted = admin.delete(&path).await;

    renamed.assert_status(200);
    assert_eq!(renamed.body["data"]["slug"], "trail-shoes");
    assert_eq!(renamed.body["data"]["productCount"], 1);
    taken.assert_error(409, "CONFLICT");
    deleted.assert_status(200);
    assert!(deleted.body["message"].is_string());
    app.anonymous()
        .get(&path)
        .await
        .assert_error(404, "NOT_FOUND");
    let product = app
        .anonymous()
        .get(&format!(
            "/api/v1/products/{}",
            product["id"].as_str().unwrap()
        ))
        .await;
    product.assert_status(200);
    assert_eq!(product.body["data"]["category"], Value::Null);
    for missing in [
        admin.patch(&path, &json!({"name": "X"})).await,
        admin.delete(&path).await,
    ] {
        missing.assert_error(404, "NOT_FOUND");
    }
}
