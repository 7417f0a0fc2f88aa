//! Background work — the outbox relay, the job workers, the purge — under one supervisor that
//! starts with `serve` and stops with it.
//!
//! Stopping is cooperative: each worker gets a [`Stop`] and, once it fires, takes no new work
//! and lets what it is doing finish, or gives it back (a job's lease). Only work still running
//! at the drain deadline is aborted, and a job's lease makes that safe too: the job runs again.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

/// Tells a worker that shutdown has begun.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop that fires when `stopping` becomes true.
    pub fn new(stopping: watch::Receiver<bool>) -> Self {
        Stop(stopping)
    }

    /// Completes once shutdown has begun (at once if it already has).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps for `duration`; `false` if shutdown began first.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.stopped() => false,
        }
    }
}

/// The background tasks of one server.
pub struct Supervisor {
    tasks: JoinSet<()>,
    stop: Stop,
}

impl Supervisor {
    /// A supervisor whose workers stop when `stopping` becomes true.
    pub fn new(stopping: watch::Receiver<bool>) -> Self {
        Supervisor {
            tasks: JoinSet::new(),
            stop: Stop::new(stopping),
        }
    }

    /// Runs `work` until it returns; it is handed the [`Stop`] to watch.
    pub fn spawn<F>(&mut self, name: &'static str, work: impl FnOnce(Stop) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let work = work(self.stop.clone());
        self.tasks.spawn(async move {
            work.await;
            tracing::debug!(worker = name, "background worker stopped");
        });
    }

    /// Waits for every worker to stop (the caller has begun shutdown), aborting those still
    /// running after `deadline`.
    pub async fn join(mut self, deadline: Duration) {
        let finished = tokio::time::timeout(deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                workers = self.tasks.len(),
                "background work still running at the drain deadline is aborted"
            );
            self.tasks.shutdown().await;
        }
    }
}
