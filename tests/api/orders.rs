//! `/api/v1/orders`: atomic placement under concurrency, idempotency keys, the status machine,
//! stock returns, history, and owner-only access.

use std::time::Duration;

use ecommerce_api::db::Backend;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::services::{SlowLink, eventually};
use crate::harness::{
    TestApp, TestResponse, TestUser, admin_url, backend, id_value, spawn_app, spawn_app_with,
};

async fn stock(app: &TestApp, product: &Value) -> i32 {
    app.scalar(
        "SELECT in_stock FROM products WHERE id = $1",
        [id_value(product["id"].as_str().unwrap())],
    )
    .await
    .unwrap()
}

fn line(product: &Value, quantity: u32) -> Value {
    json!({"productId": product["id"], "quantity": quantity})
}

async fn order(user: &TestUser<'_>, lines: Vec<Value>) -> TestResponse {
    user.post("/api/v1/orders", &json!({ "items": lines }))
        .await
}

async fn order_with_key(user: &TestUser<'_>, key: &str, lines: Vec<Value>) -> TestResponse {
    user.app
        .send(
            user.request(reqwest::Method::POST, "/api/v1/orders")
                .header("idempotency-key", key)
                .json(&json!({ "items": lines })),
        )
        .await
}

#[tokio::test]
async fn an_order_is_priced_from_the_catalog_and_takes_the_stock() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shoe = admin
        .create_product(json!({"name": "Shoe", "price": "19.99", "inStock": 5}))
        .await;
    let sock = admin
        .create_product(json!({"name": "Sock", "price": "0.10", "inStock": 10}))
        .await;
    let user = app.user().await;

    let response = user
        .post(
            "/api/v1/orders",
            &json!({"items": [
                {"productId": shoe["id"], "quantity": 2, "price": "0.01"},
                {"productId": sock["id"], "quantity": 3}
            ], "total": "0.01"}),
        )
        .await;

    response.assert_status(201);
    let placed = &response.body["data"];
    assert_eq!(placed["status"], "PENDING");
    assert_eq!(
        placed["total"], "40.28",
        "2 × 19.99 + 3 × 0.10, from the catalog"
    );
    assert_eq!(placed["customerId"], user.id.as_str());
    let mut items = placed["items"].as_array().unwrap().clone();
    items.sort_by_key(|i| i["productName"].as_str().unwrap().to_owned());
    assert_eq!(
        items,
        [
            json!({"productId": shoe["id"], "productName": "Shoe", "quantity": 2, "price": "19.99"}),
            json!({"productId": sock["id"], "productName": "Sock", "quantity": 3, "price": "0.10"}),
        ]
    );
    assert_eq!(stock(&app, &shoe).await, 3);
    assert_eq!(stock(&app, &sock).await, 7);
    let id = id_value(placed["id"].as_str().unwrap());
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM order_items WHERE order_id = $1",
            [id.clone()]
        )
        .await,
        2
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM order_events WHERE order_id = $1 AND kind = 'placed'",
            [id]
        )
        .await,
        1
    );
    let fetched = user
        .get(&format!(
            "/api/v1/orders/{}",
            placed["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(fetched.body["data"]["total"], "40.28");
}

#[tokio::test]
async fn forty_concurrent_buyers_of_ten_units_get_exactly_ten_orders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let mut buyers = Vec::new();
    for _ in 0..4 {
        buyers.push(app.user().await);
    }

    let responses =
        join_all((0..40).map(|i| order(&buyers[i % buyers.len()], vec![line(&product, 1)]))).await;

    let created = responses.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 10);
    for refused in responses.iter().filter(|r| r.status != 201) {
        refused.assert_error(409, "INSUFFICIENT_STOCK");
        assert_eq!(refused.error_fields(), ["items[0].quantity"]);
    }
    assert_eq!(stock(&app, &product).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 10);
    assert_eq!(app.count("SELECT COUNT(*) FROM order_items", []).await, 10);
}

#[tokio::test]
async fn concurrent_two_item_orders_are_never_partially_applied() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let plenty = admin
        .create_product(json!({"name": "Plenty", "inStock": 10}))
        .await;
    let scarce = admin
        .create_product(json!({"name": "Scarce", "inStock": 5}))
        .await;
    let mut buyers = Vec::new();
    for _ in 0..4 {
        buyers.push(app.user().await);
    }

    // Half list the lines in the other order, so row locks would cross without a fixed order.
    let responses = join_all((0..20).map(|i| {
        let lines = if i % 2 == 0 {
            vec![line(&plenty, 1), line(&scarce, 1)]
        } else {
            vec![line(&scarce, 1), line(&plenty, 1)]
        };
        order(&buyers[i % buyers.len()], lines)
    }))
    .await;

    assert_eq!(responses.iter().filter(|r| r.status == 201).count(), 5);
    for refused in responses.iter().filter(|r| r.status != 201) {
        refused.assert_error(409, "INSUFFICIENT_STOCK");
    }
    assert_eq!(stock(&app, &scarce).await, 0);
    assert_eq!(
        stock(&app, &plenty).await,
        5,
        "no half-placed order kept a unit"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM order_items", []).await, 10);
}

/// Clients that give up mid-request (a timeout, a closed tab) cancel the request's work at
/// whatever await it has reached, a transaction's `BEGIN` or `COMMIT` included. Nothing may be
/// half-applied, no connection may go back to the pool inside a transaction nobody will end
/// (the next borrower's writes would run in it and never commit), and the server must still
/// place orders and shut down afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_abandoned_by_their_clients_leave_nothing_half_done() {
    // On PostgreSQL the app's pool reaches the server over a link that holds each reply for
    // 3 ms, so every round trip (BEGIN and COMMIT too) is a window a cancellation can hit.
    let link = match admin_url() {
        Some(server) => Some(SlowLink::start(&server, Duration::from_millis(3)).await),
        None => None,
    };
    let mut app = spawn_app_with(|config| {
        if let Some(link) = &link {
            config.database_url = link.reroute(&config.database_url);
        }
    })
    .await;
    let admin = app.admin().await;
    let mut products = Vec::new();
    for _ in 0..10 {
        products.push(admin.create_product(json!({"inStock": 100})).await);
    }
    let buyer = app.user().await;

    // Waves narrower than the pool, each request given up after 1 to 121 ms: cancellations
    // land at every await of the request, from reading the body to the commit.
    let mut abandoned = Vec::new();
    for wave in 0..5u64 {
        abandoned.extend(
            join_all((0..30u64).map(|i| {
                let patience = Duration::from_micros(1000 + (wave * 30 + i) * 7919 % 120_000);
                let request = buyer
                    .request(reqwest::Method::POST, "/api/v1/orders")
                    .timeout(patience)
                    .json(&json!({ "items": [line(&products[i as usize % 10], 1)] }));
                async move {
                    let response = request.send().await.ok()?;
                    let status = response.status();
                    let body: Value = response.json().await.ok()?;
                    (status == 201).then(|| body["data"]["id"].as_str().unwrap().to_owned())
                }
            }))
            .await,
        );
    }

    let accounted = || async {
        let left = app.count("SELECT SUM(in_stock) FROM products", []).await;
        let sold = app
            .count("SELECT COALESCE(SUM(quantity), 0) FROM order_items", [])
            .await;
        left + sold == 1000
    };
    eventually(
        "stock and order items account for every unit",
        Duration::from_secs(10),
        accounted,
    )
    .await;
    if backend() == Backend::Postgres {
        eventually(
            "no session is left inside a transaction",
            Duration::from_secs(10),
            || async {
                app.count(
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                    [],
                )
                .await
                    == 0
            },
        )
        .await;
    }
    for id in abandoned.into_iter().flatten() {
        assert_eq!(
            app.count("SELECT COUNT(*) FROM orders WHERE id = $1", [id_value(&id)])
                .await,
            1,
            "an order answered 201 is committed"
        );
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS \
             (SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
            []
        )
        .await,
        0,
        "every order has its line"
    );

    // Every pooled connection still works: a burst wider than the pool, each one committed.
    let before = app.count("SELECT COUNT(*) FROM orders", []).await;
    let placed = join_all((0..40).map(|i| order(&buyer, vec![line(&products[i % 10], 1)]))).await;
    for response in &placed {
        response.assert_status(201);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders", []).await,
        before + 40
    );
    assert!(accounted().await);

    tokio::time::timeout(Duration::from_secs(30), app.stop())
        .await
        .expect("the server shuts down after abandoned requests");
}

#[tokio::test]
async fn unknown_and_archived_products_are_a_400_that_names_them_and_nothing_changes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let available = admin.create_product(json!({"inStock": 5})).await;
    let archived = admin.create_product(json!({"inStock": 5})).await;
    app.execute(
        "UPDATE products SET archived = true WHERE id = $1",
        [id_value(archived["id"].as_str().unwrap())],
    )
    .await;
    let user = app.user().await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let response = order(
        &user,
        vec![
            line(&available, 1),
            json!({"productId": unknown, "quantity": 1}),
            line(&archived, 1),
        ],
    )
    .await;

    response.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        response.error_fields(),
        ["items[1].productId", "items[2].productId"]
    );
    let details = &response.body["error"]["details"];
    for (i, id) in [(0, unknown.as_str()), (1, archived["id"].as_str().unwrap())] {
        let message = details[i]["message"].as_str().unwrap();
        assert!(
            message.contains(id),
            "the detail names the product: {message}"
        );
    }
    assert_eq!(stock(&app, &available).await, 5);
    assert_eq!(stock(&app, &archived).await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 0);
}

#[tokio::test]
async fn short_stock_names_each_short_line_and_takes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let enough = admin.create_product(json!({"inStock": 5})).await;
    let short = admin.create_product(json!({"inStock": 2})).await;
    let user = app.user().await;

    let response = order(&user, vec![line(&enough, 5), line(&short, 3)]).await;

    response.assert_error(409, "INSUFFICIENT_STOCK");
    assert_eq!(response.error_fields(), ["items[1].quantity"]);
    let message = response.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains(short["id"].as_str().unwrap()), "{message}");
    assert!(message.contains("2 in stock"), "{message}");
    assert_eq!(stock(&app, &enough).await, 5);
    assert_eq!(stock(&app, &short).await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 0);
}

#[tokio::test]
async fn malformed_orders_are_400() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({})).await;
    let user = app.user().await;

    let cases = [
        (json!({"items": []}), vec!["items"]),
        (
            json!({"items": [{"productId": product["id"], "quantity": 0}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"items": [{"productId": product["id"], "quantity": "2"}]}),
            vec!["items[0].quantity"],
        ),
        (
            json!({"items": [{"productId": "x", "quantity": 1.5}]}),
            vec!["items[0].productId", "items[0].quantity"],
        ),
        (
            json!({"items": [line(&product, 1), line(&product, 2)]}),
            vec!["items[1].productId"],
        ),
    ];
    for (body, fields) in cases {
        let response = user.post("/api/v1/orders", &body).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), fields, "{body}");
    }
    app.anonymous()
        .post("/api/v1/orders", &json!({"items": [line(&product, 1)]}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 0);
}

#[tokio::test]
async fn repeating_a_key_replays_the_order_without_taking_stock_again() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 5})).await;
    let user = app.user().await;

    let first = order_with_key(&user, "key-1", vec![line(&product, 2)]).await;
    let again = order_with_key(&user, "key-1", vec![line(&product, 2)]).await;

    first.assert_status(201);
    again.assert_status(201);
    assert_eq!(again.text, first.text, "the same answer, byte for byte");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(stock(&app, &product).await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_make_one_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 100})).await;
    let user = app.user().await;

    let responses =
        join_all((0..20).map(|_| order_with_key(&user, "same-key", vec![line(&product, 1)]))).await;

    let ids: std::collections::HashSet<&str> = responses
        .iter()
        .map(|r| {
            r.assert_status(201);
            r.body["data"]["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every response names the one order");
    assert_eq!(stock(&app, &product).await, 99);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);
}

#[tokio::test]
async fn a_key_with_a_different_body_is_refused_and_keys_belong_to_their_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let (ann, bob) = (app.user().await, app.user().await);

    order_with_key(&ann, "k", vec![line(&product, 1)])
        .await
        .assert_status(201);
    let different = order_with_key(&ann, "k", vec![line(&product, 2)]).await;
    let other_user = order_with_key(&bob, "k", vec![line(&product, 2)]).await;

    different.assert_error(409, "IDEMPOTENCY_KEY_REUSED");
    other_user.assert_status(201);
    assert_eq!(other_user.body["data"]["customerId"], bob.id.as_str());
    assert_eq!(stock(&app, &product).await, 7);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 2);
}

#[tokio::test]
async fn a_refusal_is_stored_with_the_key_and_a_new_key_asks_again() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 1})).await;
    let user = app.user().await;

    let refused = order_with_key(&user, "k", vec![line(&product, 2)]).await;
    admin
        .patch(
            &format!("/api/v1/products/{}", product["id"].as_str().unwrap()),
            &json!({"inStock": 10}),
        )
        .await
        .assert_status(200);
    let replayed = order_with_key(&user, "k", vec![line(&product, 2)]).await;
    let fresh = order_with_key(&user, "k2", vec![line(&product, 2)]).await;

    refused.assert_error(409, "INSUFFICIENT_STOCK");
    replayed.assert_error(409, "INSUFFICIENT_STOCK");
    assert_eq!(replayed.text, refused.text, "byte for byte");
    assert_eq!(
        replayed.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    fresh.assert_status(201);
    assert_eq!(stock(&app, &product).await, 8);
}

#[tokio::test]
async fn a_key_expires_after_24_hours() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let user = app.user().await;
    let first = order_with_key(&user, "k", vec![line(&product, 1)]).await;
    first.assert_status(201);
    app.execute(
        "UPDATE idempotency_keys SET created_at = $1",
        [(chrono::Utc::now() - chrono::Duration::hours(25)).into()],
    )
    .await;

    let later = order_with_key(&user, "k", vec![line(&product, 1)]).await;

    later.assert_status(201);
    assert_ne!(later.body["data"]["id"], first.body["data"]["id"]);
    assert_eq!(later.header("idempotent-replayed"), None);
    assert_eq!(stock(&app, &product).await, 8);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM idempotency_keys", []).await,
        1
    );
}

#[tokio::test]
async fn an_unusable_key_is_a_400() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let user = app.user().await;

    let long = "k".repeat(256);
    for key in [long.as_str(), "has space"] {
        let response = order_with_key(&user, key, vec![line(&product, 1)]).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), ["Idempotency-Key"]);
    }
    assert_eq!(stock(&app, &product).await, 10);
}

async fn set_status(admin: &TestUser<'_>, order: &str, status: &str) -> TestResponse {
    admin
        .patch(
            &format!("/api/v1/orders/{order}/status"),
            &json!({ "status": status }),
        )
        .await
}

#[tokio::test]
async fn an_order_moves_through_its_life_and_the_history_records_every_step() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 3})).await;
    let user = app.user().await;
    let placed = order(&user, vec![line(&product, 1)]).await;
    let id = placed.body["data"]["id"].as_str().unwrap().to_owned();

    for status in ["CONFIRMED", "SHIPPED", "DELIVERED"] {
        let response = set_status(&admin, &id, status).await;
        response.assert_status(200);
        assert_eq!(response.body["data"]["status"], status);
    }
    let events = user.get(&format!("/api/v1/orders/{id}/events")).await;

    events.assert_status(200);
    let steps: Vec<(Value, Value, Value, Value)> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["at"].is_string());
            (
                e["type"].clone(),
                e["fromStatus"].clone(),
                e["toStatus"].clone(),
                e["actorId"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                json!("placed"),
                Value::Null,
                json!("PENDING"),
                json!(user.id)
            ),
            (
                json!("status_changed"),
                json!("PENDING"),
                json!("CONFIRMED"),
                json!(admin.id)
            ),
            (
                json!("status_changed"),
                json!("CONFIRMED"),
                json!("SHIPPED"),
                json!(admin.id)
            ),
            (
                json!("status_changed"),
                json!("SHIPPED"),
                json!("DELIVERED"),
                json!(admin.id)
            ),
        ]
    );
    assert_eq!(stock(&app, &product).await, 2, "delivering returns nothing");
}

#[tokio::test]
async fn every_move_outside_the_state_machine_is_a_409() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 100})).await;
    let user = app.user().await;
    let path_to = [
        vec![],
        vec!["CONFIRMED"],
        vec!["CONFIRMED", "SHIPPED"],
        vec!["CONFIRMED", "SHIPPED", "DELIVERED"],
        vec!["CANCELLED"],
    ];
    let allowed = [
        ("PENDING", "CONFIRMED"),
        ("CONFIRMED", "SHIPPED"),
        ("SHIPPED", "DELIVERED"),
        ("PENDING", "CANCELLED"),
        ("CONFIRMED", "CANCELLED"),
    ];
    let statuses = ["PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"];

    for (from, steps) in statuses.iter().zip(&path_to) {
        for to in statuses {
            if allowed.contains(&(*from, to)) {
                continue;
            }
            let placed = order(&user, vec![line(&product, 1)]).await;
            let id = placed.body["data"]["id"].as_str().unwrap().to_owned();
            for step in steps {
                set_status(&admin, &id, step).await.assert_status(200);
            }
            let response = set_status(&admin, &id, to).await;
            response.assert_error(409, "INVALID_STATUS_TRANSITION");
            let current = admin.get(&format!("/api/v1/orders/{id}")).await;
            assert_eq!(current.body["data"]["status"], *from, "{from} → {to}");
        }
    }
    let unknown = set_status(&admin, "not-an-id", "SHIPPED").await;
    unknown.assert_error(404, "NOT_FOUND");
    let placed = order(&user, vec![line(&product, 1)]).await;
    let bad = set_status(&admin, placed.body["data"]["id"].as_str().unwrap(), "LOST").await;
    bad.assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn cancelling_returns_the_stock_and_owners_may_only_cancel_pending_orders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = admin.create_product(json!({"inStock": 10})).await;
    let b = admin.create_product(json!({"inStock": 10})).await;
    let user = app.user().await;
    let first = order(&user, vec![line(&a, 3), line(&b, 2)]).await;
    let second = order(&user, vec![line(&a, 4)]).await;
    let (first, second) = (
        first.body["data"]["id"].as_str().unwrap().to_owned(),
        second.body["data"]["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!((stock(&app, &a).await, stock(&app, &b).await), (3, 8));

    let by_owner = user
        .post(&format!("/api/v1/orders/{first}/cancel"), &json!({}))
        .await;
    let twice = user
        .post(&format!("/api/v1/orders/{first}/cancel"), &json!({}))
        .await;
    set_status(&admin, &second, "CONFIRMED")
        .await
        .assert_status(200);
    let confirmed_by_owner = user
        .post(&format!("/api/v1/orders/{second}/cancel"), &json!({}))
        .await;
    let confirmed_by_admin = admin
        .post(&format!("/api/v1/orders/{second}/cancel"), &json!({}))
        .await;

    by_owner.assert_status(200);
    assert_eq!(by_owner.body["data"]["status"], "CANCELLED");
    twice.assert_error(409, "INVALID_STATUS_TRANSITION");
    confirmed_by_owner.assert_error(409, "INVALID_STATUS_TRANSITION");
    confirmed_by_admin.assert_status(200);
    assert_eq!(stock(&app, &a).await, 10, "3 + 4 returned");
    assert_eq!(stock(&app, &b).await, 10, "2 returned");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM order_events WHERE to_status = 'CANCELLED'",
            []
        )
        .await,
        2
    );
}

#[tokio::test]
async fn concurrent_cancels_return_the_stock_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let user = app.user().await;
    let placed = order(&user, vec![line(&product, 4)]).await;
    let path = format!(
        "/api/v1/orders/{}/cancel",
        placed.body["data"]["id"].as_str().unwrap()
    );
    let body = json!({});

    let responses = join_all((0..8).map(|_| user.post(&path, &body))).await;

    assert_eq!(responses.iter().filter(|r| r.status == 200).count(), 1);
    for refused in responses.iter().filter(|r| r.status != 200) {
        refused.assert_error(409, "INVALID_STATUS_TRANSITION");
    }
    assert_eq!(stock(&app, &product).await, 10);
}

#[tokio::test]
async fn another_users_order_does_not_exist_for_them_on_any_route() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let (owner, other) = (app.user().await, app.user().await);
    let placed = order(&owner, vec![line(&product, 1)]).await;
    let id = placed.body["data"]["id"].as_str().unwrap().to_owned();

    other
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .assert_error(404, "NOT_FOUND");
    other
        .get(&format!("/api/v1/orders/{id}/events"))
        .await
        .assert_error(404, "NOT_FOUND");
    other
        .post(&format!("/api/v1/orders/{id}/cancel"), &json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
    set_status(&other, &id, "CONFIRMED")
        .await
        .assert_error(403, "FORBIDDEN");
    let listed = other.get("/api/v1/orders").await;
    assert_eq!(listed.body["data"], json!([]));
    admin
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .assert_status(200);
    assert_eq!(stock(&app, &product).await, 9);
    assert_eq!(
        app.scalar::<String>("SELECT status FROM orders", [])
            .await
            .as_deref(),
        Some("PENDING")
    );
}

#[tokio::test]
async fn lists_show_owners_their_orders_and_admins_everyones_with_filters() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 100})).await;
    let (ann, bob) = (app.user().await, app.user().await);
    for _ in 0..3 {
        order(&ann, vec![line(&product, 1)])
            .await
            .assert_status(201);
    }
    let bobs = order(&bob, vec![line(&product, 1)]).await;
    set_status(
        &admin,
        bobs.body["data"]["id"].as_str().unwrap(),
        "CONFIRMED",
    )
    .await
    .assert_status(200);

    let anns = ann.get("/api/v1/orders?limit=2").await;
    let anns_confirmed = ann.get("/api/v1/orders?status=CONFIRMED").await;
    let ann_asks_for_bob = ann
        .get(&format!("/api/v1/orders?customerId={}", bob.id))
        .await;
    let all = admin.get("/api/v1/orders").await;
    let only_bob = admin
        .get(&format!("/api/v1/orders?customerId={}", bob.id))
        .await;
    let confirmed = admin.get("/api/v1/orders?status=CONFIRMED").await;
    let bad = admin.get("/api/v1/orders?status=LOST&limit=0").await;

    anns.assert_status(200);
    assert_eq!(
        anns.body["pagination"],
        json!({"page": 1, "limit": 2, "total": 3, "totalPages": 2})
    );
    assert!(
        anns.body["data"].as_array().unwrap().iter().all(
            |o| o["customerId"] == ann.id.as_str() && o["items"].as_array().unwrap().len() == 1
        )
    );
    assert_eq!(anns_confirmed.body["pagination"]["total"], 0);
    assert_eq!(
        ann_asks_for_bob.body["pagination"]["total"], 3,
        "still only her own"
    );
    assert_eq!(all.body["pagination"]["total"], 4);
    assert_eq!(only_bob.body["pagination"]["total"], 1);
    assert_eq!(confirmed.body["data"][0]["customerId"], bob.id.as_str());
    bad.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(bad.error_fields(), ["status", "limit"]);
}

#[tokio::test]
async fn admin_totals_stay_exact_under_concurrent_orders_and_moves() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 1000})).await;
    let mut buyers = Vec::new();
    for _ in 0..4 {
        buyers.push(app.user().await);
    }

    let placed = join_all((0..24).map(|i| order(&buyers[i % 4], vec![line(&product, 1)]))).await;
    let ids: Vec<String> = placed
        .iter()
        .map(|r| {
            r.assert_status(201);
            r.body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    // Owners cancel eight while the admin confirms four others, all at once.
    let cancels = (0..8).map(|i| {
        let path = format!("/api/v1/orders/{}/cancel", ids[i]);
        let buyer = &buyers[i % 4];
        async move { buyer.post(&path, &json!({})).await }
    });
    let (cancelled, confirmed) = futures::join!(
        join_all(cancels),
        join_all((8..12).map(|i| set_status(&admin, &ids[i], "CONFIRMED")))
    );
    for response in cancelled.iter().chain(&confirmed) {
        response.assert_status(200);
    }

    for (filter, expected) in [
        ("", 24),
        ("status=PENDING", 12),
        ("status=CANCELLED", 8),
        ("status=CONFIRMED", 4),
        ("status=SHIPPED", 0),
    ] {
        let list = admin.get(&format!("/api/v1/orders?limit=5&{filter}")).await;
        list.assert_status(200);
        assert_eq!(list.body["pagination"]["total"], expected, "{filter}");
        assert_eq!(
            list.body["pagination"]["totalPages"],
            (expected + 4) / 5,
            "{filter}"
        );
        let status = filter.strip_prefix("status=");
        let counted = match status {
            Some(status) => {
                app.count(
                    "SELECT COUNT(*) FROM orders WHERE status = $1",
                    [status.into()],
                )
                .await
            }
            None => app.count("SELECT COUNT(*) FROM orders", []).await,
        };
        assert_eq!(counted, expected, "{filter}: the rows themselves");
    }
    let mine = buyers[0].get("/api/v1/orders").await;
    assert_eq!(mine.body["pagination"]["total"], 6);
}

#[tokio::test]
async fn an_offset_list_serves_its_first_ten_thousand_rows() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let last = admin.get("/api/v1/orders?page=100&limit=100").await;
    let beyond = admin.get("/api/v1/orders?page=101&limit=100").await;
    let small_pages = admin.get("/api/v1/users?page=10000&limit=1").await;
    let deeper = admin.get("/api/v1/users?page=10001&limit=1").await;

    last.assert_status(200);
    assert_eq!(last.body["pagination"]["page"], 100);
    small_pages.assert_status(200);
    for refused in [&beyond, &deeper] {
        refused.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(refused.error_fields(), ["page"]);
    }
    assert!(
        beyond.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100 with limit 100"),
        "{}",
        beyond.body
    );
}

#[tokio::test]
async fn an_archived_product_still_shows_on_the_orders_that_have_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin
        .create_product(json!({"name": "Old Lamp", "price": "5.00", "inStock": 3}))
        .await;
    let user = app.user().await;
    let placed = order(&user, vec![line(&product, 1)]).await;
    let id = placed.body["data"]["id"].as_str().unwrap().to_owned();

    admin
        .delete(&format!(
            "/api/v1/products/{}",
            product["id"].as_str().unwrap()
        ))
        .await
        .assert_status(200);

    let shown = user.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(shown.body["data"]["items"][0]["productName"], "Old Lamp");
    assert_eq!(shown.body["data"]["items"][0]["price"], "5.00");
    order(&user, vec![line(&product, 1)])
        .await
        .assert_error(400, "VALIDATION_ERROR");
}
