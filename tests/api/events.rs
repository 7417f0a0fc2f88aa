//! Domain events through the outbox to NATS JetStream (API.md §6), with a private
//! `nats-server` per test.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::services::{NatsServer, eventually};
use crate::harness::{TestApp, TestUser, spawn_app_with};

const WITHIN: Duration = Duration::from_secs(20);

async fn app_with_nats(nats: &NatsServer) -> TestApp {
    let url = nats.url();
    spawn_app_with(move |config| config.nats_url = Some(url)).await
}

async fn undelivered(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL", [])
        .await
}

/// The ids of the outbox rows that match `filter`, oldest first.
async fn outbox_ids(app: &TestApp, filter: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let rows = app
        .db
        .read()
        .query_all_raw(ecommerce_api::db::sql(
            app.db.read(),
            &format!("SELECT id FROM outbox WHERE {filter} ORDER BY created_at, id"),
            [],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<uuid::Uuid>("", "id").unwrap().to_string())
        .collect()
}

async fn product(admin: &TestUser<'_>, stock: i64) -> String {
    admin
        .create_product(json!({"price": "10.00", "inStock": stock}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn each_event_arrives_once_on_its_subject_with_the_documented_body_and_id() {
    let nats = NatsServer::start().await;
    let app = app_with_nats(&nats).await;
    let admin = app.admin().await;
    let user = app.user().await;
    let id = product(&admin, 10).await;

    admin
        .patch(
            &format!("/api/v1/products/{id}"),
            &json!({"price": "12.50"}),
        )
        .await
        .assert_status(200);
    admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": id, "price": "11.00"}]}),
        )
        .await
        .assert_status(200);
    let order = user
        .post(
            "/api/v1/orders",
            &json!({"items": [{"productId": id, "quantity": 2}]}),
        )
        .await;
    order.assert_status(201);
    let order_id = order.body["data"]["id"].as_str().unwrap().to_owned();
    admin
        .patch(
            &format!("/api/v1/orders/{order_id}/status"),
            &json!({"status": "CONFIRMED"}),
        )
        .await
        .assert_status(200);
    let post = user
        .post(
            "/api/v1/posts",
            &json!({"title": "News", "content": "x", "published": true}),
        )
        .await;
    post.assert_status(201);

    eventually("every event is delivered", WITHIN, || async {
        undelivered(&app).await == 0
    })
    .await;
    let ids = outbox_ids(&app, "1 = 1").await;
    let messages = nats.events().await;

    assert_eq!(messages.len(), ids.len(), "each event once: {messages:#?}");
    let by_id: HashMap<&str, &(String, String, Value)> =
        messages.iter().map(|m| (m.1.as_str(), m)).collect();
    for id in &ids {
        let (subject, header, body) = by_id[id.as_str()];
        assert_eq!(header, id, "Nats-Msg-Id is the event id");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(
            subject,
            &format!("events.{}", body["type"].as_str().unwrap())
        );
        assert!(body["occurredAt"].is_string());
    }
    let of_type = |kind: &str| -> Vec<&Value> {
        messages
            .iter()
            .filter(|m| m.2["type"] == kind)
            .map(|m| &m.2["data"])
            .collect()
    };
    assert_eq!(
        of_type("user.registered"),
        [&json!({"userId": user.id, "email": user.email})]
    );
    assert_eq!(
        of_type("product.price_changed"),
        [
            &json!({"productId": id, "oldPrice": "10.00", "newPrice": "12.50"}),
            &json!({"productId": id, "oldPrice": "12.50", "newPrice": "11.00"}),
        ]
    );
    assert_eq!(
        of_type("order.placed"),
        [
            &json!({"orderId": order_id, "customerId": user.id, "total": "22.00",
                 "items": [{"productId": id, "quantity": 2, "price": "11.00"}]})
        ]
    );
    assert_eq!(
        of_type("order.status_changed"),
        [
            &json!({"orderId": order_id, "fromStatus": "PENDING", "toStatus": "CONFIRMED",
                 "actorId": admin.id})
        ]
    );
    assert_eq!(
        of_type("post.published"),
        [&json!({"postId": post.body["data"]["id"], "slug": "news", "authorId": user.id})]
    );
}

#[tokio::test]
async fn a_refused_change_writes_no_event_and_publishes_nothing() {
    let nats = NatsServer::start().await;
    let app = app_with_nats(&nats).await;
    let admin = app.admin().await;
    let user = app.user().await;
    let id = product(&admin, 1).await;
    eventually("the setup is delivered", WITHIN, || async {
        undelivered(&app).await == 0
    })
    .await;
    let before = outbox_ids(&app, "1 = 1").await.len();

    user.post(
        "/api/v1/orders",
        &json!({"items": [{"productId": id, "quantity": 5}]}),
    )
    .await
    .assert_error(409, "INSUFFICIENT_STOCK");
    // Unchanged price, draft post: no event either.
    admin
        .patch(
            &format!("/api/v1/products/{id}"),
            &json!({"price": "10.00"}),
        )
        .await
        .assert_status(200);
    user.post("/api/v1/posts", &json!({"title": "Draft", "content": "x"}))
        .await
        .assert_status(201);

    assert_eq!(outbox_ids(&app, "1 = 1").await.len(), before);
    assert!(
        nats.events()
            .await
            .iter()
            .all(|m| m.2["type"] != "order.placed"),
        "a refused order published an event"
    );
}

#[tokio::test]
async fn while_nats_is_down_events_wait_and_then_arrive_once_each() {
    let mut nats = NatsServer::start().await;
    let app = app_with_nats(&nats).await;
    let admin = app.admin().await;
    let user = app.user().await;
    let id = product(&admin, 100).await;
    eventually("the setup is delivered", WITHIN, || async {
        undelivered(&app).await == 0
    })
    .await;

    nats.stop();
    for _ in 0..5 {
        user.post(
            "/api/v1/orders",
            &json!({"items": [{"productId": id, "quantity": 1}]}),
        )
        .await
        .assert_status(201);
    }
    eventually("/ready says degraded", WITHIN, || async {
        let ready = app.get("/ready").await;
        ready.status == 200
            && ready.body["status"] == "degraded"
            && ready.body["checks"]["nats"] == "down"
    })
    .await;
    assert_eq!(undelivered(&app).await, 5, "the orders' events wait");
    nats.restart().await;

    eventually("the waiting events are delivered", WITHIN, || async {
        undelivered(&app).await == 0
    })
    .await;
    let ids = outbox_ids(&app, "1 = 1").await;
    let messages = nats.events().await;
    let mut published: Vec<&str> = messages.iter().map(|m| m.1.as_str()).collect();
    published.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(published, expected, "every event once, none lost");
    let ready = app.get("/ready").await;
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(
        ready.body["checks"],
        json!({"database": "up", "nats": "up"})
    );
}

#[tokio::test]
async fn without_nats_events_are_handled_in_process_and_marked_delivered() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user().await;

    eventually("the event is delivered in process", WITHIN, || async {
        undelivered(&app).await == 0
    })
    .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'user.registered' \
             AND handled_at IS NOT NULL",
            []
        )
        .await,
        1
    );
    let ready = app.get("/ready").await;
    assert_eq!(
        ready.body["checks"],
        json!({"database": "up"}),
        "{}",
        user.id
    );
}

#[tokio::test]
async fn one_instance_relays_at_a_time_and_another_takes_over_when_it_stops() {
    let nats = NatsServer::start().await;
    let mut leader = app_with_nats(&nats).await;
    let url = nats.url();
    let follower =
        crate::harness::spawn_app_sharing(&leader, move |config| config.nats_url = Some(url)).await;
    leader.user().await;
    eventually("the leader delivers", WITHIN, || async {
        undelivered(&leader).await == 0
    })
    .await;

    leader.stop().await;
    follower.user().await;

    eventually("the follower took over and delivers", WITHIN, || async {
        undelivered(&follower).await == 0
    })
    .await;
    let ids = outbox_ids(&follower, "1 = 1").await;
    let messages = nats.events().await;
    assert_eq!(messages.len(), ids.len());
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn shutdown_marks_every_published_event_delivered() {
    let nats = NatsServer::start().await;
    let mut app = app_with_nats(&nats).await;
    let admin = app.admin().await;
    let user = app.user().await;
    let id = product(&admin, 1000).await;
    let order = json!({"items": [{"productId": id, "quantity": 1}]});
    let placed = futures::future::join_all((0..30).map(|_| user.post("/api/v1/orders", &order)));
    for response in placed.await {
        response.assert_status(201);
    }

    app.stop().await;

    let mut published: Vec<String> = nats.events().await.into_iter().map(|m| m.1).collect();
    published.sort_unstable();
    let total = published.len();
    published.dedup();
    assert_eq!(published.len(), total, "no event published twice");
    let mut delivered = outbox_ids(&app, "delivered_at IS NOT NULL").await;
    delivered.sort_unstable();
    assert_eq!(
        delivered, published,
        "every published event is marked delivered, and only those"
    );
}
