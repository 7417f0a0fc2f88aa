//! The HTTP/1 server loop, with the limits a public server needs and `axum::serve` does not
//! offer: a deadline for a request head, an idle timeout between kept-alive requests, a write
//! timeout for clients that stop reading, a cap on open connections, and a drain deadline
//! after which shutdown closes whatever is left instead of waiting for it forever.
//!
//! The read-side deadlines live in [`GuardedIo`], the connection's socket wrapper: when a read
//! would wait, it also waits on the deadline of the connection's phase — a head that has begun
//! must be complete within `header_read`, an idle connection may wait `keep_alive` for its next
//! request, a connection whose request is being served has no read deadline (the request
//! timeout covers that). A write that cannot make progress for `write` fails the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// What a connection may cost. Every value is checked at start-up (`config.rs`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From the first byte of a request head to its end.
    pub header_read: Duration,
    /// Between the end of a response and the first byte of the next request.
    pub keep_alive: Duration,
    /// How long a write may make no progress (a client that does not read).
    pub write: Duration,
    /// Open connections; past it the server stops accepting until one closes.
    pub max_connections: usize,
    /// After shutdown begins, how long in-flight requests may take before their connections
    /// are closed.
    pub drain: Duration,
}

/// hyper's own ceilings, above the app's (`http::middleware::limits`), so that the app, not
/// hyper, answers an oversized head with the contract's envelope; only a head past these gets
/// hyper's bare 431.
const MAX_HEAD_BYTES: usize = 128 * 1024;
const MAX_HEADERS: usize = 256;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets each
/// connection finish its request (kept-alive connections are closed after it), and after
/// `limits.drain` closes the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Our own deadlines apply; hyper's would also cut idle connections at the head limit.
        .header_read_timeout(None)
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        // Reap finished connections so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::new(Shared::new());
        let io = TokioIo::new(GuardedIo::new(stream, limits, shared.clone()));
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let busy = Busy::start(shared.clone());
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(busy);
                    response
                }
            }
        });
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(connections = open, "draining open connections");
    }
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            drain_secs = limits.drain.as_secs(),
            "closing connections still open after the drain deadline"
        );
        connections.shutdown().await;
    }
    Ok(())
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        // Timeouts, resets and malformed heads are the client's business, not an incident.
        tracing::debug!(error = %error, "connection ended with an error");
    }
}

/// What the socket wrapper must know of the requests on its connection.
struct Shared {
    started: Instant,
    /// Requests being served.
    busy: AtomicU32,
    /// Requests that have reached the app, ever; a head in progress is done once this moves.
    requests: AtomicU64,
    /// When the connection last became idle, in nanoseconds since `started`.
    idle_since: AtomicU64,
    /// The read that waited without a deadline while a request was served.
    read_waker: Mutex<Option<Waker>>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            started: Instant::now(),
            busy: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            read_waker: Mutex::new(None),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.started + Duration::from_nanos(nanos)
    }
}

/// Marks a request as being served for as long as it lives.
struct Busy(Arc<Shared>);

impl Busy {
    fn start(shared: Arc<Shared>) -> Self {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        shared.busy.fetch_add(1, Ordering::Relaxed);
        Busy(shared)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now(), Ordering::Relaxed);
        if self.0.busy.fetch_sub(1, Ordering::Release) == 1 {
            let waker = self
                .0
                .read_waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// The socket, with the read deadline of the connection's phase and a write deadline.
struct GuardedIo {
    stream: TcpStream,
    limits: ConnectionLimits,
    shared: Arc<Shared>,
    /// When the head now being read began, and the request count at that moment.
    head: Option<(u64, u64)>,
    read_deadline: Option<(Instant, Pin<Box<Sleep>>)>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl GuardedIo {
    fn new(stream: TcpStream, limits: ConnectionLimits, shared: Arc<Shared>) -> Self {
        GuardedIo {
            stream,
            limits,
            shared,
            // A new connection is expected to send its first request at once.
            head: Some((0, 0)),
            read_deadline: None,
            write_deadline: None,
        }
    }

    /// The deadline for the next byte, or `None` while a request is being served.
    fn read_deadline(&mut self) -> Option<Instant> {
        let requests = self.shared.requests.load(Ordering::Relaxed);
        if self.head.is_some_and(|(_, at_count)| at_count != requests) {
            self.head = None;
        }
        if self.shared.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.head {
            Some((began, _)) => self.shared.at(began) + self.limits.header_read,
            None => {
                self.shared
                    .at(self.shared.idle_since.load(Ordering::Relaxed))
                    + self.limits.keep_alive
            }
        })
    }

    fn poll_write_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let limit = self.limits.write;
        let sleep = self
            .write_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing within the write timeout",
            ));
        }
        Ok(())
    }

    /// Passes a write result through, arming the write deadline while it waits.
    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => match self.poll_write_deadline(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let filled = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len() > filled;
                if read && this.head.is_none() && this.shared.busy.load(Ordering::Acquire) == 0 {
                    this.head = Some((
                        this.shared.now(),
                        this.shared.requests.load(Ordering::Relaxed),
                    ));
                }
                this.read_deadline = None;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = this.read_deadline() else {
                    // Served requests end without any read waking us: have the end wake us,
                    // so the idle deadline is armed then.
                    this.read_deadline = None;
                    *this
                        .shared
                        .read_waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
                    return Poll::Pending;
                };
                let sleep = match &mut this.read_deadline {
                    Some((at, sleep)) if *at == deadline => sleep,
                    slot => {
                        &mut slot
                            .insert((deadline, Box::pin(tokio::time::sleep_until(deadline))))
                            .1
                    }
                };
                ready!(sleep.as_mut().poll(cx));
                let phase = if this.head.is_some() {
                    "the request head was not complete within the header timeout"
                } else {
                    "the connection was idle for the keep-alive timeout"
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, phase)))
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.after_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
