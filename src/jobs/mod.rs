//! Job workers: they claim due jobs from the queue (`db::queue`) under a lease, run them, and
//! record the verdict — done, again later with exponential backoff, or `DEAD` after the last
//! attempt. Any number of instances may run them against one database.
//!
//! While a job runs its worker renews the lease; a worker that loses it (it was paused past
//! the lease, and another worker claimed the job) stops the job before recording anything. On
//! shutdown the workers take no new job, let running ones finish until the drain deadline,
//! and give back (release) the leases of any still running then, so those run again at once
//! elsewhere instead of after their lease.

pub mod mailer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use tokio::task::JoinSet;

use self::mailer::{Mail, Mailer};
use crate::background::Stop;
use crate::db::queue::{self, AfterFailure, Claimed};
use crate::db::{self, Db};
use crate::domain::{Job, JobId};
use crate::services::users::{self, User};

/// Jobs one instance runs at once.
const CONCURRENCY: usize = 4;
/// The fallback check when nothing woke the workers.
const IDLE_CHECK: Duration = Duration::from_secs(60);
/// Never look again sooner than this when a due job could not be claimed (another instance
/// holds it).
const MIN_RECHECK: Duration = Duration::from_millis(200);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(600);

pub struct Workers {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    /// How long a claim holds a job without a heartbeat (`JOB_LEASE_SECS`).
    pub lease: Duration,
    /// How long running jobs may take after shutdown begins.
    pub drain: Duration,
}

/// What a running job needs.
struct Context {
    db: Db,
    mailer: Arc<Mailer>,
    lease: Duration,
}

impl Workers {
    pub async fn run(self, mut stop: Stop) {
        let context = Arc::new(Context {
            db: self.db.clone(),
            mailer: self.mailer.clone(),
            lease: self.lease,
        });
        let held: Arc<Mutex<HashMap<JobId, Claimed>>> = Arc::default();
        let mut running: JoinSet<JobId> = JoinSet::new();
        while !stop.is_stopped() {
            while let Some(done) = running.try_join_next() {
                if let Ok(id) = done {
                    held.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id);
                }
            }
            let free = CONCURRENCY - running.len();
            let mut claimed = 0;
            if free > 0 {
                match queue::claim(&self.db, free, self.lease).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let copy = copy_claim(&job);
                            held.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert(job.id, copy);
                            let context = context.clone();
                            running.spawn(async move {
                                let id = job.id;
                                run_one(&context, job).await;
                                id
                            });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "cannot claim jobs");
                        if !stop.sleep(Duration::from_secs(1)).await {
                            break;
                        }
                        continue;
                    }
                }
            }
            if claimed > 0 && running.len() < CONCURRENCY {
                continue;
            }
            let wait = if running.len() < CONCURRENCY {
                self.until_next_due().await
            } else {
                IDLE_CHECK
            };
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Ok(id) = done {
                        held.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                    }
                }
                () = self.db.wake().jobs.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = stop.stopped() => {}
            }
        }
        self.drain(running, held).await;
    }

    /// How long until a job falls due, at most [`IDLE_CHECK`].
    async fn until_next_due(&self) -> Duration {
        match queue::next_due(&self.db).await {
            Ok(Some(due)) => (due - db::now())
                .to_std()
                .unwrap_or_default()
                .clamp(MIN_RECHECK, IDLE_CHECK),
            Ok(None) => IDLE_CHECK,
            Err(error) => {
                tracing::warn!(error = %error, "cannot tell when the next job is due");
                IDLE_CHECK
            }
        }
    }

    /// Lets running jobs finish within the drain deadline, then gives back the rest.
    async fn drain(&self, mut running: JoinSet<JobId>, held: Arc<Mutex<HashMap<JobId, Claimed>>>) {
        if running.is_empty() {
            return;
        }
        // A second is kept for giving leases back before the supervisor's own deadline.
        let budget = self.drain.saturating_sub(Duration::from_secs(1));
        let finished = tokio::time::timeout(budget, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_ok() {
            return;
        }
        running.shutdown().await;
        let unfinished: Vec<Claimed> = held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, job)| job)
            .collect();
        for job in unfinished {
            match queue::release(&self.db, &job).await {
                Ok(()) => tracing::info!(job.id = %job.id, "job given back at shutdown"),
                Err(error) => tracing::warn!(job.id = %job.id, error = %error,
                    "cannot give a job back; it runs again when its lease ends"),
            }
        }
    }
}

fn copy_claim(job: &Claimed) -> Claimed {
    Claimed {
        id: job.id,
        kind: job.kind.clone(),
        job: job.job.clone(),
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        claim: job.claim,
    }
}

/// Runs one job while renewing its lease, then records the verdict.
async fn run_one(context: &Context, job: Claimed) {
    let heartbeat = async {
        loop {
            tokio::time::sleep(context.lease / 3).await;
            match queue::heartbeat(&context.db, &job, context.lease).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => tracing::warn!(job.id = %job.id, error = %error,
                    "cannot renew a job's lease"),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = execute(context, &job) => outcome,
        () = heartbeat => {
            tracing::warn!(job.id = %job.id, "a job's lease was lost; another worker runs it");
            return;
        }
    };
    let recorded = match outcome {
        Ok(()) => queue::complete(&context.db, &job).await.map(|held| {
            if held {
                tracing::info!(job.id = %job.id, job.kind = %job.kind, "job done");
            }
        }),
        Err(error) => {
            let message = format!("{error:#}");
            queue::fail(&context.db, &job, &message, backoff(job.attempts))
                .await
                .map(|after| match after {
                    AfterFailure::Retry(delay) => tracing::info!(job.id = %job.id,
                        job.kind = %job.kind, attempt = job.attempts, retry_in_ms = delay.as_millis(),
                        error = %message, "job failed; it runs again later"),
                    AfterFailure::Dead => tracing::warn!(job.id = %job.id, job.kind = %job.kind,
                        attempts = job.attempts, error = %message,
                        "job failed its last attempt and is kept as DEAD"),
                    AfterFailure::Lost => {}
                })
        }
    };
    if let Err(error) = recorded {
        tracing::warn!(job.id = %job.id, error = %error,
            "cannot record a job's verdict; it runs again when its lease ends");
    }
}

/// About 1 s, 2 s, 4 s … after the first, second, third failure, at most 10 minutes, with
/// ±10 % so that jobs that failed together do not retry together.
fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let delay = (BACKOFF_FIRST * 2_u32.pow(exponent)).min(BACKOFF_MAX);
    delay.mul_f64(rand::rng().random_range(0.9..1.1))
}

async fn execute(context: &Context, job: &Claimed) -> anyhow::Result<()> {
    let kind = job.job.clone().map_err(|why| anyhow::anyhow!(why))?;
    // A whole SMTP conversation must end well inside the lease.
    let send_timeout = (context.lease / 2).min(Duration::from_secs(20));
    match kind {
        Job::WelcomeMail { user_id } | Job::PasswordChangedMail { user_id } => {
            let Some(user) = users::find(context.db.read(), user_id).await? else {
                // Deleted since: there is no one to write to.
                return Ok(());
            };
            let mail = compose(&kind, &user, job.id)?;
            context.mailer.send(mail, send_timeout).await
        }
    }
}

/// The mail a job sends, in plain text and HTML.
fn compose(job: &Job, user: &User, id: JobId) -> anyhow::Result<Mail> {
    let address = user
        .email
        .parse()
        .map_err(|error| anyhow::anyhow!("the user's address cannot receive mail: {error}"))?;
    let to = lettre::message::Mailbox::new(user.name.clone(), address);
    let hello = match &user.name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };
    let (subject, body) = match job {
        Job::WelcomeMail { .. } => (
            "Welcome to the shop",
            "your account is ready: you can sign in with this address from now on.",
        ),
        Job::PasswordChangedMail { .. } => (
            "Your password was changed",
            "the password of your account was just changed, and every session was signed out. \
             If this was not you, reset your password at once.",
        ),
    };
    Ok(Mail {
        to,
        subject: subject.to_owned(),
        text: format!("{hello}\n\n{body}\n"),
        html: format!(
            "<!doctype html><html><body><p>{}</p><p>{}</p></body></html>",
            escape_html(&hello),
            escape_html(body)
        ),
        message_id: format!("<{id}@ecommerce-api>"),
    })
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_ten_minutes() {
        for (attempts, seconds) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (8, 128.0),
            (11, 600.0),
            (40, 600.0),
        ] {
            let delay = backoff(attempts).as_secs_f64();
            assert!(
                (seconds * 0.9..=seconds * 1.1).contains(&delay),
                "attempt {attempts}: {delay}"
            );
        }
    }

    #[test]
    fn names_are_escaped_in_html() {
        assert_eq!(
            escape_html("<b>Ann & \"Bo\"</b>"),
            "&lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;"
        );
    }
}
