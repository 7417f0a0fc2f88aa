//! Per-client-IP limit on `/api/*`, with the IETF `RateLimit-*` headers that
//! express-rate-limit's `standardHeaders` sent.
//!
//! The limiter is governor's GCRA: `RATE_LIMIT_MAX` requests may burst, and the allowance
//! refills evenly over `RATE_LIMIT_WINDOW_SECS`, which avoids the double burst a fixed window
//! allows at its edge. State is per process; `REDIS_URL` will share it across instances.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::AppError;

type KeyedLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// Idle clients are forgotten this often, so the key map does not grow without bound.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct ClientRateLimiter {
    limiter: KeyedLimiter,
    max: NonZeroU32,
    per_request: Duration,
    window: Duration,
    trust_proxy: bool,
}

impl ClientRateLimiter {
    /// `None` when `max` is 0, which turns limiting off.
    pub fn new(max: u32, window: Duration, trust_proxy: bool) -> Option<Arc<Self>> {
        let max = NonZeroU32::new(max)?;
        let per_request = (window / max.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(per_request)
            .expect("the period is not zero")
            .allow_burst(max);
        let limiter = RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>();
        let limiter = Arc::new(ClientRateLimiter {
            limiter,
            max,
            per_request,
            window,
            trust_proxy,
        });
        spawn_pruner(Arc::downgrade(&limiter));
        Some(limiter)
    }

    /// Behind a trusted proxy, the last address of `X-Forwarded-For`: the one that proxy
    /// appended for the connection it received. Earlier entries come from the client and can be
    /// anything, so trusting the first would let a client pick its own rate-limit bucket.
    fn client_ip(&self, request: &Request) -> IpAddr {
        let forwarded = || {
            request
                .headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse()
                .ok()
        };
        let peer = || {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        };
        self.trust_proxy
            .then(forwarded)
            .flatten()
            .or_else(peer)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    fn headers(&self, remaining: u32, reset: Duration) -> [(HeaderName, HeaderValue); 4] {
        [
            (
                HeaderName::from_static("ratelimit-policy"),
                HeaderValue::try_from(format!("{};w={}", self.max, self.window.as_secs()))
                    .expect("digits are a valid header value"),
            ),
            (
                HeaderName::from_static("ratelimit-limit"),
                self.max.get().into(),
            ),
            (
                HeaderName::from_static("ratelimit-remaining"),
                remaining.into(),
            ),
            (
                HeaderName::from_static("ratelimit-reset"),
                ceil_secs(reset).into(),
            ),
        ]
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn spawn_pruner(limiter: Weak<ClientRateLimiter>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                return;
            };
            limiter.limiter.retain_recent();
            limiter.limiter.shrink_to_fit();
        }
    });
}

fn extend(headers: &mut HeaderMap, extra: [(HeaderName, HeaderValue); 4]) {
    for (name, value) in extra {
        headers.insert(name, value);
    }
}

pub async fn rate_limit(
    State(limiter): State<Option<Arc<ClientRateLimiter>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limiter.filter(|_| request.uri().path().starts_with("/api/")) else {
        return next.run(request).await;
    };
    let ip = limiter.client_ip(&request);
    match limiter.limiter.check_key(&ip) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let reset = limiter.per_request * (limiter.max.get() - remaining);
            let mut response = next.run(request).await;
            extend(response.headers_mut(), limiter.headers(remaining, reset));
            response
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::info!(client.ip = %ip, retry_after_secs = ceil_secs(wait), "rate limited");
            let mut response = AppError::RateLimited {
                retry_after_secs: ceil_secs(wait),
            }
            .into_response();
            extend(response.headers_mut(), limiter.headers(0, wait));
            response
        }
    }
}
