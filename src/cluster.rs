//! The Redis that instances share with `REDIS_URL`: one multiplexed connection for commands
//! (the rate limiter's script, the L2 cache) and one that holds the cache's pub/sub
//! subscription, both reconnecting on their own.
//!
//! Redis is never needed to answer correctly. Start-up does not wait for it, and a call gives
//! up after [`RESPONSE_TIMEOUT`]; after a failure the instance stops trying for
//! [`RETRY_AFTER`] (its rate limits and caches fall back to this process and the database), so
//! a dead or hanging Redis costs one short wait a second, not one per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{AsyncPushSender, ConnectionManager};
use redis::{Client, IntoConnectionInfo, ProtocolVersion};
use secrecy::{ExposeSecret, SecretString};

/// How long one call waits for Redis before the caller falls back.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed call, how long Redis is left alone before the next call tries it again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

pub struct Redis {
    commands: ConnectionManager,
    client: Client,
    /// Every key and channel starts with it (`REDIS_PREFIX`), so several deployments, or
    /// tests, can share one Redis (pub/sub channels ignore the database index).
    prefix: String,
    started: Instant,
    /// Milliseconds since `started` before which calls are not tried; 0 while Redis answers.
    resting_until: AtomicU64,
    reported_down: AtomicBool,
}

impl Redis {
    /// Parses `url` and returns at once: the connection is made on first use.
    pub fn connect(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = client(url, ProtocolVersion::RESP2)?;
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config())
            .map_err(|error| anyhow::anyhow!("REDIS_URL cannot be used: {error}"))?;
        Ok(Redis {
            commands,
            client: resp3(url)?,
            prefix: prefix.to_owned(),
            started: Instant::now(),
            resting_until: AtomicU64::new(0),
            reported_down: AtomicBool::new(false),
        })
    }

    /// `name` with this deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The connection for a call, unless Redis failed a moment ago.
    pub fn connection(&self) -> Option<ConnectionManager> {
        let now = self.elapsed_ms();
        (self.resting_until.load(Ordering::Relaxed) <= now).then(|| self.commands.clone())
    }

    /// Runs `call` on the connection unless Redis is resting; `None` when it was, failed or
    /// did not answer in time, which the caller answers without Redis.
    pub async fn call<T, F>(&self, call: impl FnOnce(ConnectionManager) -> F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection()?;
        let outcome = match tokio::time::timeout(RESPONSE_TIMEOUT, call(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {RESPONSE_TIMEOUT:?}")),
        };
        match outcome {
            Ok(value) => {
                self.answered();
                Some(value)
            }
            Err(error) => {
                self.failed(&error);
                None
            }
        }
    }

    /// Whether Redis answers a `PING` now (for `/ready`).
    pub async fn ping(&self) -> bool {
        let mut connection = self.commands.clone();
        let ping = async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        let up = matches!(
            tokio::time::timeout(RESPONSE_TIMEOUT, ping).await,
            Ok(Ok(_))
        );
        if up {
            self.answered();
        } else {
            self.failed("PING failed");
        }
        up
    }

    /// A connection whose pub/sub messages, and its own disconnections and resubscriptions,
    /// go to `sender` (RESP3 push messages; it resubscribes after reconnecting by itself).
    pub async fn subscriber(
        &self,
        sender: impl AsyncPushSender,
    ) -> redis::RedisResult<ConnectionManager> {
        let config = config()
            .set_push_sender(sender)
            .set_automatic_resubscription()
            // The subscriber never gives up: it is how this instance hears of writes elsewhere.
            .set_number_of_retries(usize::MAX)
            .set_max_delay(Duration::from_secs(2));
        ConnectionManager::new_lazy_with_config(self.client.clone(), config)
    }

    fn answered(&self) {
        self.resting_until.store(0, Ordering::Relaxed);
        if self.reported_down.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis answers again; limits and caches are shared again");
        }
    }

    fn failed(&self, error: &str) {
        let retry = self.elapsed_ms() + u64::try_from(RETRY_AFTER.as_millis()).unwrap_or(1000);
        self.resting_until.store(retry, Ordering::Relaxed);
        if !self.reported_down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error,
                "Redis is unreachable; limits and caches fall back to this \
                instance and the database until it returns"
            );
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

fn client(url: &SecretString, protocol: ProtocolVersion) -> anyhow::Result<Client> {
    let info = url
        .expose_secret()
        .into_connection_info()
        .map_err(|error| anyhow::anyhow!("REDIS_URL cannot be used: {error}"))?;
    let settings = info.redis_settings().clone().set_protocol(protocol);
    Client::open(info.set_redis_settings(settings))
        .map_err(|error| anyhow::anyhow!("REDIS_URL cannot be used: {error}"))
}

/// Pub/sub push messages need RESP3.
fn resp3(url: &SecretString) -> anyhow::Result<Client> {
    client(url, ProtocolVersion::RESP3)
}
