//! API.md §2 for every response: envelope, request id, security headers, CORS, compression,
//! rate limiting.

use reqwest::Method;

use crate::harness::{spawn_app, spawn_app_with};

#[tokio::test]
async fn an_unknown_route_is_a_404_envelope_with_security_headers_and_a_request_id() {
    let app = spawn_app().await;

    let response = app.get("/api/v1/nope").await;

    response.assert_error(404, "NOT_FOUND");
    assert_eq!(response.body["error"]["message"], "Route not found");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("referrer-policy", "no-referrer"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(response.header(name).as_deref(), Some(value), "{name}");
    }
    let csp = response.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    let id = response.header("x-request-id").unwrap();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "a generated id is a UUID: {id}"
    );
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    let app = spawn_app().await;

    let response = app
        .send(
            app.request(Method::GET, "/health")
                .header("x-request-id", "abc-123.def"),
        )
        .await;

    response.assert_status(200);
    assert_eq!(
        response.header("x-request-id").as_deref(),
        Some("abc-123.def")
    );
}

#[tokio::test]
async fn an_unreasonable_request_id_is_replaced() {
    let app = spawn_app().await;
    let long = "a".repeat(500);

    for sent in [long.as_str(), "has spaces", "<script>"] {
        let response = app
            .send(
                app.request(Method::GET, "/health")
                    .header("x-request-id", sent),
            )
            .await;
        let id = response.header("x-request-id").unwrap();
        assert_ne!(id, sent);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn each_request_gets_its_own_id() {
    let app = spawn_app().await;

    let first = app.get("/health").await.header("x-request-id");
    let second = app.get("/health").await.header("x-request-id");

    assert_ne!(first, second);
}

#[tokio::test]
async fn a_wrong_method_is_a_405_envelope() {
    let app = spawn_app().await;

    let response = app.send(app.request(Method::DELETE, "/health")).await;

    response.assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn_app_with(|config| {
        config.allowed_origins = vec!["https://shop.example".parse().unwrap()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/v1/nope")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };

    let allowed = app.send(preflight("https://shop.example")).await;
    let refused = app.send(preflight("https://evil.example")).await;

    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("https://shop.example")
    );
    let allowed_headers = allowed.header("access-control-allow-headers").unwrap();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert_eq!(refused.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;

    let compressed = app
        .client
        .get(app.url("/api-docs/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    let plain = app
        .client
        .get(app.url("/api-docs/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(compressed.status(), 200);
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    assert!(!plain.headers().contains_key("content-encoding"));
}

#[tokio::test]
async fn small_bodies_are_sent_uncompressed_even_to_a_client_that_accepts_gzip() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/health"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("content-encoding"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
}

#[tokio::test]
async fn the_api_is_rate_limited_per_client_with_standard_headers() {
    let app = spawn_app_with(|config| config.rate_limit_max = 3).await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = app.get("/api/v1/nope").await;
        response.assert_status(404);
        assert_eq!(response.header("ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            response.header("ratelimit-policy").as_deref(),
            Some("3;w=900")
        );
        assert!(response.header("ratelimit-reset").is_some());
        remaining.push(response.header("ratelimit-remaining").unwrap());
    }
    let limited = app.get("/api/v1/nope").await;

    assert_eq!(remaining, ["2", "1", "0"]);
    limited.assert_error(429, "RATE_LIMITED");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=300).contains(&retry_after),
        "one request refills in 300 s: {retry_after}"
    );
    assert_eq!(limited.header("ratelimit-remaining").as_deref(), Some("0"));
    // Outside /api the limit does not apply: probes keep working.
    app.get("/health").await.assert_status(200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(|config| {
        config.rate_limit_max = 1;
        config.trust_proxy = true;
    })
    .await;
    // The proxy appends the address it saw; anything before it is the client's own claim.
    let via_proxy = |claimed: &'static str, seen: &'static str| {
        app.request(Method::GET, "/api/v1/nope")
            .header("x-forwarded-for", format!("{claimed}, {seen}"))
    };

    app.send(via_proxy("198.51.100.1", "203.0.113.7"))
        .await
        .assert_status(404);
    app.send(via_proxy("198.51.100.2", "203.0.113.7"))
        .await
        .assert_error(429, "RATE_LIMITED");
    app.send(via_proxy("198.51.100.1", "203.0.113.8"))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_headers_are_ignored() {
    let app = spawn_app_with(|config| config.rate_limit_max = 1).await;
    let from = |ip: &'static str| {
        app.request(Method::GET, "/api/v1/nope")
            .header("x-forwarded-for", ip)
    };

    app.send(from("203.0.113.7")).await.assert_status(404);
    app.send(from("203.0.113.8"))
        .await
        .assert_error(429, "RATE_LIMITED");
}

#[tokio::test]
async fn a_limit_of_zero_turns_limiting_off() {
    let app = spawn_app_with(|config| config.rate_limit_max = 0).await;

    for _ in 0..150 {
        let response = app.get("/api/v1/nope").await;
        response.assert_status(404);
        assert_eq!(response.header("ratelimit-limit"), None);
    }
}

/// Reads HTTP/1.1 responses from `stream` until `count` have arrived or it closes, and returns
/// their heads, lower-cased. Bodies are skipped by `Content-Length` (ours always carry one).
async fn read_responses(stream: &mut tokio::net::TcpStream, count: usize) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    let mut buffer = Vec::new();
    let mut statuses = Vec::new();
    let mut chunk = [0_u8; 4096];
    while statuses.len() < count {
        let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                statuses.push(head.to_lowercase());
                buffer.drain(..end + 4 + length);
                continue;
            }
        }
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("the server answers within 5 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    statuses
}

#[tokio::test]
async fn an_early_refusal_before_the_body_arrives_keeps_the_connection_usable() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let id = uuid::Uuid::now_v7();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = br#"{"role": "ADMIN"}"#;
    let head = format!(
        "PATCH /api/v1/users/{id}/role HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );

    // The head alone: the server refuses it (no token) before the body has arrived.
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stream.write_all(body).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = format!("DELETE /api/v1/users/{id} HTTP/1.1\r\nhost: x\r\n\r\n");
    let sent = stream.write_all(second.as_bytes()).await;

    assert!(sent.is_ok(), "the connection is still open: {sent:?}");
    let heads = read_responses(&mut stream, 2).await;
    assert_eq!(heads.len(), 2, "both requests are answered: {heads:?}");
    for head in &heads {
        assert!(head.starts_with("http/1.1 401"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
}

#[tokio::test]
async fn an_early_refusal_of_a_large_unread_body_closes_the_connection_and_says_so() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = "POST /api/v1/orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                content-length: 5000000\r\n\r\n";

    stream.write_all(head.as_bytes()).await.unwrap();
    let heads = read_responses(&mut stream, 1).await;

    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(heads[0].starts_with("http/1.1 401"), "{}", heads[0]);
    assert!(
        heads[0].contains("connection: close"),
        "a client told to close does not reuse the connection: {}",
        heads[0]
    );
}
