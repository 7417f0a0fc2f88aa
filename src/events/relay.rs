//! The outbox relay: one per database (the leader of `outbox-relay`), delivering undelivered
//! events oldest first — to this process's subscribers, then, with `NATS_URL`, to JetStream —
//! and marking them delivered only after JetStream has acknowledged them.
//!
//! It waits for work instead of polling: a commit in this process wakes it, a commit in
//! another wakes it through `LISTEN` on PostgreSQL, and a slow fallback check covers a wake-up
//! lost while the listener reconnected. While NATS is unreachable it backs off and tries
//! again; nothing is dropped and the order is kept (a batch stops at its first failure).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::Subscriber;
use super::nats::Nats;
use crate::background::Stop;
use crate::db::leader::Leadership;
use crate::db::outbox::{self, Pending};
use crate::db::{self, Db};

/// Events delivered per round trip.
const BATCH: u64 = 256;
/// After a busy round, how long commits may gather before the next one: under load this turns
/// a round trip per event into one per batch (on SQLite the relay's writes share the one
/// writer with every request), at the price of a few milliseconds of latency.
const COALESCE: Duration = Duration::from_millis(10);
/// The fallback check when nothing woke the relay.
const IDLE_CHECK: Duration = Duration::from_secs(60);
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub struct Relay {
    pub db: Db,
    pub nats: Option<Arc<Nats>>,
    pub subscribers: Vec<Arc<dyn Subscriber>>,
}

impl Relay {
    /// Leads and delivers until shutdown; follows (waiting for the lock) while another
    /// instance leads.
    pub async fn run(self, mut stop: Stop) {
        'lead: loop {
            let Some(mut leadership) =
                Leadership::acquire(&self.db, "outbox-relay", &mut stop).await
            else {
                return;
            };
            let mut backoff: Option<Duration> = None;
            while !stop.is_stopped() {
                if !leadership.is_held().await {
                    tracing::warn!("the outbox relay lost its leader lock; taking it again");
                    continue 'lead;
                }
                match self.deliver().await {
                    Ok(delivered) => {
                        if backoff.take().is_some() {
                            tracing::info!("events flow again");
                        }
                        if delivered == 0 {
                            self.wait_for_work(&mut stop).await;
                        } else if !stop.sleep(COALESCE).await {
                            return;
                        }
                    }
                    Err(error) => {
                        let delay = backoff.map_or(BACKOFF_FIRST, |d| (d * 2).min(BACKOFF_MAX));
                        if backoff.is_none() {
                            tracing::warn!(error = %error, "cannot deliver events; they wait");
                        }
                        backoff = Some(delay);
                        if !stop.sleep(jitter(delay)).await {
                            return;
                        }
                    }
                }
            }
            return;
        }
    }

    async fn wait_for_work(&self, stop: &mut Stop) {
        tokio::select! {
            () = self.db.wake().outbox.notified() => {}
            () = tokio::time::sleep(IDLE_CHECK) => {}
            () = stop.stopped() => {}
        }
    }

    /// Delivers one batch; how many events were delivered.
    async fn deliver(&self) -> anyhow::Result<usize> {
        let batch = outbox::pending(&self.db, BATCH).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let fresh: Vec<&Pending> = batch.iter().filter(|event| !event.handled).collect();
        if !fresh.is_empty() {
            let envelopes: Vec<_> = fresh.iter().map(|event| event.envelope.clone()).collect();
            for subscriber in &self.subscribers {
                if let Err(error) = subscriber.handle(&envelopes).await {
                    tracing::warn!(subscriber = subscriber.name(), error = %error,
                        "an event subscriber failed");
                }
            }
        }
        let Some(nats) = &self.nats else {
            let ids: Vec<_> = batch.iter().map(|event| event.id).collect();
            outbox::mark(&self.db, &ids, true).await?;
            return Ok(batch.len());
        };
        let (acked, error) = nats.publish(&batch).await;
        if error.is_some() {
            // Seen here though not yet published, so subscribers do not see them twice.
            let ids: Vec<_> = batch[acked..]
                .iter()
                .filter(|event| !event.handled)
                .map(|event| event.id)
                .collect();
            outbox::mark(&self.db, &ids, false).await?;
        }
        let now = db::now();
        for event in &batch[..acked] {
            let latency = (now - event.created_at).to_std().unwrap_or_default();
            metrics::histogram!("outbox_publish_latency_seconds").record(latency.as_secs_f64());
        }
        metrics::counter!("outbox_published_total").increment(acked as u64);
        let ids: Vec<_> = batch[..acked].iter().map(|event| event.id).collect();
        outbox::mark(&self.db, &ids, true).await?;
        match error {
            None => Ok(acked),
            Some(error) => {
                metrics::counter!("outbox_publish_failures_total").increment(1);
                if let Some(failed) = batch.get(acked) {
                    outbox::record_failure(&self.db, failed.id, &format!("{error:#}")).await?;
                }
                if acked > 0 { Ok(acked) } else { Err(error) }
            }
        }
    }
}

/// ±20 %, so instances that failed together do not retry together.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.8..1.2))
}
