//! Logs and metrics set up once per process: readable text locally, JSON in production, and one
//! Prometheus recorder that every app instance in the process (tests start many) shares.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Latency buckets in seconds, dense where an API should answer (1 ms to 1 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Log lines queued for the writer thread before a logging task waits for it: deep enough for a
/// burst, bounded so a stalled stdout cannot grow the process without limit.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Keeps the log writer thread running; dropping it flushes the lines still queued. Hold it
/// until the process is done logging.
#[must_use = "dropping the writer stops logging"]
pub struct LogWriter(#[expect(dead_code, reason = "held for its Drop, which flushes")] WorkerGuard);

/// Installs the global subscriber. `level` is a `tracing` filter such as `info` or
/// `ecommerce_api=debug,sqlx=warn`; an invalid one is a start-up error.
///
/// Lines are written to stdout by a thread of their own, so a request never waits on a write
/// to a pipe or a terminal. When the queue is full, logging waits rather than drops: a log
/// that silently loses lines under load is worse than a slower one.
pub fn init_tracing(level: &str, json: bool) -> anyhow::Result<LogWriter> {
    let mut filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL {level:?} is not a valid filter: {e}"))?;
    // PostgreSQL's NOTICEs ("relation … already exists, skipping" on every start) are noise
    // at info; a filter that names sqlx itself decides for itself.
    if !level.contains("sqlx") {
        filter = filter.add_directive(
            "sqlx::postgres::notice=warn"
                .parse()
                .expect("a valid directive"),
        );
    }
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(writer))
            .try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
    Ok(LogWriter(guard))
}

/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus handle, installing the recorder on first use.
///
/// Histogram samples queue until upkeep folds them into buckets; without it an instance that
/// nobody scrapes would grow by eight bytes per request. Upkeep runs on its own thread because
/// the handle outlives any one runtime (tests start many).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    LATENCY_BUCKETS,
                )
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("the metrics upkeep thread starts");
            handle
        })
        .clone()
}

/// Resident memory of this process in bytes, from `/proc` (None where that does not exist).
///
/// Cached for a second: the kernel formats the whole status file on each read, which cost a
/// quarter of `/health`'s CPU time under load when read per request.
pub fn resident_memory_bytes() -> Option<u64> {
    static CACHE: Mutex<Option<(Instant, Option<u64>)>> = Mutex::new(None);
    const MAX_AGE: Duration = Duration::from_secs(1);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    match *cache {
        Some((read_at, rss)) if read_at.elapsed() < MAX_AGE => rss,
        _ => {
            let rss = read_resident_memory_bytes();
            *cache = Some((Instant::now(), rss));
            rss
        }
    }
}

fn read_resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
