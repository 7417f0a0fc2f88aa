//! GraphiQL renders from the binary alone: headless Chromium (Debian's `chromium`) loads the
//! page, GraphiQL fetches the schema, nothing the page asks for leaves 127.0.0.1, and the
//! content security policy refuses nothing the page needs.
//!
//! Without Chromium the test says so and passes, unless `REQUIRE_CHROMIUM` is set, as CI sets
//! it (`.ci/run` installs the package).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::spawn_app;

fn chromium() -> Option<PathBuf> {
    let path =
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("REQUIRE_CHROMIUM").is_none(),
        "REQUIRE_CHROMIUM is set but there is no Chromium at {}",
        path.display()
    );
    eprintln!("skipped: install Debian's chromium package to render GraphiQL");
    None
}

async fn run(chromium: &Path, profile: &Path, args: &[String]) -> Output {
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--virtual-time-budget=15000",
            "--window-size=1280,800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every request the page itself started, from Chromium's net log (Chromium's own background
/// requests, such as its update checks, have no page as initiator).
fn page_requests(net_log: &Path, origin: &str) -> Vec<(String, String)> {
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(net_log).unwrap()).unwrap();
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == start)
        .map(|event| &event["params"])
        .filter(|params| params["initiator"] == origin)
        .map(|params| {
            (
                params["method"].as_str().unwrap_or_default().to_owned(),
                params["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn graphiql_renders_offline_and_loads_the_schema() {
    let Some(chromium) = chromium() else { return };
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let page = app.url("/graphql");
    let net_log = dir.path().join("net.json");

    let dom = run(
        &chromium,
        &dir.path().join("profile-dom"),
        &[
            format!("--log-net-log={}", net_log.display()),
            "--dump-dom".to_owned(),
            page.clone(),
        ],
    )
    .await;

    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        html.contains("class=\"graphiql-container\""),
        "GraphiQL did not render: {html}"
    );
    assert!(
        html.contains("data-schema=\"loaded\""),
        "the schema did not load: {html}"
    );
    let console = String::from_utf8_lossy(&dom.stderr);
    for refusal in ["Content Security Policy", "Refused to"] {
        assert!(!console.contains(refusal), "{console}");
    }
    let requests = page_requests(&net_log, &app.address);
    assert!(
        requests.contains(&("POST".to_owned(), page.clone())),
        "the page asks the server for the schema: {requests:?}"
    );
    for (_, url) in &requests {
        assert!(
            url.starts_with(&app.address),
            "the page left 127.0.0.1: {url}"
        );
    }
    let everything = std::fs::read_to_string(&net_log).unwrap();
    for cdn in ["unpkg.com", "jsdelivr", "cdnjs", "fonts.googleapis"] {
        assert!(!everything.contains(cdn), "{cdn}");
    }

    let screenshot = dir.path().join("graphiql.png");
    run(
        &chromium,
        &dir.path().join("profile-shot"),
        &[format!("--screenshot={}", screenshot.display()), page],
    )
    .await;
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    // 1280×800; a blank or unstyled page compresses to a few kilobytes, GraphiQL's editor,
    // toolbar and sidebar to tens of them.
    assert_eq!(&png[16..24], &[0, 0, 5, 0, 0, 0, 3, 32], "1280×800");
    assert!(
        png.len() > 30_000,
        "the page looks blank ({} bytes)",
        png.len()
    );
}
