//! API.md §6 "Scale-out": two instances on one database and a private Redis share one rate
//! budget and see each other's catalog writes within a second; with Redis gone both still
//! answer correctly, `/ready` says so, and sharing resumes when it returns.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::harness::services::{RedisServer, eventually};
use crate::harness::{TestApp, spawn_app_sharing, spawn_app_with};

/// API.md §6: a write on any instance reaches every instance's reads within this.
const PROPAGATION: Duration = Duration::from_secs(1);
const SECRET: &str = "a shared secret of at least thirty-two bytes";

/// Two instances on one database and `redis`, behind a proxy that sets `X-Forwarded-For`.
async fn cluster(redis: &RedisServer, rate_limit_max: u32) -> (TestApp, TestApp) {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let configure = |url: String, prefix: String| {
        move |config: &mut ecommerce_api::config::Config| {
            config.redis_url = Some(url.into());
            config.redis_prefix = prefix;
            config.jwt_secret = SecretString::from(SECRET);
            config.rate_limit_max = rate_limit_max;
            config.trust_proxy = true;
        }
    };
    let a = spawn_app_with(configure(redis.url(), prefix.clone())).await;
    let b = spawn_app_sharing(&a, configure(redis.url(), prefix)).await;
    for app in [&a, &b] {
        eventually(
            "the instance subscribes to invalidations",
            PROPAGATION * 5,
            || async { app.get("/ready").await.body["checks"]["redis"] == "up" },
        )
        .await;
    }
    (a, b)
}

async fn product_as_seen_by(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/products/{id}")).await;
    if response.status.as_u16() == 404 {
        return Value::Null;
    }
    response.assert_status(200);
    response.body["data"].clone()
}

/// Polls `app` until `id` reads as `expected` says, failing after [`PROPAGATION`].
async fn seen_within_a_second(
    app: &TestApp,
    id: &str,
    what: &str,
    expected: impl Fn(&Value) -> bool,
) {
    eventually(what, PROPAGATION, || async {
        expected(&product_as_seen_by(app, id).await)
    })
    .await;
}

async fn requests_from(app: &TestApp, client: &str) -> (u16, Option<String>) {
    let response = app
        .send(
            app.request(reqwest::Method::GET, "/api/v1/categories")
                .header("x-forwarded-for", client),
        )
        .await;
    (
        response.status.as_u16(),
        response.header("ratelimit-remaining"),
    )
}

#[tokio::test]
async fn the_rate_budget_is_shared_by_every_instance() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis, 10).await;

    let mut remaining = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (status, left) = requests_from(app, "203.0.113.10").await;
        assert_eq!(status, 200, "request {i} is within the budget");
        remaining.push(left.unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(remaining, (0..10).rev().collect::<Vec<_>>());

    for app in [&a, &b] {
        let refused = app
            .send(
                app.request(reqwest::Method::GET, "/api/v1/categories")
                    .header("x-forwarded-for", "203.0.113.10"),
            )
            .await;
        refused.assert_error(429, "RATE_LIMITED");
        assert!(refused.header("retry-after").is_some());
    }
    // Another client has a budget of its own.
    assert_eq!(requests_from(&b, "203.0.113.11").await.0, 200);
}

#[tokio::test]
async fn concurrent_requests_of_many_clients_spend_exactly_each_budget() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis, 10).await;
    let clients: Vec<String> = (1..=4).map(|n| format!("198.51.100.{n}")).collect();

    // 25 requests per client at once, spread over both instances: checks that arrive together
    // are counted together, and each client still gets exactly its 10.
    let requests = clients.iter().flat_map(|client| {
        (0..25).map(|i| requests_from(if i % 2 == 0 { &a } else { &b }, client))
    });
    let outcomes = futures::future::join_all(requests).await;
    for (n, client) in clients.iter().enumerate() {
        let mine = &outcomes[n * 25..(n + 1) * 25];
        let mut remaining: Vec<u32> = mine
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, left)| left.as_deref().unwrap().parse().unwrap())
            .collect();
        remaining.sort_unstable();
        assert_eq!(
            remaining,
            (0..10).collect::<Vec<_>>(),
            "{client}: ten allowed, each with its own remaining count"
        );
        assert_eq!(
            mine.iter().filter(|(status, _)| *status == 429).count(),
            15,
            "{client}: the rest refused"
        );
    }
}

#[tokio::test]
async fn a_write_on_one_instance_is_read_on_the_other_within_a_second() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis, 0).await;
    let admin = a.admin().await;
    let category = admin.create_category("Mugs").await;
    let product = admin
        .create_product(json!({"name": "Mug", "price": "10.00", "categoryId": category}))
        .await;
    let id = product["id"].as_str().unwrap().to_owned();
    // A's read fills its cache and Redis; B's first read comes from Redis, and no later
    // read on either asks the database.
    assert_eq!(product_as_seen_by(&a, &id).await["price"], "10.00");
    for app in [&b, &b, &a] {
        let cached = app.get(&format!("/api/v1/products/{id}")).await;
        assert_eq!(cached.body["data"]["price"], "10.00");
        assert_eq!(cached.db_statements(), 0);
    }
    let listed = b.get("/api/v1/products?limit=5").await;
    assert_eq!(listed.body["data"][0]["name"], "Mug");

    admin
        .patch(
            &format!("/api/v1/products/{id}"),
            &json!({"price": "12.50"}),
        )
        .await
        .assert_status(200);
    assert_eq!(product_as_seen_by(&a, &id).await["price"], "12.50");
    seen_within_a_second(&b, &id, "the new price on B", |p| p["price"] == "12.50").await;

    // An order on B right after a price change on A is charged the new price.
    admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": id, "price": "13.00"}]}),
        )
        .await
        .assert_status(200);
    let customer = b.user().await;
    let order = customer
        .post(
            "/api/v1/orders",
            &json!({"items": [{"productId": id, "quantity": 2}]}),
        )
        .await;
    order.assert_status(201);
    assert_eq!(order.body["data"]["items"][0]["price"], "13.00");
    assert_eq!(order.body["data"]["total"], "26.00");
    // The stock the order took is what both instances show.
    for app in [&a, &b] {
        seen_within_a_second(app, &id, "the stock after the order", |p| {
            p["inStock"] == 8 && p["price"] == "13.00"
        })
        .await;
    }

    admin
        .patch(
            &format!("/api/v1/products/{id}"),
            &json!({"name": "Big Mug"}),
        )
        .await
        .assert_status(200);
    seen_within_a_second(&b, &id, "the rename on B", |p| p["name"] == "Big Mug").await;
    eventually("the rename in B's list", PROPAGATION, || async {
        b.get("/api/v1/products?limit=5").await.body["data"][0]["name"] == "Big Mug"
    })
    .await;

    b.with_token(&admin.token.clone().unwrap())
        .patch(
            &format!("/api/v1/categories/{category}"),
            &json!({"name": "Cups"}),
        )
        .await
        .assert_status(200);
    seen_within_a_second(&a, &id, "the category's new name on A", |p| {
        p["category"]["name"] == "Cups"
    })
    .await;

    let other = admin.create_product(json!({"name": "Plate"})).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    assert_eq!(product_as_seen_by(&b, &other_id).await["name"], "Plate");
    admin
        .delete(&format!("/api/v1/products/{other_id}"))
        .await
        .assert_status(200);
    seen_within_a_second(&b, &other_id, "the deletion on B", Value::is_null).await;
}

#[tokio::test]
async fn without_redis_both_instances_answer_correctly_and_sharing_resumes_when_it_returns() {
    let mut redis = RedisServer::start().await;
    let (a, b) = cluster(&redis, 10).await;
    let admin = a.admin().await;
    let product = admin.create_product(json!({"price": "5.00"})).await;
    let id = product["id"].as_str().unwrap().to_owned();
    assert_eq!(product_as_seen_by(&b, &id).await["price"], "5.00");

    redis.stop();
    for app in [&a, &b] {
        eventually("/ready says degraded", PROPAGATION * 5, || async {
            let ready = app.get("/ready").await;
            ready.status.as_u16() == 200
                && ready.body["status"] == "degraded"
                && ready.body["checks"]["redis"] == "down"
        })
        .await;
    }
    admin
        .patch(&format!("/api/v1/products/{id}"), &json!({"price": "6.00"}))
        .await
        .assert_status(200);
    assert_eq!(product_as_seen_by(&b, &id).await["price"], "6.00");
    assert_eq!(product_as_seen_by(&a, &id).await["price"], "6.00");
    // Limits fall back to each instance: answered, and still limited.
    for _ in 0..10 {
        assert_eq!(requests_from(&a, "198.51.100.1").await.0, 200);
    }
    assert_eq!(requests_from(&a, "198.51.100.1").await.0, 429);
    assert_eq!(requests_from(&b, "198.51.100.1").await.0, 200);

    redis.restart().await;
    for app in [&a, &b] {
        eventually("/ready says ready again", PROPAGATION * 10, || async {
            let ready = app.get("/ready").await;
            ready.body["status"] == "ready" && ready.body["checks"]["redis"] == "up"
        })
        .await;
    }
    // Sharing resumes: one budget again, and writes reach the other instance.
    eventually("the limiter uses Redis again", PROPAGATION * 5, || async {
        let client = format!("192.0.2.{}", rand_octet());
        requests_from(&a, &client).await;
        requests_from(&b, &client).await.1.as_deref() == Some("8")
    })
    .await;
    eventually(
        "B subscribes again and caches",
        PROPAGATION * 10,
        || async {
            product_as_seen_by(&b, &id).await["price"] == "6.00" && shared_hits(&b).await > 0.0
        },
    )
    .await;
    admin
        .patch(&format!("/api/v1/products/{id}"), &json!({"price": "7.00"}))
        .await
        .assert_status(200);
    seen_within_a_second(&b, &id, "the new price on B after Redis returned", |p| {
        p["price"] == "7.00"
    })
    .await;
}

fn rand_octet() -> u8 {
    (uuid::Uuid::new_v4().as_u128() % 250) as u8 + 1
}

/// Cache hits (either level) counted by `app`'s `/metrics`.
async fn shared_hits(app: &TestApp) -> f64 {
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with("cache_requests_total")
                && (line.contains("outcome=\"hit\"") || line.contains("outcome=\"shared_hit\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
