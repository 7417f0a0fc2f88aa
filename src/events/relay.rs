//! The outbox relay: one per database (the leader of `outbox-relay`), delivering undelivered
//! events oldest first — to this process's subscribers, then, with `NATS_URL`, to JetStream —
//! and marking them delivered only after JetStream has acknowledged them.
//!
//! It waits for work instead of polling: a commit in this process wakes it, a commit in
//! another wakes it through `LISTEN` on PostgreSQL, and a slow fallback check covers a wake-up
//! lost while the listener reconnected. While NATS is unreachable it backs off and tries
//! again; nothing is dropped and the order is kept (a batch stops at its first failure).
//!
//! Marking a batch delivered is a write, and on SQLite every write queues behind the requests'
//! transactions for the one writer: [`Marks`] writes them off the relay's path, so the next
//! batch is published while the last one's mark still waits.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use uuid::Uuid;

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
/// Published events whose mark may still be waiting before the relay waits for the marks: it
/// bounds the memory of the set and the rows each read re-reads.
const MAX_UNMARKED: usize = 4 * BATCH as usize;

pub struct Relay {
    pub db: Db,
    pub nats: Option<Arc<Nats>>,
    pub subscribers: Vec<Arc<dyn Subscriber>>,
}

impl Relay {
    /// Leads and delivers until shutdown; follows (waiting for the lock) while another
    /// instance leads.
    pub async fn run(self, mut stop: Stop) {
        let marks = Arc::new(Marks::default());
        let marker = tokio::spawn(marks.clone().run(self.db.clone()));
        self.lead(&marks, &mut stop).await;
        marks.close();
        let _ = marker.await;
    }

    async fn lead(&self, marks: &Marks, stop: &mut Stop) {
        'lead: loop {
            let Some(mut leadership) = Leadership::acquire(&self.db, "outbox-relay", stop).await
            else {
                return;
            };
            let mut backoff: Option<Duration> = None;
            while !stop.is_stopped() {
                if !leadership.is_held().await {
                    tracing::warn!("the outbox relay lost its leader lock; taking it again");
                    continue 'lead;
                }
                if !marks.caught_up(stop).await {
                    return;
                }
                match self.deliver(marks).await {
                    Ok(delivered) => {
                        if backoff.take().is_some() {
                            tracing::info!("events flow again");
                        }
                        if delivered == 0 {
                            self.wait_for_work(stop).await;
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
    async fn deliver(&self, marks: &Marks) -> anyhow::Result<usize> {
        let read = BATCH + marks.unmarked() as u64;
        let batch = marks.unpublished(outbox::pending(&self.db, read).await?);
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
            marks.add(batch.iter().map(|event| event.id));
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
        marks.add(batch[..acked].iter().map(|event| event.id));
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

/// Events published (or, without NATS, handed to the subscribers) and not yet marked
/// delivered. The relay skips them when it reads the outbox, so it never publishes one twice
/// while its mark waits; a crash before the mark publishes it again, and JetStream drops the
/// repeat by its `Nats-Msg-Id`.
#[derive(Default)]
struct Marks {
    state: Mutex<MarkState>,
    /// New ids to mark.
    queued: Notify,
    /// A mark was written.
    written: Notify,
    /// The relay has stopped.
    closed: AtomicBool,
    closing: Notify,
}

#[derive(Default)]
struct MarkState {
    /// Not yet handed to a write.
    queued: Vec<Uuid>,
    /// Every id published and not yet marked, `queued` included.
    unmarked: HashSet<Uuid>,
}

impl Marks {
    fn add(&self, ids: impl Iterator<Item = Uuid>) {
        let mut state = self.lock();
        for id in ids {
            if state.unmarked.insert(id) {
                state.queued.push(id);
            }
        }
        drop(state);
        self.queued.notify_one();
    }

    fn unmarked(&self) -> usize {
        self.lock().unmarked.len()
    }

    /// `batch` without the events already published.
    fn unpublished(&self, mut batch: Vec<Pending>) -> Vec<Pending> {
        let state = self.lock();
        batch.retain(|event| !state.unmarked.contains(&event.id));
        batch.truncate(BATCH as usize);
        batch
    }

    /// Waits while too many marks wait; `false` if shutdown began first.
    async fn caught_up(&self, stop: &mut Stop) -> bool {
        loop {
            let written = self.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            if self.unmarked() <= MAX_UNMARKED {
                return true;
            }
            tokio::select! {
                () = written => {}
                () = stop.stopped() => return false,
            }
        }
    }

    /// Writes the marks as they come, every waiting id in one statement, until the relay has
    /// stopped; then writes what is left, once.
    async fn run(self: Arc<Self>, db: Db) {
        let mut backoff: Option<Duration> = None;
        loop {
            let ids = std::mem::take(&mut self.lock().queued);
            if ids.is_empty() {
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
                self.queued.notified().await;
                continue;
            }
            match outbox::mark(&db, &ids, true).await {
                Ok(()) => {
                    backoff = None;
                    let mut state = self.lock();
                    for id in &ids {
                        state.unmarked.remove(id);
                    }
                    drop(state);
                    self.written.notify_waiters();
                }
                Err(error) if self.closed.load(Ordering::Acquire) => {
                    tracing::warn!(error = %error, events = ids.len(),
                        "cannot mark published events delivered; they will be published again, \
                         and JetStream drops the repeats");
                    return;
                }
                Err(error) => {
                    if backoff.is_none() {
                        tracing::warn!(error = %error, "cannot mark published events delivered");
                    }
                    let delay = backoff.map_or(BACKOFF_FIRST, |d| (d * 2).min(BACKOFF_MAX));
                    backoff = Some(delay);
                    self.lock().queued.extend(ids);
                    // Closing cuts the wait short.
                    let _ = tokio::time::timeout(jitter(delay), self.closing.notified()).await;
                }
            }
        }
    }

    /// The relay has stopped: write what is left and end.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.queued.notify_one();
        self.closing.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MarkState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// ±20 %, so instances that failed together do not retry together.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.8..1.2))
}
