//! Domain events after their commit: the relay that delivers the outbox (`relay`), oldest
//! first, to this process's subscribers and to NATS JetStream (`nats`).

pub mod nats;
pub mod relay;

use crate::domain::EventEnvelope;

/// Something in this process that reacts to events, such as a cache that forgets what an
/// event changed. Delivery is at least once: the same event may come again after a crash, so a
/// subscriber must be idempotent. Events come in batches, oldest first.
#[async_trait::async_trait]
pub trait Subscriber: Send + Sync {
    fn name(&self) -> &'static str;

    async fn handle(&self, events: &[EventEnvelope]) -> anyhow::Result<()>;
}

/// Counts events by type in `/metrics` (`events_handled_total`).
pub struct Counter;

#[async_trait::async_trait]
impl Subscriber for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    async fn handle(&self, events: &[EventEnvelope]) -> anyhow::Result<()> {
        for envelope in events {
            metrics::counter!("events_handled_total", "type" => envelope.event.kind()).increment(1);
        }
        Ok(())
    }
}
