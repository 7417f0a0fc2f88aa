//! Per-client-IP limit on `/api/*`, with the IETF `RateLimit-*` headers that
//! express-rate-limit's `standardHeaders` sent.
//!
//! The limiter is governor's GCRA: `RATE_LIMIT_MAX` requests may burst, and the allowance
//! refills evenly over `RATE_LIMIT_WINDOW_SECS`, which avoids the double burst a fixed window
//! allows at its edge. With `REDIS_URL` the same algorithm runs in Redis, as one atomic script
//! on Redis's clock, so the budget is shared by every instance; while Redis does not answer,
//! each instance counts on its own (see `cluster`).
//!
//! The checks that arrive while a script call is in flight go out together in the next one
//! ([`run_shared`]): a lone request still waits one round trip, but under load one round trip
//! and one script run serve many requests, which is what keeps the shared limiter's cost small
//! next to a cached read. Within a call each client's requests are counted in arrival order,
//! exactly as the same requests one by one would be.

use std::collections::HashMap;
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
use tokio::sync::{mpsc, oneshot};

use crate::cluster::Redis;
use crate::error::{AppError, FieldError};

type KeyedLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// Idle clients are forgotten this often, so the key map does not grow without bound.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Checks per script call at most: bounds the time one call holds Redis, which runs nothing
/// else meanwhile.
const MAX_BATCH: usize = 512;

/// A check waiting for the shared limiter: the client, and where its decision goes (`None`:
/// Redis did not decide).
type SharedCheck = (IpAddr, oneshot::Sender<Option<Decision>>);

pub struct ClientRateLimiter {
    limiter: KeyedLimiter,
    max: NonZeroU32,
    per_request: Duration,
    window: Duration,
    trust_proxy: bool,
    hops: u32,
    /// With `REDIS_URL`: the queue of [`run_shared`].
    shared: Option<mpsc::UnboundedSender<SharedCheck>>,
}

/// What one request's check decided.
enum Decision {
    Allowed { remaining: u32 },
    Refused { wait: Duration },
}

impl ClientRateLimiter {
    /// `None` when `max` is 0, which turns limiting off.
    pub fn new(
        max: u32,
        window: Duration,
        trust_proxy: bool,
        hops: u32,
        redis: Option<Arc<Redis>>,
    ) -> Option<Arc<Self>> {
        let max = NonZeroU32::new(max)?;
        let per_request = (window / max.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(per_request)
            .expect("the period is not zero")
            .allow_burst(max);
        let limiter = RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>();
        let shared = redis.map(|redis| {
            let (checks, queue) = mpsc::unbounded_channel();
            // Redis's clock counts microseconds: a budget finer than that refills at 1 µs.
            let emission = u64::try_from(per_request.as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            tokio::spawn(run_shared(redis, emission, max, queue));
            checks
        });
        let limiter = Arc::new(ClientRateLimiter {
            limiter,
            max,
            per_request,
            window,
            trust_proxy,
            hops,
            shared,
        });
        spawn_pruner(Arc::downgrade(&limiter));
        Some(limiter)
    }

    /// The bucket a request is counted in: its client's address (see [`client_address`]), an
    /// IPv6 one cut to its /64.
    fn bucket(&self, request: &Request) -> Result<IpAddr, AppError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                addr.ip()
            });
        let client = if self.trust_proxy {
            client_address(request.headers(), peer, self.hops)?
        } else {
            peer
        };
        Ok(bucket(client))
    }

    /// Counts one request of `ip`: in Redis when it answers, else in this process.
    async fn check(&self, ip: IpAddr) -> Decision {
        if let Some(checks) = &self.shared {
            let (reply, decision) = oneshot::channel();
            if checks.send((ip, reply)).is_ok()
                && let Ok(Some(decision)) = decision.await
            {
                return decision;
            }
        }
        match self.limiter.check_key(&ip) {
            Ok(snapshot) => Decision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => Decision::Refused {
                wait: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
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

/// The client's address behind `hops` trusted proxies, the nearest of which is `peer`.
///
/// Each proxy appends the address it received the request from to `X-Forwarded-For` — on the
/// last header line, or (HAProxy's `option forwardfor`) on a line of its own — so all lines are
/// read, in order, as one list, and the client is the entry `hops` places from its right end;
/// everything left of that was written by the client and is not evidence of anything. An
/// entry that is not an address is refused rather than counted in some shared bucket (the
/// peer's, say), where one client could spend every such client's budget.
fn client_address(headers: &HeaderMap, peer: IpAddr, hops: u32) -> Result<IpAddr, AppError> {
    let malformed = || {
        AppError::Validation(vec![FieldError::new(
            "X-Forwarded-For",
            "must list IP addresses, as the proxy in front of this server writes them",
        )])
    };
    let mut entries = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        let line = line.to_str().map_err(|_| malformed())?;
        entries.extend(
            line.split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty()),
        );
    }
    if entries.is_empty() {
        return Ok(peer);
    }
    let hops = usize::try_from(hops).unwrap_or(usize::MAX);
    let chosen = entries[entries.len().saturating_sub(hops)];
    forwarded_address(chosen).ok_or_else(malformed)
}

/// An address as proxies write it: `203.0.113.7`, `203.0.113.7:443`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inside.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (host, port) = entry.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.parse::<u16>().is_ok()
}

/// One budget per IPv4 address, and per /64 for IPv6: a single host is routinely given a
/// whole /64, so counting each /128 would give one client 2^64 budgets. IPv4-mapped IPv6
/// addresses count as the IPv4 address they carry.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1_u128 << 64) - 1),
            )),
        },
    }
}

/// The API, over either transport; not the operators' routes, docs or GraphiQL's assets.
fn is_limited(path: &str) -> bool {
    path.starts_with("/api/") || path == "/graphql"
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
    let Some(limiter) = limiter.filter(|_| is_limited(request.uri().path())) else {
        return next.run(request).await;
    };
    let ip = match limiter.bucket(&request) {
        Ok(ip) => ip,
        Err(refusal) => return refusal.into_response(),
    };
    match limiter.check(ip).await {
        Decision::Allowed { remaining } => {
            let reset = limiter.per_request * (limiter.max.get().saturating_sub(remaining));
            let mut response = next.run(request).await;
            extend(response.headers_mut(), limiter.headers(remaining, reset));
            response
        }
        Decision::Refused { wait } => {
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

/// Sends the waiting checks to Redis, all of them in each call, until the limiter is dropped.
async fn run_shared(
    redis: Arc<Redis>,
    emission: u64,
    burst: NonZeroU32,
    mut queue: mpsc::UnboundedReceiver<SharedCheck>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let decisions = decide_shared(&redis, emission, burst, &batch).await;
        for ((_, reply), decision) in batch.drain(..).zip(decisions) {
            // A client that went away no longer waits for its answer.
            let _ = reply.send(decision);
        }
    }
}

/// The GCRA of governor (`tau = T × (max − 1)`) for every check of `batch`, in one call of
/// the script; all `None` when Redis did not answer.
async fn decide_shared(
    redis: &Redis,
    emission: u64,
    burst: NonZeroU32,
    batch: &[SharedCheck],
) -> Vec<Option<Decision>> {
    // Each client once, with how many of its requests the batch holds; and for each check,
    // its client's index and its place among that client's requests.
    let mut clients: HashMap<IpAddr, usize> = HashMap::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut places = Vec::with_capacity(batch.len());
    let mut invocation = gcra_script().prepare_invoke();
    for (ip, _) in batch {
        let client = *clients.entry(*ip).or_insert_with(|| {
            invocation.key(redis.key(&format!("rl:{ip}")));
            counts.push(0);
            counts.len() - 1
        });
        places.push((client, counts[client]));
        counts[client] += 1;
    }
    invocation.arg(emission).arg(burst.get());
    for count in &counts {
        invocation.arg(*count);
    }
    let replies: Option<Vec<i64>> = redis
        .call(|mut connection| async move { invocation.invoke_async(&mut connection).await })
        .await;
    let Some(replies) = replies.filter(|replies| replies.len() == 2 * batch.len()) else {
        return batch.iter().map(|_| None).collect();
    };
    // Where each client's replies start: two numbers per request, clients in key order.
    let starts: Vec<usize> = counts
        .iter()
        .scan(0, |next, count| {
            let start = *next;
            *next += 2 * count;
            Some(start)
        })
        .collect();
    places
        .into_iter()
        .map(|(client, place)| {
            let at = starts[client] + 2 * place;
            let value = u64::try_from(replies[at + 1]).unwrap_or(0);
            Some(if replies[at] == 1 {
                Decision::Allowed {
                    remaining: u32::try_from(value).unwrap_or(0),
                }
            } else {
                Decision::Refused {
                    wait: Duration::from_micros(value),
                }
            })
        })
        .collect()
}

/// KEYS: the clients' keys; ARGV[1] the emission interval T in µs, ARGV[2] the burst, then
/// for each key how many requests of that client to count, in order. Returns, key by key and
/// request by request, `1, remaining` or `0, µs to wait`. A key holds its client's theoretical
/// arrival time and expires when that has passed, so idle clients leave nothing behind.
fn gcra_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| {
        redis::Script::new(
            r"
local t = tonumber(ARGV[1])
local tau = t * (tonumber(ARGV[2]) - 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local out = {}
for k = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[k]) or now)
  local counted = false
  for _ = 1, tonumber(ARGV[k + 2]) do
    local earliest = tat - tau
    if now < earliest then
      out[#out + 1] = 0
      out[#out + 1] = earliest - now
    else
      tat = math.max(tat, now) + t
      counted = true
      out[#out + 1] = 1
      out[#out + 1] = math.floor(math.min(now + tau + t - tat, tau + t) / t)
    end
  end
  if counted then
    redis.call('SET', KEYS[k], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
end
return out",
        )
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn the_client_is_counted_from_the_right_over_every_line() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for (lines, hops, client) in [
            (vec!["6.6.6.6, 1.2.3.4"], 1, "1.2.3.4"),
            (vec!["6.6.6.6", "1.2.3.4"], 1, "1.2.3.4"),
            (vec!["6.6.6.6", "7.7.7.7, 1.2.3.4"], 1, "1.2.3.4"),
            (vec!["6.6.6.6, 1.2.3.4, 10.9.9.9"], 2, "1.2.3.4"),
            (vec!["1.2.3.4"], 3, "1.2.3.4"),
            (vec!["1.2.3.4:5678"], 1, "1.2.3.4"),
            (vec!["[2001:db8::1]:443"], 1, "2001:db8::1"),
            (vec!["[2001:db8::1]"], 1, "2001:db8::1"),
            (vec!["2001:db8::1"], 1, "2001:db8::1"),
        ] {
            assert_eq!(
                client_address(&headers(&lines), PEER, hops).unwrap(),
                ip(client),
                "{lines:?} with {hops} hops"
            );
        }
        assert_eq!(client_address(&headers(&[]), PEER, 1).unwrap(), PEER);
    }

    #[test]
    fn an_entry_that_is_not_an_address_is_refused_not_pooled() {
        for bad in [
            "unknown",
            "1.2.3",
            "1.2.3.4:99999",
            "[::1",
            "::1]:80",
            "_hidden",
            "1.2.3.4:",
        ] {
            assert!(client_address(&headers(&[bad]), PEER, 1).is_err(), "{bad}");
        }
        // What a client wrote left of the proxy's entry is never looked at.
        assert!(client_address(&headers(&["junk, 1.2.3.4"]), PEER, 1).is_ok());
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            bucket(ip("2001:db8:1:2:aaaa::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }

    proptest! {
        #[test]
        fn any_header_is_an_address_or_refused_without_panicking(line in "[ -~]{0,80}", hops in 1_u32..10) {
            if let Ok(value) = HeaderValue::from_str(&line) {
                let mut headers = HeaderMap::new();
                headers.insert("x-forwarded-for", value);
                let _ = client_address(&headers, PEER, hops);
            }
        }
    }
}
