//! `spawn_app()` and the handle tests talk to.

mod database;
pub mod services;

use std::time::Duration;

use ecommerce_api::app::{AppState, Application};
use ecommerce_api::config::Config;
use ecommerce_api::db::Db;
use ecommerce_api::domain::Role;
use ecommerce_api::services::accounts;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub use database::{TestDatabase, admin_url, backend};

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// A separate pool on the same database, for asserting what the app wrote.
    pub db: Db,
    /// The running app's own state, to break its dependencies on purpose.
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    url: String,
    // Dropped last: the database outlives the server and the pools above. `None` for a second
    // instance on another app's database.
    #[expect(dead_code, reason = "held so the database is dropped after the server")]
    database: Option<TestDatabase>,
}

/// The app with test defaults: rate limiting off, so suites may send many requests.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with the configuration adjusted first, as an operator's environment would.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    start(url, Some(database), configure).await
}

/// A second instance on `other`'s database, as behind a load balancer.
pub async fn spawn_app_sharing(other: &TestApp, configure: impl FnOnce(&mut Config)) -> TestApp {
    start(other.url.clone(), None, configure).await
}

async fn start(
    url: String,
    database: Option<TestDatabase>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::for_database(url.clone());
    config.port = 0;
    config.rate_limit_max = 0;
    configure(&mut config);

    let app = Application::build(config).await.expect("the app starts");
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    TestApp {
        address,
        db: ecommerce_api::db::connect(&url)
            .await
            .expect("the test database accepts a second pool"),
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        shutdown: Some(shutdown),
        server: Some(server),
        url,
        database,
    }
}

impl TestApp {
    /// Shuts the app down as SIGTERM would and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task ends")
                .expect("the app stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// What a client sees: status, headers and the body parsed as JSON (`Value::Null` if not).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts the error envelope of API.md §2 with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(self.body["success"], false, "{}", self.text);
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        assert!(self.body["error"]["message"].is_string(), "{}", self.text);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json"),
            "errors are JSON"
        );
        self
    }

    /// The `field` of each entry of the error's `details`, in order.
    #[track_caller]
    pub fn error_fields(&self) -> Vec<&str> {
        self.body["error"]["details"]
            .as_array()
            .unwrap_or_else(|| panic!("no error details: {}", self.text))
            .iter()
            .map(|detail| detail["field"].as_str().expect("a field name"))
            .collect()
    }

    /// The statements the request sent, from `Server-Timing` (`db;desc="N statements"`).
    #[track_caller]
    pub fn db_statements(&self) -> u64 {
        let timing = self
            .header("server-timing")
            .expect("a Server-Timing header");
        timing
            .trim_start_matches("db;desc=\"")
            .trim_end_matches(" statements\"")
            .parse()
            .unwrap_or_else(|_| panic!("unexpected Server-Timing: {timing}"))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_owned())
    }
}

impl TestApp {
    /// The URL of the app's database, for running the binary against it.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request and reads the whole response. Every test request goes through here, so
    /// checks that hold for every response live here too.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(
            headers.contains_key("x-request-id"),
            "every response carries X-Request-Id"
        );
        assert_no_secrets(&text);
        TestResponse {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    /// The first column of the first row of `sql` (`$1`… placeholders), read from the app's
    /// database, or `None` without a row.
    pub async fn scalar<T: sea_orm::TryGetable>(
        &self,
        sql: &str,
        values: impl IntoIterator<Item = sea_orm::Value>,
    ) -> Option<T> {
        use sea_orm::ConnectionTrait;
        let row = self
            .db
            .read()
            .query_one_raw(ecommerce_api::db::sql(self.db.read(), sql, values))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))?;
        Some(
            row.try_get_by_index(0)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}")),
        )
    }

    /// `SELECT COUNT(*) …` as a number.
    pub async fn count(&self, sql: &str, values: impl IntoIterator<Item = sea_orm::Value>) -> i64 {
        self.scalar::<i64>(sql, values).await.unwrap_or_default()
    }

    /// Runs a statement against the app's database, to arrange state a test needs.
    pub async fn execute(&self, sql: &str, values: impl IntoIterator<Item = sea_orm::Value>) {
        use sea_orm::ConnectionTrait;
        self.db
            .write()
            .execute_raw(ecommerce_api::db::sql(self.db.read(), sql, values))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A caller without a token.
    pub fn anonymous(&self) -> Caller<'_> {
        Caller {
            app: self,
            token: None,
        }
    }

    /// A caller with this token, valid or not.
    pub fn with_token(&self, token: &str) -> Caller<'_> {
        Caller {
            app: self,
            token: Some(token.to_owned()),
        }
    }

    /// Registers a new USER with a unique email and logs them in.
    pub async fn user(&self) -> TestUser<'_> {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        self.anonymous()
            .register(&email, DEFAULT_PASSWORD)
            .await
            .assert_status(201);
        self.login(&email, DEFAULT_PASSWORD).await
    }

    /// A new user with this role, logged in: created through the same service `create-admin`
    /// uses, then demoted or kept.
    pub async fn user_with_role(&self, role: Role) -> TestUser<'_> {
        let user = self.user().await;
        if role != Role::User {
            let admin = self.admin().await;
            admin
                .patch(
                    &format!("/api/v1/users/{}/role", user.id),
                    &json!({ "role": role.as_str() }),
                )
                .await
                .assert_status(200);
        }
        self.login(&user.email, DEFAULT_PASSWORD).await
    }

    /// A new ADMIN, logged in.
    pub async fn admin(&self) -> TestUser<'_> {
        let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = ecommerce_api::domain::Password::parse(DEFAULT_PASSWORD.to_owned()).unwrap();
        accounts::create_admin(
            &self.state.db,
            &self.state.auth,
            ecommerce_api::domain::Email::parse(&email).unwrap(),
            password,
            Some("Admin".to_owned()),
        )
        .await
        .expect("the admin is created");
        self.login(&email, DEFAULT_PASSWORD).await
    }

    /// Logs in and asserts it worked.
    pub async fn login(&self, email: &str, password: &str) -> TestUser<'_> {
        let response = self.anonymous().login(email, password).await;
        response.assert_status(200);
        let data = &response.body["data"];
        TestUser {
            caller: self.with_token(data["token"].as_str().unwrap()),
            id: data["user"]["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            refresh_token: data["refreshToken"].as_str().unwrap().to_owned(),
        }
    }
}

/// The days whose count in `activity_days` differs from the users whose latest activity in
/// `user_activity` fell on them: `SELECT COUNT(*)` of them, 0 when the counts are exact.
pub const MISCOUNTED_ACTIVITY_DAYS: &str = "SELECT COUNT(*) FROM \
       (SELECT active_day AS day, COUNT(*) AS n FROM user_activity GROUP BY active_day) AS kept \
     FULL JOIN (SELECT day, SUM(n) AS n FROM activity_days GROUP BY day HAVING SUM(n) <> 0) \
       AS counted ON counted.day = kept.day \
     WHERE counted.n IS DISTINCT FROM kept.n";

/// An id from a response body as a database value.
pub fn id_value(id: &str) -> sea_orm::Value {
    uuid::Uuid::parse_str(id).expect("an id is a UUID").into()
}

pub const DEFAULT_PASSWORD: &str = "correct horse battery";

/// Fails the test if a response carries a password hash: checked on every response of the
/// suite, so no route can leak one unnoticed.
#[track_caller]
fn assert_no_secrets(text: &str) {
    for marker in [
        "$argon2",
        "$2a$",
        "$2b$",
        "$2y$",
        "password_hash",
        "passwordHash",
    ] {
        assert!(
            !text.contains(marker),
            "a response contains {marker:?}: {text}"
        );
    }
}

/// Sends requests as one client: anonymous, or with a bearer token.
#[derive(Clone)]
pub struct Caller<'a> {
    pub app: &'a TestApp,
    pub token: Option<String>,
}

impl Caller<'_> {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.app.request(method, path);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.app.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.app.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> TestResponse {
        self.app
            .send(self.request(Method::POST, path).json(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> TestResponse {
        self.app
            .send(self.request(Method::PUT, path).json(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> TestResponse {
        self.app
            .send(self.request(Method::PATCH, path).json(body))
            .await
    }

    pub async fn register(&self, email: &str, password: &str) -> TestResponse {
        self.post(
            "/api/v1/auth/register",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }
}

impl TestUser<'_> {
    /// Creates a category as this (admin) user and returns its id.
    pub async fn create_category(&self, name: &str) -> String {
        let response = self
            .post("/api/v1/categories", &json!({ "name": name }))
            .await;
        response.assert_status(201);
        response.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a product as this (admin) user from a partial body (name and price default)
    /// and returns it.
    pub async fn create_product(&self, fields: Value) -> Value {
        let mut body = json!({ "name": "Test Product", "price": "10.00", "inStock": 10 });
        for (key, value) in fields.as_object().expect("an object") {
            body[key] = value.clone();
        }
        let response = self.post("/api/v1/products", &body).await;
        response.assert_status(201);
        response.body["data"].clone()
    }
}

/// A logged-in user: requests carry their access token.
pub struct TestUser<'a> {
    pub caller: Caller<'a>,
    pub id: String,
    pub email: String,
    pub refresh_token: String,
}

impl<'a> std::ops::Deref for TestUser<'a> {
    type Target = Caller<'a>;
    fn deref(&self) -> &Caller<'a> {
        &self.caller
    }
}
