//! Configuration from the environment, validated once so that a bad value stops the process at
//! start-up with one line naming the variable, instead of failing on the first request.

use std::time::Duration;

use axum::http::HeaderValue;
use secrecy::SecretString;

pub use crate::server::ConnectionLimits;

/// Where the process runs; production tightens defaults that are convenient locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn is_production(self) -> bool {
        self == AppEnv::Production
    }
}

/// Every setting of API.md §1, typed. Tests build it in code with [`Config::for_database`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub host: String,
    pub port: u16,
    pub app_env: AppEnv,
    pub jwt_secret: SecretString,
    /// True when no `JWT_SECRET` was given and a random one was made for this process: tokens
    /// will not survive a restart or work across instances.
    pub jwt_secret_generated: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub allowed_origins: Vec<HeaderValue>,
    /// Requests per window per client IP on `/api/*`; `0` turns limiting off.
    pub rate_limit_max: u32,
    pub rate_limit_window: Duration,
    pub login_max_failures: u32,
    pub login_lockout: Duration,
    pub log_level: String,
    pub redis_url: Option<SecretString>,
    /// What every Redis key and channel of this deployment starts with (`REDIS_PREFIX`).
    pub redis_prefix: String,
    /// The in-process cache's budget in bytes (`CACHE_MAX_MB`); 0 turns caching off.
    pub cache_max_bytes: u64,
    pub nats_url: Option<String>,
    pub smtp_url: Option<SecretString>,
    pub trust_proxy: bool,
    /// Proxies in front of the server that each append to `X-Forwarded-For`; the client is the
    /// entry this many places from the right (the connection's peer is the nearest proxy).
    pub trusted_proxy_hops: u32,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// The sender of every mail (`MAIL_FROM`), checked at start-up.
    pub mail_from: lettre::message::Mailbox,
    /// Attempts before a job is kept as `DEAD`.
    pub job_max_attempts: u32,
    /// How long a worker holds a job without a heartbeat; a job whose worker died runs again
    /// once it ends.
    pub job_lease: Duration,
    pub connections: ConnectionLimits,
}

/// A configuration error, phrased for the operator who has to fix the environment.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/ecommerce.db";
const MIN_JWT_SECRET_BYTES: usize = 32;
const MIN_METRICS_TOKEN_BYTES: usize = 16;
const DEFAULT_MAIL_FROM: &str = "ecommerce-api <no-reply@localhost>";
const DAY: u64 = 86_400;

/// One entry of `ALLOWED_ORIGINS`: `scheme://host[:port]`, exactly as a browser sends it in
/// `Origin`. A wildcard is refused: the API allows credentials, and browsers refuse `*` with
/// credentials, so it could only ever have broken every cross-origin request.
fn origin(raw: &str) -> Result<HeaderValue, ConfigError> {
    let invalid = |why: &str| {
        ConfigError(format!(
            "ALLOWED_ORIGINS has an invalid origin {raw:?}: {why}"
        ))
    };
    if raw.contains('*') {
        return Err(invalid("wildcards are not allowed; list each origin"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("expected scheme://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.path() != "/"
        || raw.ends_with('/')
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid(
            "expected http(s)://host[:port] with nothing after it",
        ));
    }
    HeaderValue::from_str(raw).map_err(|_| invalid("not a valid header value"))
}

impl Config {
    /// Reads the process environment (after `.env`, which `main` loads first).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source, so tests need no `set_var`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        // A whole number within bounds: a value that passes start-up never fails later.
        let ranged = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            let value = match var(name) {
                None => default,
                Some(raw) => raw.trim().parse().map_err(|_| {
                    ConfigError(format!("{name} must be a whole number, got {raw:?}"))
                })?,
            };
            if !(min..=max).contains(&value) {
                return Err(ConfigError(format!(
                    "{name} must be from {min} to {max}, got {value}"
                )));
            }
            Ok(value)
        };
        let secs = |name: &str, default: u64, max: u64| -> Result<Duration, ConfigError> {
            ranged(name, default, 1, max).map(Duration::from_secs)
        };
        let small = |name: &str, default: u64, min: u64, max: u64| -> Result<u32, ConfigError> {
            ranged(name, default, min, max).map(|n| u32::try_from(n).expect("bounds fit a u32"))
        };

        let app_env = match var("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError(format!(
                    "APP_ENV must be development, test or production, got {other:?}"
                )));
            }
        };

        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if crate::db::Backend::from_url(&database_url).is_none() {
            return Err(ConfigError::new(crate::db::UNSUPPORTED_URL));
        }

        let port = u16::try_from(ranged("PORT", 3000, 0, 65_535)?).expect("bounds fit a u16");

        let (jwt_secret, jwt_secret_generated) = match var("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => (secret, false),
            Some(_) => {
                return Err(ConfigError(format!(
                    "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
                )));
            }
            None if app_env.is_production() => {
                return Err(ConfigError(format!(
                    "JWT_SECRET is required when APP_ENV=production (at least {MIN_JWT_SECRET_BYTES} bytes)"
                )));
            }
            None => (random_secret(), true),
        };

        let allowed_origins = var("ALLOWED_ORIGINS")
            .unwrap_or_else(|| "http://localhost:3000".to_owned())
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(origin)
            .collect::<Result<Vec<_>, _>>()?;

        let trust_proxy = match var("TRUST_PROXY").as_deref().map(str::trim) {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "TRUST_PROXY must be true or false, got {other:?}"
                )));
            }
        };

        let redis_prefix = var("REDIS_PREFIX").unwrap_or_else(|| "ecommerce:".to_owned());
        if redis_prefix.is_empty()
            || redis_prefix.len() > 64
            || !redis_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
        {
            return Err(ConfigError::new(
                "REDIS_PREFIX must be 1 to 64 letters, digits, '-', '_', ':' or '.'",
            ));
        }

        let url = |name: &str, schemes: &[&str]| -> Result<Option<String>, ConfigError> {
            match var(name) {
                None => Ok(None),
                Some(url) if schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) => {
                    Ok(Some(url))
                }
                Some(_) => Err(ConfigError(format!(
                    "{name} must start with {}",
                    schemes
                        .iter()
                        .map(|s| format!("{s}://"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ))),
            }
        };

        let metrics_token = match var("METRICS_TOKEN") {
            Some(token) if token.len() >= MIN_METRICS_TOKEN_BYTES => {
                Some(SecretString::from(token))
            }
            Some(_) => {
                return Err(ConfigError(format!(
                    "METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_BYTES} bytes"
                )));
            }
            None => None,
        };

        let mail_from = var("MAIL_FROM")
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned())
            .parse::<lettre::message::Mailbox>()
            .map_err(|error| {
                ConfigError(format!(
                    "MAIL_FROM must be an address such as \"Shop <no-reply@shop.example>\": {error}"
                ))
            })?;

        Ok(Config {
            database_url,
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".to_owned()),
            port,
            app_env,
            jwt_secret: SecretString::from(jwt_secret),
            jwt_secret_generated,
            access_token_ttl: secs("ACCESS_TOKEN_TTL_SECS", 900, DAY)?,
            refresh_token_ttl: secs("REFRESH_TOKEN_TTL_SECS", 1_209_600, 365 * DAY)?,
            allowed_origins,
            rate_limit_max: small("RATE_LIMIT_MAX", 100, 0, u64::from(u32::MAX))?,
            rate_limit_window: secs("RATE_LIMIT_WINDOW_SECS", 900, DAY)?,
            login_max_failures: small("LOGIN_MAX_FAILURES", 5, 1, 1000)?,
            login_lockout: secs("LOGIN_LOCKOUT_SECS", 900, DAY)?,
            log_level: var("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
            redis_url: url("REDIS_URL", &["redis", "rediss"])?.map(SecretString::from),
            redis_prefix,
            cache_max_bytes: ranged("CACHE_MAX_MB", 16, 0, 4096)? << 20,
            nats_url: url("NATS_URL", &["nats", "tls"])?,
            smtp_url: url("SMTP_URL", &["smtp", "smtps"])?.map(SecretString::from),
            trust_proxy,
            trusted_proxy_hops: small("TRUSTED_PROXY_HOPS", 1, 1, 10)?,
            metrics_token,
            mail_from,
            job_max_attempts: small("JOB_MAX_ATTEMPTS", 8, 1, 100)?,
            job_lease: secs("JOB_LEASE_SECS", 60, 3600).and_then(|lease| {
                if lease < Duration::from_secs(5) {
                    Err(ConfigError::new("JOB_LEASE_SECS must be from 5 to 3600"))
                } else {
                    Ok(lease)
                }
            })?,
            connections: ConnectionLimits {
                header_read: secs("HEADER_READ_TIMEOUT_SECS", 10, 300)?,
                keep_alive: secs("KEEP_ALIVE_TIMEOUT_SECS", 75, 3600)?,
                write: secs("WRITE_TIMEOUT_SECS", 30, 3600)?,
                max_connections: usize::try_from(ranged("MAX_CONNECTIONS", 4096, 1, 1_000_000)?)
                    .expect("bounds fit a usize"),
                drain: secs("SHUTDOWN_DRAIN_SECS", 25, 3600)?,
            },
        })
    }

    /// The defaults of a development process on the given database; what tests start from.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        Self::from_lookup(|name| match name {
            "DATABASE_URL" => Some(database_url.clone()),
            "APP_ENV" => Some("test".to_owned()),
            _ => None,
        })
        .expect("the defaults are valid")
    }
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.database_url, "sqlite://data/ecommerce.db");
        assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 3000));
        assert_eq!(config.app_env, AppEnv::Development);
        assert!(config.jwt_secret_generated);
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(1_209_600));
        assert_eq!(config.allowed_origins, vec!["http://localhost:3000"]);
        assert_eq!(config.rate_limit_max, 100);
        assert_eq!(config.rate_limit_window, Duration::from_secs(900));
        assert_eq!(config.login_max_failures, 5);
        assert_eq!(config.login_lockout, Duration::from_secs(900));
        assert_eq!(config.log_level, "info");
        assert_eq!(
            config.mail_from.to_string(),
            "ecommerce-api <no-reply@localhost>"
        );
        assert_eq!(config.job_max_attempts, 8);
        assert!(config.redis_url.is_none() && config.nats_url.is_none());
        assert!(!config.trust_proxy);
    }

    #[test]
    fn development_makes_a_different_random_secret_per_process() {
        let a = parse(&[]).unwrap();
        let b = parse(&[]).unwrap();
        assert_eq!(a.jwt_secret.expose_secret().len(), 64);
        assert_ne!(a.jwt_secret.expose_secret(), b.jwt_secret.expose_secret());
    }

    #[test]
    fn production_requires_a_long_secret() {
        let missing = parse(&[("APP_ENV", "production")]).unwrap_err();
        assert!(
            missing.to_string().contains("JWT_SECRET is required"),
            "{missing}"
        );
        let short = parse(&[("APP_ENV", "production"), ("JWT_SECRET", "short")]).unwrap_err();
        assert!(short.to_string().contains("at least 32 bytes"), "{short}");
        let ok = parse(&[("APP_ENV", "production"), ("JWT_SECRET", &"x".repeat(32))]).unwrap();
        assert!(ok.app_env.is_production() && !ok.jwt_secret_generated);
    }

    #[test]
    fn errors_name_the_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("PORT", "70000"),
            ("RATE_LIMIT_MAX", "-1"),
            ("ACCESS_TOKEN_TTL_SECS", "0"),
            ("LOGIN_MAX_FAILURES", "0"),
            ("APP_ENV", "staging"),
            ("TRUST_PROXY", "maybe"),
            ("DATABASE_URL", "mysql://localhost/shop"),
            ("REDIS_URL", "localhost:6379"),
            ("NATS_URL", "http://localhost:4222"),
            ("SMTP_URL", "mail.example.com"),
            ("ALLOWED_ORIGINS", "*"),
            ("ALLOWED_ORIGINS", "https://a.example/path"),
            ("ALLOWED_ORIGINS", "a.example"),
            ("METRICS_TOKEN", "short"),
            ("MAIL_FROM", "not an address"),
            ("JOB_MAX_ATTEMPTS", "0"),
            ("JOB_LEASE_SECS", "2"),
        ] {
            let err = parse(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    /// A value that passes start-up must never fail a request later: every number has bounds.
    #[test]
    fn every_number_has_bounds_checked_at_start_up() {
        for name in [
            "ACCESS_TOKEN_TTL_SECS",
            "REFRESH_TOKEN_TTL_SECS",
            "RATE_LIMIT_WINDOW_SECS",
            "LOGIN_LOCKOUT_SECS",
            "LOGIN_MAX_FAILURES",
            "TRUSTED_PROXY_HOPS",
            "HEADER_READ_TIMEOUT_SECS",
            "KEEP_ALIVE_TIMEOUT_SECS",
            "WRITE_TIMEOUT_SECS",
            "MAX_CONNECTIONS",
            "SHUTDOWN_DRAIN_SECS",
        ] {
            for value in [
                "0",
                "99999999999",
                "18446744073709551615",
                "18446744073709551616",
            ] {
                let err = parse(&[(name, value)]).unwrap_err();
                assert!(err.to_string().contains(name), "{name}={value}: {err}");
            }
        }
        let err = parse(&[("RATE_LIMIT_MAX", "4294967296")]).unwrap_err();
        assert!(err.to_string().contains("from 0 to 4294967295"), "{err}");
        let ok = parse(&[
            ("REFRESH_TOKEN_TTL_SECS", "31536000"),
            ("LOGIN_LOCKOUT_SECS", "86400"),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn lists_and_switches_are_parsed() {
        let config = parse(&[
            ("ALLOWED_ORIGINS", "https://a.example, https://b.example,"),
            ("RATE_LIMIT_MAX", "0"),
            ("TRUST_PROXY", "true"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/shop"),
        ])
        .unwrap();
        assert_eq!(
            config.allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert_eq!(config.rate_limit_max, 0);
        assert!(config.trust_proxy);
    }
}
