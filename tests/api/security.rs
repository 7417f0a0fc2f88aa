//! What a hostile client, a proxy in front, or an operator's mistake could do, and what the
//! server does instead.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{DEFAULT_PASSWORD, TestApp, id_value, spawn_app, spawn_app_with};

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; `false` if it is still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buffer = vec![0_u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_login_whose_email_cannot_be_an_account_gets_the_same_401_and_writes_nothing() {
    let app = spawn_app().await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    let wrong_password = app.anonymous().login("ann@example.com", "wrong pass").await;
    app.execute("DELETE FROM attempt_budgets", []).await;

    let long = format!("{}@example.com", "a".repeat(300));
    for email in [long.as_str(), "no-at-sign", "a\u{0}b@example.com", "", "  "] {
        let response = app.anonymous().login(email, "wrong pass").await;
        response.assert_error(401, "INVALID_CREDENTIALS");
        assert_eq!(response.body, wrong_password.body, "{email:?}");
    }

    assert_eq!(
        app.count("SELECT COUNT(*) FROM attempt_budgets", []).await,
        0
    );
}

#[tokio::test]
async fn passwords_longer_than_any_account_can_have_are_refused_before_hashing() {
    let app = spawn_app().await;
    let user = app.user().await;
    let long = "p".repeat(129);

    let login = app.anonymous().login(&user.email, &long).await;
    let change = user
        .put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": long, "newPassword": "a new password"}),
        )
        .await;

    login.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(login.error_fields(), ["password"]);
    change.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(change.error_fields(), ["currentPassword"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM attempt_budgets", []).await,
        0
    );
}

#[tokio::test]
async fn a_half_sent_head_is_dropped_within_the_header_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.header_read = Duration::from_secs(1);
        config.connections.keep_alive = Duration::from_secs(300);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(socket_address(&app))
        .await
        .unwrap();

    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();

    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "the server still holds a connection whose head never ends"
    );
    // The server still serves everyone else.
    app.get("/health").await.assert_status(200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.header_read = Duration::from_secs(300);
        config.connections.keep_alive = Duration::from_secs(1);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(socket_address(&app))
        .await
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();

    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "an idle connection outlives the keep-alive timeout"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.write = Duration::from_secs(1);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(socket_address(&app))
        .await
        .unwrap();
    // Pipelined requests for a large document, far more than socket buffers hold, never read.
    let request = b"GET /api-docs/openapi.json HTTP/1.1\r\nhost: x\r\n\r\n".repeat(200);
    let _ = stream.write_all(&request).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "the server kept writing to a client that does not read"
    );
}

#[tokio::test]
async fn each_route_refuses_bodies_over_what_it_needs() {
    let app = spawn_app().await;
    let user = app.user().await;

    let login = app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            &json!({"email": "a@example.com", "password": "x".repeat(20 * 1024)}),
        )
        .await;
    let post = user
        .post(
            "/api/v1/posts",
            &json!({"title": "Long", "content": "word ".repeat(60_000)}),
        )
        .await;

    login.assert_error(413, "PAYLOAD_TOO_LARGE");
    // 300 KB is within the blog's limit: the content rule answers, not the body limit.
    post.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(post.error_fields(), ["content"]);
}

#[tokio::test]
async fn behind_a_proxy_every_header_line_is_read_and_the_client_cannot_pick_its_bucket() {
    let app = spawn_app_with(|config| {
        config.rate_limit_max = 2;
        config.trust_proxy = true;
    })
    .await;
    let send = |lines: Vec<&'static str>| {
        let mut request = app.request(reqwest::Method::GET, "/api/v1/categories");
        for line in lines {
            request = request.header("x-forwarded-for", line);
        }
        app.send(request)
    };

    // HAProxy's `option forwardfor` adds its own line after the client's.
    send(vec!["6.6.6.6", "203.0.113.9"])
        .await
        .assert_status(200);
    send(vec!["7.7.7.7", "203.0.113.9"])
        .await
        .assert_status(200);
    let third = send(vec!["8.8.8.8, 9.9.9.9", "203.0.113.9"]).await;
    let other_client = send(vec!["6.6.6.6", "203.0.113.10"]).await;

    third.assert_error(429, "RATE_LIMITED");
    other_client.assert_status(200);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64_and_unparsable_entries_are_refused() {
    let app = spawn_app_with(|config| {
        config.rate_limit_max = 2;
        config.trust_proxy = true;
    })
    .await;
    let send = |entry: &'static str| {
        app.send(
            app.request(reqwest::Method::GET, "/api/v1/categories")
                .header("x-forwarded-for", entry),
        )
    };

    send("2001:db8:1:2::1").await.assert_status(200);
    send("[2001:db8:1:2::ffff]:443").await.assert_status(200);
    let same_64 = send("2001:db8:1:2:aaaa:bbbb:cccc:dddd").await;
    let other_64 = send("2001:db8:1:3::1").await;
    let junk = send("not-an-address").await;

    same_64.assert_error(429, "RATE_LIMITED");
    other_64.assert_status(200);
    junk.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(junk.error_fields(), ["X-Forwarded-For"]);
}

#[tokio::test]
async fn a_locked_email_does_not_stop_its_owners_session_from_changing_the_password() {
    let app = spawn_app_with(|config| config.login_max_failures = 2).await;
    let user = app.user().await;
    for _ in 0..2 {
        app.anonymous().login(&user.email, "guessing").await;
    }
    app.anonymous()
        .login(&user.email, DEFAULT_PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");

    let changed = user
        .put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": DEFAULT_PASSWORD, "newPassword": "a brand new password"}),
        )
        .await;

    changed.assert_status(204);
    // The change check has its own budget: guessing through a session locks only that.
    for _ in 0..2 {
        user.put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": "guessing", "newPassword": "another password"}),
        )
        .await
        .assert_error(400, "VALIDATION_ERROR");
    }
    user.put(
        "/api/v1/users/me/password",
        &json!({"currentPassword": "a brand new password", "newPassword": "another password"}),
    )
    .await
    .assert_error(429, "ACCOUNT_LOCKED");
}

#[tokio::test]
async fn a_tag_that_grows_when_lower_cased_is_measured_as_stored() {
    let app = spawn_app().await;
    let user = app.user().await;
    let grows = "İ".repeat(50);

    let response = user
        .post(
            "/api/v1/posts",
            &json!({"title": "Tags", "content": "x", "tags": [grows]}),
        )
        .await;

    response.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(response.error_fields(), ["tags[0]"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM posts", []).await, 0);
}

#[tokio::test]
async fn stock_stays_within_its_column_however_it_is_set_or_returned() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 10})).await;
    let id = product["id"].as_str().unwrap().to_owned();
    let user = app.user().await;
    let order = user
        .post(
            "/api/v1/orders",
            &json!({"items": [{"productId": id, "quantity": 5}]}),
        )
        .await;
    order.assert_status(201);

    let too_much = admin
        .patch(
            &format!("/api/v1/products/{id}"),
            &json!({"inStock": 1_000_000_001}),
        )
        .await;
    too_much.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(too_much.error_fields(), ["inStock"]);
    // Restocked to the top by other means, then the order is cancelled: its units return.
    app.execute(
        "UPDATE products SET in_stock = 2147483646 WHERE id = $1",
        [id_value(&id)],
    )
    .await;
    let cancelled = user
        .post(
            &format!(
                "/api/v1/orders/{}/cancel",
                order.body["data"]["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;

    cancelled.assert_status(200);
    let read = app.anonymous().get(&format!("/api/v1/products/{id}")).await;
    read.assert_status(200);
    assert_eq!(read.body["data"]["inStock"], 2_147_483_647);
}

#[tokio::test]
async fn amounts_with_more_than_two_places_are_refused_never_rounded() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    for body in [
        r#"{"name": "X", "price": 19.999999999999999}"#,
        r#"{"name": "X", "price": "19.999999999999999999999999999999"}"#,
        r#"{"name": "X", "price": 2e1}"#,
    ] {
        let response = app
            .send(
                admin
                    .request(reqwest::Method::POST, "/api/v1/products")
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), ["price"], "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 0);
}

#[tokio::test]
async fn links_are_stored_normalised_without_markup_and_only_as_web_links() {
    let app = spawn_app().await;
    let user = app.user().await;

    let saved = user
        .put(
            "/api/v1/users/me",
            &json!({"avatar": "https://CDN.example.com/a.png\"onerror='x'<b>",
                    "profile": {"website": "http://example.com"}}),
        )
        .await;
    let script = user
        .put(
            "/api/v1/users/me",
            &json!({"avatar": "javascript:alert(1)"}),
        )
        .await;

    saved.assert_status(200);
    let avatar = saved.body["data"]["avatar"].as_str().unwrap();
    assert_eq!(
        avatar,
        "https://cdn.example.com/a.png%22onerror=%27x%27%3Cb%3E"
    );
    assert_eq!(
        saved.body["data"]["profile"]["website"],
        "http://example.com/"
    );
    script.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(script.error_fields(), ["avatar"]);
}

#[tokio::test]
async fn oversized_request_heads_get_the_envelope_with_a_request_id() {
    let app = spawn_app().await;

    let long_uri = app
        .get(&format!("/api/v1/products/search?q={}", "a".repeat(9000)))
        .await;
    let mut many = app.request(reqwest::Method::GET, "/api/v1/categories");
    for i in 0..120 {
        many = many.header(format!("x-filler-{i}"), "x");
    }
    let many_headers = app.send(many).await;

    assert_eq!(long_uri.status.as_u16(), 414);
    assert_eq!(long_uri.body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(long_uri.error_fields(), ["uri"]);
    assert_eq!(many_headers.status.as_u16(), 431);
    assert_eq!(many_headers.error_fields(), ["headers"]);
    for response in [&long_uri, &many_headers] {
        assert_eq!(
            response.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
}

#[tokio::test]
async fn metrics_require_the_token_when_one_is_configured() {
    let app = spawn_app_with(|config| {
        config.metrics_token = Some(SecretString::from("a metrics token, long enough"));
    })
    .await;

    let without = app.get("/metrics").await;
    let wrong = app
        .send(
            app.request(reqwest::Method::GET, "/metrics")
                .bearer_auth("a metrics token, long enougH"),
        )
        .await;
    let with = app
        .send(
            app.request(reqwest::Method::GET, "/metrics")
                .bearer_auth("a metrics token, long enough"),
        )
        .await;

    without.assert_error(401, "UNAUTHORIZED");
    wrong.assert_error(401, "UNAUTHORIZED");
    with.assert_status(200);
    assert!(with.text.contains("http_requests_total"), "{}", with.text);
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_until_a_connection_closes() {
    let app = spawn_app_with(|config| config.connections.max_connections = 2).await;
    let address = socket_address(&app);
    let first = tokio::net::TcpStream::connect(&address).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();

    let while_full =
        tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    drop(first);
    let after = tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut answer)).await;

    assert!(while_full.is_err(), "served past the cap: {answer:?}");
    assert!(after.is_ok(), "never served after a connection closed");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}
