//! Private services for tests that need them, on free ports, stopped by PID: a NATS server
//! with JetStream, a Redis, an SMTP sink that can be told to refuse or to hang, and a slow
//! link to a database.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A free port on 127.0.0.1 (free when this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it holds, up to `limit`; panics with `what` otherwise. For background
/// work the test cannot drive itself (the relay, the workers), never a fixed sleep.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `redis-server` of its own, keeping nothing on disk: a restart starts empty, as a Redis
/// that lost its memory would.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port after [`RedisServer::stop`].
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let port = self.port;
        eventually(
            "redis-server listens",
            Duration::from_secs(10),
            || async move { TcpStream::connect(("127.0.0.1", port)).await.is_ok() },
        )
        .await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `nats-server -js` of its own, with its store in a temporary folder that outlives restarts.
pub struct NatsServer {
    pub port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    pub async fn start() -> Self {
        let mut server = NatsServer {
            port: free_port(),
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port, same store) after [`NatsServer::stop`].
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let store: PathBuf = self.store.path().to_owned();
        let child = Command::new("/usr/sbin/nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs");
        self.child = Some(child);
        let port = self.port;
        eventually(
            "nats-server listens",
            Duration::from_secs(10),
            || async move { TcpStream::connect(("127.0.0.1", port)).await.is_ok() },
        )
        .await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// A JetStream client of the test's own.
    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        let client = async_nats::connect(self.url()).await.expect("NATS answers");
        async_nats::jetstream::new(client)
    }

    /// Every message of stream `EVENTS`: subject, `Nats-Msg-Id` and body.
    pub async fn events(&self) -> Vec<(String, String, serde_json::Value)> {
        let jetstream = self.jetstream().await;
        let Ok(mut stream) = jetstream.get_stream("EVENTS").await else {
            return Vec::new();
        };
        let info = stream.info().await.unwrap();
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        let mut messages = Vec::new();
        for sequence in first..=last {
            if sequence == 0 {
                continue;
            }
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default();
            let body = serde_json::from_slice(&message.payload).unwrap();
            messages.push((message.subject.to_string(), id, body));
        }
        messages
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the sink does with the next mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Accepts every mail.
    Accept,
    /// Answers `MAIL FROM` with a transient `451` this many times, then accepts.
    RefuseTimes(u32),
    /// Answers `MAIL FROM` with `451`, always.
    RefuseAll,
    /// Greets, then never answers the mail's `DATA` (a silent server).
    Hang,
    /// Accepts, but takes this long over each mail.
    Slow(Duration),
}

/// A received mail: its raw text, headers and body as sent.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub raw: String,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_lowercase());
        self.raw
            .lines()
            .take_while(|line| !line.is_empty())
            .find(|line| line.to_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }
}

#[derive(Default)]
struct Sink {
    mode: Option<SmtpMode>,
    refused: u32,
    mails: Vec<ReceivedMail>,
    /// Mails being received at this moment, and the most ever at once with one Message-ID.
    in_progress: Vec<String>,
    overlaps: u32,
}

/// An SMTP server in the test process: greets, takes `EHLO`, `MAIL`, `RCPT`, `DATA`, `QUIT`
/// (no TLS, no AUTH), and keeps what it received.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<Sink>>,
}

impl SmtpSink {
    pub async fn start(mode: SmtpMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(Sink {
            mode: Some(mode),
            ..Sink::default()
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        SmtpSink { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: SmtpMode) {
        let mut sink = self.state.lock().unwrap();
        sink.mode = Some(mode);
        sink.refused = 0;
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().mails.clone()
    }

    /// How often one mail (by Message-ID) was being received twice at the same time.
    pub fn overlaps(&self) -> u32 {
        self.state.lock().unwrap().overlaps
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<Sink>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let command = line.to_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("MAIL") {
            let refuse = {
                let mut sink = state.lock().unwrap();
                match sink.mode {
                    Some(SmtpMode::RefuseAll) => true,
                    Some(SmtpMode::RefuseTimes(n)) if sink.refused < n => {
                        sink.refused += 1;
                        true
                    }
                    _ => false,
                }
            };
            if refuse {
                b"451 try again later\r\n"
            } else {
                b"250 OK\r\n"
            }
        } else if command.starts_with("RCPT")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else if command.starts_with("DATA") {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut raw = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
                raw.push('\n');
            }
            let mail = ReceivedMail { raw };
            let id = mail.header("Message-ID").unwrap_or_default();
            let mode = {
                let mut sink = state.lock().unwrap();
                if sink.in_progress.contains(&id) {
                    sink.overlaps += 1;
                }
                sink.in_progress.push(id.clone());
                sink.mode
            };
            match mode {
                Some(SmtpMode::Hang) => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                Some(SmtpMode::Slow(delay)) => tokio::time::sleep(delay).await,
                _ => {}
            }
            let mut sink = state.lock().unwrap();
            if let Some(at) = sink.in_progress.iter().position(|held| *held == id) {
                sink.in_progress.remove(at);
            }
            sink.mails.push(mail);
            drop(sink);
            b"250 queued\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// A TCP relay to `upstream` that holds every reply for `delay`: a database a few milliseconds
/// away, so a request cancelled at any moment is caught inside a round trip, where the
/// client's and the server's idea of the session can part.
pub struct SlowLink {
    pub port: u16,
    accept: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    /// A link to the server of the PostgreSQL URL `database_url`.
    pub async fn start(database_url: &str, delay: Duration) -> Self {
        let server = url::Url::parse(database_url).unwrap();
        let upstream = format!(
            "{}:{}",
            server.host_str().unwrap(),
            server.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    let replies = async {
                        let mut buffer = vec![0; 16 * 1024];
                        while let Ok(n @ 1..) = from_server.read(&mut buffer).await {
                            tokio::time::sleep(delay).await;
                            if to_client.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    // Either side closing ends both.
                    tokio::select! {
                        _ = tokio::io::copy(&mut from_client, &mut to_server) => {}
                        () = replies => {}
                    }
                });
            }
        });
        Self { port, accept }
    }

    /// `database_url` reached through this link.
    pub fn reroute(&self, database_url: &str) -> String {
        let mut url = url::Url::parse(database_url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.into()
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
