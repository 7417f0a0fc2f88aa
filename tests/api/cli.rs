//! The binary itself: subcommands, start-up errors (one clear line, non-zero exit) and
//! SIGTERM handling.

use std::process::{Command, Stdio};
use std::time::Duration;

use migration::MigratorTrait;

use crate::harness::{TestDatabase, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_ecommerce-api");

/// The one number `sql` selects, from the database the binary ran against.
async fn number(db: &ecommerce_api::db::Db, sql: impl Into<String>) -> i64 {
    use sea_orm::ConnectionTrait;
    db.read()
        .query_one_raw(sea_orm::Statement::from_string(db.backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// The binary with a clean environment: only what the test passes, nothing from `.env`.
fn command(args: &[&str], dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null());
    command
}

fn output(command: &mut Command) -> (Option<i32>, String, String) {
    let out = command.output().expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn openapi_prints_the_served_document() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();

    let (code, stdout, _) = output(&mut command(&["openapi"], dir.path()));

    assert_eq!(code, Some(0));
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, app.get("/api-docs/openapi.json").await.body);
}

#[tokio::test]
async fn migrate_creates_the_default_sqlite_file_and_folder_and_can_run_twice() {
    let dir = tempfile::tempdir().unwrap();

    for _ in 0..2 {
        let (code, _, stderr) = output(&mut command(&["migrate"], dir.path()));
        assert_eq!(code, Some(0), "{stderr}");
    }

    assert!(dir.path().join("data/ecommerce.db").is_file());
}

#[tokio::test]
async fn migrate_applies_to_the_configured_database() {
    let database = TestDatabase::create_empty().await;
    let dir = tempfile::tempdir().unwrap();

    let (code, _, stderr) =
        output(command(&["migrate"], dir.path()).env("DATABASE_URL", &database.url));

    assert_eq!(code, Some(0), "{stderr}");
    let db = ecommerce_api::db::connect(&database.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let applied = db
        .read()
        .query_all_raw(sea_orm::Statement::from_string(
            db.backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .unwrap();
    assert_eq!(applied.len(), migration::Migrator::migrations().len());
    db.close().await.unwrap();
}

fn assert_one_line_failure(env: &[(&str, &str)], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(&[], dir.path());
    command.envs(env.iter().copied());

    let (code, _, stderr) = output(&mut command);

    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("ecommerce-api: "), "{stderr}");
    assert!(lines[0].contains(expected), "{stderr}");
}

#[test]
fn a_database_url_of_another_kind_stops_start_up() {
    assert_one_line_failure(
        &[("DATABASE_URL", "mysql://localhost/shop")],
        "DATABASE_URL must start with sqlite:// or postgres://",
    );
}

#[test]
fn an_unreachable_postgres_stops_start_up() {
    assert_one_line_failure(
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")],
        "cannot connect to PostgreSQL at DATABASE_URL",
    );
}

#[test]
fn production_without_a_jwt_secret_stops_start_up() {
    assert_one_line_failure(
        &[("APP_ENV", "production")],
        "JWT_SECRET is required when APP_ENV=production",
    );
}

#[test]
fn a_malformed_number_names_its_variable() {
    assert_one_line_failure(&[("PORT", "eighty")], "PORT must be a whole number");
}

#[test]
fn values_that_would_fail_later_stop_start_up_instead() {
    for (name, value, expected) in [
        (
            "ALLOWED_ORIGINS",
            "*",
            "ALLOWED_ORIGINS has an invalid origin",
        ),
        (
            "REFRESH_TOKEN_TTL_SECS",
            "9999999999999",
            "REFRESH_TOKEN_TTL_SECS must be from",
        ),
        (
            "LOGIN_LOCKOUT_SECS",
            "9999999999999",
            "LOGIN_LOCKOUT_SECS must be from",
        ),
        (
            "RATE_LIMIT_WINDOW_SECS",
            "18446744073709551615",
            "RATE_LIMIT_WINDOW_SECS must be from",
        ),
        ("MAX_CONNECTIONS", "0", "MAX_CONNECTIONS must be from"),
    ] {
        assert_one_line_failure(&[(name, value)], expected);
    }
}

#[test]
fn a_port_in_use_stops_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    assert_one_line_failure(
        &[("PORT", port.as_str())],
        &format!("cannot listen on 127.0.0.1:{port}"),
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let child = command(&["serve"], dir.path())
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "info")
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "x".repeat(32))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the server listens");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();

    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stdout);
    // Production logs are JSON, one object per line.
    for line in logs.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("{line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
    }
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("shut down cleanly"), "{logs}");
}

/// A free port on 127.0.0.1 (free when this returns; the binary binds it next).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// `GET /health` over a plain socket: whether it answered 200.
fn health_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// The child's exit status, or `None` (after killing it) if it is still running after `limit`.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn sigterm_closes_a_connection_stuck_mid_head_at_the_drain_deadline_and_exits_0() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = command(&["serve"], dir.path())
        .env("PORT", port.to_string())
        .env("HEADER_READ_TIMEOUT_SECS", "300")
        .env("SHUTDOWN_DRAIN_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..400 {
        if health_answers(port) {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(up, "the server answers /health");
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_at_most(&mut child, Duration::from_secs(15));

    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "a half-sent head held the server past its drain deadline: {status:?}"
    );
}

#[test]
fn a_signal_right_after_the_first_health_answer_still_drains_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    for (round, signal) in ["INT", "TERM"].iter().cycle().take(12).enumerate() {
        let port = free_port();
        let mut child = command(&["serve"], dir.path())
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut up = false;
        for _ in 0..400 {
            if health_answers(port) {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(up, "round {round}: the server answers /health");
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = wait_at_most(&mut child, Duration::from_secs(15));
        assert_eq!(
            status.and_then(|status| status.code()),
            Some(0),
            "round {round}: after SIG{signal} right after start-up: {status:?} (None: still running)"
        );
    }
}

#[tokio::test]
async fn create_admin_creates_an_admin_who_can_log_in_and_promotes_an_existing_user() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = app.database_url();
    app.anonymous()
        .register("bob@example.com", "bob's old password")
        .await
        .assert_status(201);

    let (created, stdout, stderr) = output(
        command(
            &[
                "create-admin",
                "--email",
                "Ann@Example.com",
                "--name",
                "Ann",
            ],
            dir.path(),
        )
        .env("DATABASE_URL", database_url)
        .env("ADMIN_PASSWORD", "an admin password"),
    );
    let (promoted, _, promote_err) = output(
        command(
            &[
                "create-admin",
                "--email",
                "bob@example.com",
                "--password",
                "bob's new password",
            ],
            dir.path(),
        )
        .env("DATABASE_URL", database_url),
    );

    assert_eq!(created, Some(0), "{stderr}");
    assert!(stdout.contains("ann@example.com"), "{stdout}");
    assert!(!stdout.contains("an admin password"));
    assert_eq!(promoted, Some(0), "{promote_err}");
    let ann = app.login("ann@example.com", "an admin password").await;
    let bob = app.login("bob@example.com", "bob's new password").await;
    for admin in [&ann, &bob] {
        admin.get("/api/v1/users").await.assert_status(200);
    }
    app.anonymous()
        .login("bob@example.com", "bob's old password")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(app.count("SELECT COUNT(*) FROM users", []).await, 2);
}

#[tokio::test]
async fn unlock_and_create_admin_end_a_lockout_at_once() {
    let app = crate::harness::spawn_app_with(|config| config.login_max_failures = 1).await;
    let dir = tempfile::tempdir().unwrap();
    for email in ["ann@example.com", "bob@example.com"] {
        app.anonymous()
            .register(email, "the right password")
            .await
            .assert_status(201);
        app.anonymous().login(email, "a wrong password").await;
        app.anonymous()
            .login(email, "the right password")
            .await
            .assert_error(429, "ACCOUNT_LOCKED");
    }

    let (unlocked, stdout, stderr) = output(
        command(&["unlock", "--email", "ANN@example.com"], dir.path())
            .env("DATABASE_URL", app.database_url()),
    );
    let (promoted, _, promote_err) = output(
        command(
            &[
                "create-admin",
                "--email",
                "bob@example.com",
                "--password",
                "bob's new password",
            ],
            dir.path(),
        )
        .env("DATABASE_URL", app.database_url()),
    );
    let (again, _, again_err) = output(
        command(&["unlock", "--email", "nobody@example.com"], dir.path())
            .env("DATABASE_URL", app.database_url()),
    );

    assert_eq!(unlocked, Some(0), "{stderr}");
    assert!(stdout.contains("ann@example.com"), "{stdout}");
    assert_eq!(promoted, Some(0), "{promote_err}");
    assert_eq!(
        again,
        Some(0),
        "unlocking what is not locked is fine: {again_err}"
    );
    app.login("ann@example.com", "the right password").await;
    app.login("bob@example.com", "bob's new password").await;
}

#[test]
fn create_admin_refuses_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().unwrap();

    let (code, _, stderr) = output(&mut command(
        &["create-admin", "--email", "nope", "--password", "short"],
        dir.path(),
    ));

    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--email must be a valid email address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--password must be 8 to 128 characters"),
        "{stderr}"
    );
}

#[tokio::test]
async fn seed_loads_demo_data_and_running_it_again_adds_products_and_orders_only() {
    let database = TestDatabase::create_empty().await;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "seed",
        "--products",
        "120",
        "--users",
        "30",
        "--orders",
        "200",
        "--posts",
        "12",
    ];

    let runs: Vec<_> = (0..2)
        .map(|_| output(command(&args, dir.path()).env("DATABASE_URL", &database.url)))
        .collect();

    for (code, stdout, stderr) in &runs {
        assert_eq!(*code, Some(0), "{stderr}");
        assert!(stdout.contains("seeded 120 products"), "{stdout}");
        assert!(stdout.contains("200 orders"), "{stdout}");
        assert!(
            stderr.contains("seed: products 120/120"),
            "progress: {stderr}"
        );
    }
    assert!(runs[0].1.contains("30 users and 12 posts"), "{}", runs[0].1);
    assert!(
        runs[1].1.contains("0 users and 0 posts"),
        "kept: {}",
        runs[1].1
    );
    let db = ecommerce_api::db::connect(&database.url).await.unwrap();
    let count = |sql: &'static str| number(&db, sql);
    assert_eq!(count("SELECT COUNT(*) FROM products").await, 240);
    assert_eq!(count("SELECT COUNT(*) FROM categories").await, 12);
    assert_eq!(count("SELECT COUNT(*) FROM users").await, 30);
    assert!(count("SELECT COUNT(*) FROM reviews").await > 0);
    assert_eq!(count("SELECT COUNT(*) FROM posts").await, 12);
    assert_eq!(count("SELECT COUNT(*) FROM orders").await, 400);
    assert!(
        count("SELECT COUNT(DISTINCT name) FROM products").await > 100,
        "names vary"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)").await,
        0,
        "every order has lines"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM orders o WHERE o.total <> \
             (SELECT SUM(i.price * i.quantity) FROM order_items i WHERE i.order_id = o.id)"
        )
        .await,
        0,
        "totals add up"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM order_events WHERE kind = 'placed'").await,
        400,
        "every order has its history"
    );
    assert!(
        count("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM orders GROUP BY customer_id) t").await
            > 400 / 30,
        "some customers order far more than the average"
    );
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_bulk_seed_leaves_every_index_as_the_migrations_made_it() {
    use sea_orm::ConnectionTrait;
    let database = TestDatabase::create_empty().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| output(command(args, dir.path()).env("DATABASE_URL", &database.url));
    let (code, _, stderr) = run(&["migrate"]);
    assert_eq!(code, Some(0), "{stderr}");
    let db = ecommerce_api::db::connect(&database.url).await.unwrap();
    let definitions = || {
        let db = &db;
        async move {
            let sql = match db.backend() {
                sea_orm::DbBackend::Postgres => {
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
                     UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) || ' ' || \
                       CAST(convalidated AS TEXT) FROM pg_constraint \
                     WHERE connamespace = CAST(current_schema() AS regnamespace) \
                     UNION ALL SELECT tgname || ' ' || CAST(tgenabled AS TEXT) FROM pg_trigger \
                     WHERE NOT tgisinternal ORDER BY 1"
                }
                _ => {
                    "SELECT sql FROM sqlite_master \
                     WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name"
                }
            };
            db.read()
                .query_all_raw(sea_orm::Statement::from_string(db.backend(), sql))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get_by_index::<String>(0).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let before = definitions().await;

    // Enough rows that PostgreSQL loads products, reviews, orders and their lines without
    // their secondary indexes, foreign keys and aggregate triggers, and SQLite without the
    // aggregate triggers, and both restore them afterwards.
    let (code, stdout, stderr) = run(&["seed", "--products", "40000", "--orders", "12000"]);

    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("seeded 40000 products"), "{stdout}");
    if db.backend() == sea_orm::DbBackend::Postgres {
        assert!(
            stderr.contains("seed: indexes, foreign keys and counters "),
            "rebuilt: {stderr}"
        );
    }
    assert_eq!(definitions().await, before);
    let counted = number(&db, "SELECT CAST(SUM(n) AS BIGINT) FROM order_counts").await;
    assert_eq!(
        counted, 12000,
        "the admin list's total counts the seeded orders"
    );
    let miscounted = number(
        &db,
        "SELECT COUNT(*) FROM products p WHERE review_count <> \
           (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id) \
         OR rating_total <> \
           (SELECT COALESCE(SUM(r.rating), 0) FROM reviews r WHERE r.product_id = p.id)",
    )
    .await;
    assert_eq!(miscounted, 0, "every product's review counters are exact");
    let day = match db.backend() {
        sea_orm::DbBackend::Postgres => "CAST(floor(extract(epoch FROM at) / 86400) AS INTEGER)",
        _ => "unixepoch(at) / 86400",
    };
    let latest = format!(
        "SELECT user_id, MAX({day}) AS day FROM (\
           SELECT customer_id AS user_id, created_at AS at FROM orders \
           UNION ALL SELECT author_id, created_at FROM posts \
           UNION ALL SELECT author_id, created_at FROM comments) AS a GROUP BY user_id"
    );
    assert_eq!(
        number(
            &db,
            format!(
                "SELECT COUNT(*) FROM ({latest}) AS l \
                 JOIN user_activity k ON k.user_id = l.user_id AND k.active_day = l.day"
            )
        )
        .await,
        number(&db, "SELECT COUNT(*) FROM user_activity").await,
        "every kept day is the day of the user's latest activity"
    );
    assert_eq!(
        number(&db, format!("SELECT COUNT(*) FROM ({latest}) AS l")).await,
        number(&db, "SELECT COUNT(*) FROM user_activity").await,
        "every active user's activity is kept"
    );
    assert_eq!(
        number(&db, crate::harness::MISCOUNTED_ACTIVITY_DAYS).await,
        0,
        "each day counts the users whose latest activity fell on it"
    );
    db.close().await.unwrap();
}

#[tokio::test]
async fn seed_refuses_counts_out_of_bounds_before_it_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(
        command(&["seed", "--orders", "10000001"], dir.path())
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
    );
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("must be a whole number from 0 to 10000000"),
        "{stderr}"
    );
}

/// A child process of the real binary, killed when the test ends however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_process_killed_right_after_its_commits_loses_no_event_and_no_mail() {
    use crate::harness::services::{NatsServer, SmtpMode, SmtpSink, eventually};
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start().await;
    nats.stop();
    let sink = SmtpSink::start(SmtpMode::Hang).await;
    let (code, _, stderr) = output(
        command(
            &[
                "create-admin",
                "--email",
                "admin@example.com",
                "--password",
                "admin password",
            ],
            dir.path(),
        )
        .env("DATABASE_URL", &database.url),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let nats_url = nats.url();
    let serve = |port: u16| {
        let child = command(&["serve"], dir.path())
            .env("DATABASE_URL", &database.url)
            .env("PORT", port.to_string())
            .env("NATS_URL", &nats_url)
            .env("SMTP_URL", sink.url())
            .env("JOB_LEASE_SECS", "5")
            .env("RATE_LIMIT_MAX", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server(child);
        for _ in 0..400 {
            if health_answers(port) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server did not start");
    };
    let port = free_port();
    let mut first = serve(port);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let post = |path: &str, body: serde_json::Value, token: Option<&str>| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let login = |email: &'static str, password: &'static str| {
        let request = post(
            "/auth/login",
            serde_json::json!({"email": email, "password": password}),
            None,
        );
        async move {
            let body: serde_json::Value = request.await.unwrap().json().await.unwrap();
            body["data"]["token"].as_str().unwrap().to_owned()
        }
    };
    let admin = login("admin@example.com", "admin password").await;
    let product: serde_json::Value = post(
        "/products",
        serde_json::json!({"name": "Tent", "price": "99.00", "inStock": 10}),
        Some(&admin),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    for email in ["ann@example.com", "bob@example.com"] {
        let registered = post(
            "/auth/register",
            serde_json::json!({"email": email, "password": "a long password"}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(registered.status(), 201);
    }
    let ann = login("ann@example.com", "a long password").await;
    for _ in 0..2 {
        let placed = post(
            "/orders",
            serde_json::json!({"items": [{"productId": product["data"]["id"], "quantity": 1}]}),
            Some(&ann),
        )
        .await
        .unwrap();
        assert_eq!(placed.status(), 201);
    }
    let db = ecommerce_api::db::connect(&database.url).await.unwrap();
    let count = |sql: &'static str| number(&db, sql);
    eventually(
        "a mail job is mid-send",
        Duration::from_secs(20),
        || async { count("SELECT COUNT(*) FROM jobs WHERE status = 'RUNNING'").await > 0 },
    )
    .await;

    // SIGKILL: no drain, no chance to give anything back.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").await,
        4
    );
    nats.restart().await;
    sink.set_mode(SmtpMode::Accept);
    let _second = serve(free_port());

    eventually(
        "every event and every mail is delivered",
        Duration::from_secs(60),
        || async {
            count("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").await == 0
                && count("SELECT COUNT(*) FROM jobs WHERE status <> 'DONE'").await == 0
        },
    )
    .await;
    let events = nats.events().await;
    let mut published: Vec<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    published.sort();
    published.dedup();
    assert_eq!(
        (events.len(), published.len()),
        (4, 4),
        "each event once: {events:#?}"
    );
    let mut mails: Vec<String> = sink
        .mails()
        .iter()
        .map(|mail| mail.header("Message-ID").unwrap())
        .collect();
    mails.sort();
    mails.dedup();
    assert_eq!(
        (sink.mails().len(), mails.len()),
        (2, 2),
        "each welcome mail once"
    );
    db.close().await.unwrap();
}
