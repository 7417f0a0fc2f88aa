//! What handlers, resolvers and background workers share, below every adapter: `http/`,
//! `graphql/` and the workers import it from here, never from `app.rs`, which assembles them.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::db::Db;
use crate::services::accounts::Auth;

/// What every handler may use. Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub config: Arc<Config>,
    pub db: Db,
    pub auth: Auth,
    pub metrics: PrometheusHandle,
    pub started_at: Instant,
}

impl Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        AppState(Arc::new(AppStateInner {
            auth: Auth::from_config(&config),
            config: Arc::new(config),
            db,
            metrics: crate::telemetry::metrics_handle(),
            started_at: Instant::now(),
        }))
    }
}
