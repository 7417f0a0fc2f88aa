//! `/api/v1/products/{id}/reviews`: one review per user and product, and the aggregates every
//! product carries.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::{id_value, spawn_app};

#[tokio::test]
async fn a_user_reviews_a_product_once_and_the_product_shows_the_aggregates() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"name": "Mug"})).await;
    let id = product["id"].as_str().unwrap();
    let path = format!("/api/v1/products/{id}/reviews");
    let (ann, bob, cat) = (app.user().await, app.user().await, app.user().await);

    let first = ann
        .post(&path, &json!({"rating": 5, "comment": " Lovely "}))
        .await;
    bob.post(&path, &json!({"rating": 4}))
        .await
        .assert_status(201);
    cat.post(&path, &json!({"rating": 4}))
        .await
        .assert_status(201);
    let again = ann.post(&path, &json!({"rating": 1})).await;

    first.assert_status(201);
    let review = &first.body["data"];
    assert_eq!(review["productId"], id);
    assert_eq!(review["rating"], 5);
    assert_eq!(review["comment"], "Lovely");
    assert_eq!(review["author"]["id"], ann.id.as_str());
    again.assert_error(409, "CONFLICT");
    let shown = app.anonymous().get(&format!("/api/v1/products/{id}")).await;
    assert_eq!(shown.body["data"]["averageRating"], 4.33);
    assert_eq!(shown.body["data"]["reviewCount"], 3);
    let listed = app.anonymous().get("/api/v1/products").await;
    assert_eq!(listed.body["data"][0]["averageRating"], 4.33);
    assert_eq!(listed.body["data"][0]["reviewCount"], 3);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM reviews WHERE product_id = $1",
            [id_value(id)]
        )
        .await,
        3
    );
}

#[tokio::test]
async fn concurrent_reviews_by_one_user_create_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({})).await;
    let path = format!(
        "/api/v1/products/{}/reviews",
        product["id"].as_str().unwrap()
    );
    let user = app.user().await;

    let body = json!({"rating": 3});
    let responses = join_all((0..10).map(|_| user.post(&path, &body))).await;

    assert_eq!(responses.iter().filter(|r| r.status == 201).count(), 1);
    for conflict in responses.iter().filter(|r| r.status != 201) {
        conflict.assert_error(409, "CONFLICT");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM reviews", []).await, 1);
}

#[tokio::test]
async fn reviews_need_a_valid_rating_a_visible_product_and_a_token() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({})).await;
    let archived = admin.create_product(json!({})).await;
    app.execute(
        "UPDATE products SET archived = true WHERE id = $1",
        [id_value(archived["id"].as_str().unwrap())],
    )
    .await;
    let path = format!(
        "/api/v1/products/{}/reviews",
        product["id"].as_str().unwrap()
    );
    let user = app.user().await;

    for rating in [json!(0), json!(6), json!(3.5), json!("5"), Value::Null] {
        let response = user.post(&path, &json!({"rating": rating})).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(
            response.body["error"]["details"][0]["field"], "rating",
            "{rating}"
        );
    }
    user.post(
        &format!(
            "/api/v1/products/{}/reviews",
            archived["id"].as_str().unwrap()
        ),
        &json!({"rating": 5}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    user.post(
        &format!("/api/v1/products/{}/reviews", uuid::Uuid::now_v7()),
        &json!({"rating": 5}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    app.anonymous()
        .post(&path, &json!({"rating": 5}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(app.count("SELECT COUNT(*) FROM reviews", []).await, 0);
}

#[tokio::test]
async fn reviews_are_listed_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({})).await;
    let path = format!(
        "/api/v1/products/{}/reviews",
        product["id"].as_str().unwrap()
    );
    let mut authors = Vec::new();
    for rating in 1..=3 {
        let user = app.user().await;
        user.post(&path, &json!({"rating": rating}))
            .await
            .assert_status(201);
        authors.push(user.id.clone());
    }

    let first = app.anonymous().get(&format!("{path}?limit=2")).await;
    let second = app.anonymous().get(&format!("{path}?limit=2&page=2")).await;

    first.assert_status(200);
    let ratings: Vec<i64> = first.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["data"].as_array().unwrap())
        .map(|r| r["rating"].as_i64().unwrap())
        .collect();
    assert_eq!(ratings, [3, 2, 1]);
    assert_eq!(
        first.body["pagination"],
        json!({"page": 1, "limit": 2, "total": 3, "totalPages": 2})
    );
    assert_eq!(first.body["data"][0]["author"]["id"], authors[2].as_str());
}
