//! What handlers, resolvers and background workers share, below every adapter: `http/`,
//! `graphql/` and the workers import it from here, never from `app.rs`, which assembles them.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::cache::Cache;
use crate::cluster::Redis;
use crate::config::Config;
use crate::db::Db;
use crate::events::nats::Nats;
use crate::jobs::mailer::Mailer;
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
    /// With `NATS_URL`: the JetStream publisher the relay uses, whose state `/ready` reports.
    pub nats: Option<Arc<Nats>>,
    pub mailer: Arc<Mailer>,
    /// With `REDIS_URL`: shared rate limits, the L2 cache and its invalidation channel.
    pub redis: Option<Arc<Redis>>,
    /// Product and category reads; told of every catalog write this process commits.
    pub cache: Arc<Cache>,
}

impl Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AppState {
    /// The state of a server on `db`: connects to NATS and Redis in the background (start-up
    /// never waits for them) and checks `SMTP_URL`.
    pub async fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let nats = match &config.nats_url {
            Some(url) => Some(Arc::new(Nats::connect(url).await?)),
            None => None,
        };
        let mailer = Arc::new(Mailer::new(
            config.smtp_url.as_ref(),
            config.mail_from.clone(),
        )?);
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(Redis::connect(url, &config.redis_prefix)?)),
            None => None,
        };
        let cache = Cache::new(config.cache_max_bytes, redis.clone());
        db.wake().listen_to_catalog(cache.clone());
        Ok(AppState(Arc::new(AppStateInner {
            auth: Auth::from_config(&config),
            db: db.with_job_max_attempts(config.job_max_attempts),
            config: Arc::new(config),
            metrics: crate::telemetry::metrics_handle(),
            started_at: Instant::now(),
            nats,
            mailer,
            redis,
            cache,
        })))
    }
}
