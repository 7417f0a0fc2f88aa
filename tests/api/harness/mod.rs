//! `spawn_app()` and the handle tests talk to.

mod database;

use std::time::Duration;

use ecommerce_api::app::{AppState, Application};
use ecommerce_api::config::Config;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sea_orm::DatabaseConnection;
use serde_json::Value;

pub use database::{TestDatabase, backend};

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// A separate pool on the same database, for asserting what the app wrote.
    pub db: DatabaseConnection,
    /// The running app's own state, to break its dependencies on purpose.
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped last: the database outlives the server and the pools above.
    _database: TestDatabase,
}

/// The app with test defaults: rate limiting off, so suites may send many requests.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with the configuration adjusted first, as an operator's environment would.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let database = TestDatabase::create().await;
    let mut config = Config::for_database(database.url.clone());
    config.port = 0;
    config.rate_limit_max = 0;
    configure(&mut config);

    let app = Application::build(config).await.expect("the app starts");
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    TestApp {
        address,
        db: ecommerce_api::db::connect(&database.url)
            .await
            .expect("the test database accepts a second pool"),
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        shutdown: Some(shutdown),
        _database: database,
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

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_owned())
    }
}

impl TestApp {
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
}
