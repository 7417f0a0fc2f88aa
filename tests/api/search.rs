//! `GET /api/v1/products/search`: stemming, ranking, filters, and hostile input.

use futures::future::join_all;
use serde_json::json;

use crate::harness::{TestApp, spawn_app};

fn names(response: &crate::harness::TestResponse) -> Vec<&str> {
    response.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

async fn catalog(app: &TestApp) -> String {
    let admin = app.admin().await;
    let shoes = admin.create_category("Shoes").await;
    for (name, description, price, stock, category) in [
        (
            "Run Shoe",
            "Light trainers for the road",
            "89.00",
            5,
            Some(&shoes),
        ),
        (
            "Trail Boot",
            "For running on rough trails",
            "120.00",
            0,
            Some(&shoes),
        ),
        ("Coffee Mug", "Ceramic, 300 ml", "9.50", 3, None),
        (
            "Walking Shoe",
            "Comfortable every day",
            "60.00",
            2,
            Some(&shoes),
        ),
    ] {
        admin
            .create_product(
                json!({"name": name, "description": description, "price": price,
                                   "inStock": stock, "categoryId": category}),
            )
            .await;
    }
    shoes
}

#[tokio::test]
async fn search_is_stemmed_so_running_shoes_finds_run_shoe() {
    let app = spawn_app().await;
    catalog(&app).await;

    let response = app
        .anonymous()
        .get("/api/v1/products/search?q=running%20shoes")
        .await;

    response.assert_status(200);
    assert_eq!(names(&response), ["Run Shoe"]);
    assert_eq!(
        names(
            &app.anonymous()
                .get("/api/v1/products/search?q=trainer")
                .await
        ),
        ["Run Shoe"],
        "descriptions are searched"
    );
}

#[tokio::test]
async fn a_match_in_the_name_ranks_above_one_in_the_description() {
    let app = spawn_app().await;
    catalog(&app).await;

    let response = app.anonymous().get("/api/v1/products/search?q=run").await;

    // "Run Shoe" matches in its name; "Trail Boot" only in its description ("running").
    assert_eq!(names(&response), ["Run Shoe", "Trail Boot"]);
}

#[tokio::test]
async fn filters_combine_with_the_match() {
    let app = spawn_app().await;
    let shoes = catalog(&app).await;

    let in_stock = app
        .anonymous()
        .get("/api/v1/products/search?q=shoe&inStock=true&maxPrice=70")
        .await;
    let in_category = app
        .anonymous()
        .get(&format!(
            "/api/v1/products/search?q=run&categoryId={shoes}&minPrice=100"
        ))
        .await;
    let limited = app
        .anonymous()
        .get("/api/v1/products/search?q=shoe&limit=1")
        .await;

    assert_eq!(names(&in_stock), ["Walking Shoe"]);
    assert_eq!(names(&in_category), ["Trail Boot"]);
    assert_eq!(names(&limited).len(), 1);
}

#[tokio::test]
async fn any_text_is_a_safe_query() {
    let app = spawn_app().await;
    catalog(&app).await;
    let hostile = [
        "\"",
        "'",
        "' OR 1=1 --",
        "\"; DROP TABLE products; --",
        "shoe\" OR \"1\"=\"1",
        "NEAR(run shoe)",
        "run*",
        "AND",
        "OR NOT",
        "-shoe",
        "()",
        "{}[]^~",
        "%_\\",
        "shoe:*",
        "!!!",
        "😀 shoe",
        "ｓｈｏｅ",
        "run & shoe | !mug",
        "<script>alert(1)</script>",
    ];
    let long = "shoe ".repeat(40);

    let responses = join_all(hostile.iter().copied().chain([long.as_str()]).map(|q| {
        let encoded: String = url_encode(q);
        let app = &app;
        async move {
            (
                q,
                app.anonymous()
                    .get(&format!("/api/v1/products/search?q={encoded}"))
                    .await,
            )
        }
    }))
    .await;

    for (q, response) in &responses {
        assert_eq!(response.status, 200, "{q:?}: {}", response.text);
        assert!(response.body["data"].is_array(), "{q:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 4);
    let quoted = responses
        .iter()
        .find(|(q, _)| *q == "shoe\" OR \"1\"=\"1")
        .unwrap();
    assert!(
        names(&quoted.1).is_empty(),
        "words must all match; \"1\" matches nothing"
    );
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_query_is_required() {
    let app = spawn_app().await;

    for path in [
        "/api/v1/products/search",
        "/api/v1/products/search?q=",
        "/api/v1/products/search?q=%20%20",
    ] {
        let response = app.anonymous().get(path).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.body["error"]["details"][0]["field"], "q");
    }
    app.anonymous()
        .get("/api/v1/products/search?q=shoe&limit=500")
        .await
        .assert_error(400, "VALIDATION_ERROR");
}
