//! API.md §3: `/health`, `/ready`, `/metrics`, `/docs`.

use ecommerce_api::db::Backend;

use crate::harness::{backend, spawn_app};

#[tokio::test]
async fn health_reports_liveness_without_the_envelope() {
    let app = spawn_app().await;

    let response = app.get("/health").await;

    response.assert_status(200);
    let body = &response.body;
    assert_eq!(body["status"], "healthy");
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    assert!(body["uptime"].as_f64().unwrap() >= 0.0);
    assert!(body["memory"]["rss"].as_u64().unwrap() > 1_000_000);
    assert!(body.get("success").is_none());
}

#[tokio::test]
async fn ready_is_200_while_the_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/ready").await;

    response.assert_status(200);
    assert_eq!(response.body["status"], "ready");
    assert_eq!(response.body["checks"]["database"], "up");
}

#[tokio::test]
async fn ready_is_a_503_envelope_when_the_database_is_gone_while_health_stays_200() {
    let app = spawn_app().await;
    app.get("/ready").await.assert_status(200);

    app.state.db.close().await.unwrap();

    let response = app.get("/ready").await;
    response.assert_error(503, "UNAVAILABLE");
    assert_eq!(response.body["error"]["message"], "Database unavailable");
    app.get("/health").await.assert_status(200);
}

#[tokio::test]
async fn metrics_count_requests_by_matched_route_and_status() {
    let app = spawn_app().await;
    app.get("/health").await.assert_status(200);
    app.get("/api/v1/does-not-exist-42")
        .await
        .assert_status(404);
    app.send(app.request(reqwest::Method::from_bytes(b"MADEUP").unwrap(), "/health"))
        .await
        .assert_status(405);

    let response = app.get("/metrics").await;

    response.assert_status(200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = &response.text;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"}"#),
        "unmatched routes share one label"
    );
    assert!(
        !text.contains("does-not-exist-42"),
        "raw paths never become labels"
    );
    assert!(!text.contains("MADEUP"), "nor made-up methods");
    assert!(
        text.contains(r#"http_requests_total{method="OTHER","#),
        "{text}"
    );
    assert!(text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="0.005"}"#));
    let pools: &[&str] = match backend() {
        Backend::Sqlite => &["read", "write"],
        Backend::Postgres => &["shared"],
    };
    for pool in pools {
        assert!(
            text.contains(&format!(
                r#"db_pool_connections{{pool="{pool}",state="idle"}}"#
            )),
            "{text}"
        );
        assert!(text.contains(&format!(r#"db_pool_max_connections{{pool="{pool}"}}"#)));
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;

    let redirect = app.get("/docs").await;
    let page = app.get("/docs/").await;
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    let initializer = app.get("/docs/swagger-initializer.js").await;

    redirect.assert_status(303);
    assert_eq!(redirect.header("location").as_deref(), Some("/docs/"));
    page.assert_status(200);
    assert!(page.text.contains("swagger-ui-bundle.js"));
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no CDN"
    );
    bundle.assert_status(200);
    assert!(
        bundle.text.len() > 100_000,
        "the bundle itself, not a loader"
    );
    initializer.assert_status(200);
    assert!(initializer.text.contains("/api-docs/openapi.json"));
}
