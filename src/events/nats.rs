//! The NATS JetStream side of the relay: stream `EVENTS` on `events.>` (file storage), one
//! message per event on `events.<type>`, `Nats-Msg-Id` = the event id, so JetStream drops a
//! re-publish within its duplicate window.
//!
//! The client connects in the background and reconnects by itself; while it is not connected
//! nothing is published (events wait in the outbox) and `/ready` says `degraded`.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use tokio::sync::OnceCell;

use crate::db::outbox::Pending;

/// How long a publish waits for JetStream's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);
pub const STREAM: &str = "EVENTS";

pub struct Nats {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: OnceCell<()>,
}

impl Nats {
    /// Starts connecting to `url` and returns at once, so start-up never waits on NATS.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(None)
            .connect(url)
            .await
            .map_err(|error| anyhow::anyhow!("NATS_URL cannot be used: {error}"))?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(ACK_TIMEOUT);
        Ok(Nats {
            client,
            jetstream,
            stream: OnceCell::new(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates the stream when it is missing, once per process.
    async fn ensure_stream(&self) -> anyhow::Result<()> {
        self.stream
            .get_or_try_init(|| async {
                self.jetstream
                    .get_or_create_stream(stream::Config {
                        name: STREAM.to_owned(),
                        subjects: vec!["events.>".to_owned()],
                        storage: stream::StorageType::File,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
                    .map_err(|error| anyhow::anyhow!("cannot create the {STREAM} stream: {error}"))
            })
            .await
            .copied()
    }

    /// Publishes `events` in order and waits for every acknowledgement. Returns how many,
    /// from the first, were acknowledged, and the error that stopped the rest, if any: an
    /// event is never reported published before JetStream has acknowledged it.
    pub async fn publish(&self, events: &[Pending]) -> (usize, Option<anyhow::Error>) {
        if !self.is_connected() {
            return (0, Some(anyhow::anyhow!("NATS is not connected")));
        }
        if let Err(error) = self.ensure_stream().await {
            return (0, Some(error));
        }
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let body = match serde_json::to_vec(&event.envelope) {
                Ok(body) => body,
                Err(error) => return (0, Some(error.into())),
            };
            let publish = PublishMessage::build()
                .payload(body.into())
                .message_id(event.id.to_string());
            match self
                .jetstream
                .send_publish(format!("events.{}", event.kind), publish)
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(error) => {
                    // Those sent before still count, if acknowledged.
                    let sent = acks.len();
                    let (acked, later) = await_acks(acks).await;
                    return (
                        acked,
                        later.or_else(|| (acked == sent).then(|| error.into())),
                    );
                }
            }
        }
        await_acks(acks).await
    }
}

async fn await_acks(
    acks: Vec<jetstream::context::PublishAckFuture>,
) -> (usize, Option<anyhow::Error>) {
    let mut acked = 0;
    for ack in acks {
        match ack.await {
            Ok(_) => acked += 1,
            Err(error) => return (acked, Some(error.into())),
        }
    }
    (acked, None)
}
