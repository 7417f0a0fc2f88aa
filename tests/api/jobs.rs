//! The job queue and mail (API.md §6): retries with backoff, DEAD and retry, leases across
//! instances, draining on shutdown — with an SMTP sink in the test process.

use std::time::Duration;

use serde_json::json;

use crate::harness::services::{SmtpMode, SmtpSink, eventually};
use crate::harness::{DEFAULT_PASSWORD, TestApp, spawn_app_sharing, spawn_app_with};

const WITHIN: Duration = Duration::from_secs(30);

async fn app_with_smtp(
    sink: &SmtpSink,
    configure: impl FnOnce(&mut ecommerce_api::config::Config),
) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |config| {
        config.smtp_url = Some(url.into());
        config.job_lease = Duration::from_secs(5);
        configure(config);
    })
    .await
}

async fn job_state(app: &TestApp, kind: &str) -> Option<(String, i32)> {
    use sea_orm::ConnectionTrait;
    let row = app
        .db
        .read()
        .query_one_raw(ecommerce_api::db::sql(
            app.db.read(),
            "SELECT status, attempts FROM jobs WHERE kind = $1",
            [kind.into()],
        ))
        .await
        .unwrap()?;
    Some((
        row.try_get("", "status").unwrap(),
        row.try_get("", "attempts").unwrap(),
    ))
}

#[tokio::test]
async fn a_welcome_mail_is_retried_while_smtp_fails_and_arrives_once_it_recovers() {
    let sink = SmtpSink::start(SmtpMode::RefuseTimes(2)).await;
    let app = app_with_smtp(&sink, |_| {}).await;

    let user = app.user().await;

    eventually("the welcome mail is sent", WITHIN, || async {
        job_state(&app, "mail.welcome")
            .await
            .is_some_and(|(s, _)| s == "DONE")
    })
    .await;
    assert_eq!(
        job_state(&app, "mail.welcome").await,
        Some(("DONE".to_owned(), 3)),
        "two refusals, then the third attempt"
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(
        mail.header("Subject").unwrap().contains("Welcome"),
        "{}",
        mail.raw
    );
    assert!(
        mail.header("To").unwrap().contains(&user.email),
        "{}",
        mail.raw
    );
    assert!(mail.header("From").unwrap().contains("no-reply@localhost"));
    assert!(mail.raw.contains("text/plain") && mail.raw.contains("text/html"));
    assert!(
        !mail.raw.contains(DEFAULT_PASSWORD),
        "no password in a mail"
    );
    assert!(!mail.raw.contains("$argon2"));
}

#[tokio::test]
async fn a_job_that_always_fails_is_kept_dead_and_an_admin_can_run_it_again() {
    let sink = SmtpSink::start(SmtpMode::RefuseAll).await;
    let app = app_with_smtp(&sink, |config| config.job_max_attempts = 2).await;
    let admin = app.admin().await;
    app.user().await;

    eventually("the job dies", WITHIN, || async {
        job_state(&app, "mail.welcome")
            .await
            .is_some_and(|(s, _)| s == "DEAD")
    })
    .await;
    let dead = admin.get("/api/v1/admin/jobs?state=DEAD").await;
    dead.assert_status(200);
    let job = &dead.body["data"][0];
    assert_eq!(dead.body["pagination"]["total"], 1);
    assert_eq!(job["kind"], "mail.welcome");
    assert_eq!(
        (job["attempts"].clone(), job["maxAttempts"].clone()),
        (json!(2), json!(2))
    );
    assert!(
        job["lastError"].as_str().unwrap().contains("451"),
        "the last error is kept: {job}"
    );
    sink.set_mode(SmtpMode::Accept);
    let id = job["id"].as_str().unwrap().to_owned();

    let retried = admin
        .post(&format!("/api/v1/admin/jobs/{id}/retry"), &json!({}))
        .await;

    retried.assert_status(200);
    assert_eq!(retried.body["data"]["state"], "PENDING");
    assert_eq!(retried.body["data"]["attempts"], 0);
    eventually("the retried job is done", WITHIN, || async {
        job_state(&app, "mail.welcome")
            .await
            .is_some_and(|(s, _)| s == "DONE")
    })
    .await;
    assert_eq!(sink.mails().len(), 1);
    admin
        .post(&format!("/api/v1/admin/jobs/{id}/retry"), &json!({}))
        .await
        .assert_error(409, "INVALID_STATUS_TRANSITION");
    admin
        .post(
            &format!("/api/v1/admin/jobs/{}/retry", uuid::Uuid::now_v7()),
            &json!({}),
        )
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn only_admins_see_and_retry_jobs_and_filters_are_checked() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.user().await;
    let admin = app.admin().await;

    user.get("/api/v1/admin/jobs")
        .await
        .assert_error(403, "FORBIDDEN");
    user.post(
        &format!("/api/v1/admin/jobs/{}/retry", uuid::Uuid::now_v7()),
        &json!({}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.anonymous()
        .get("/api/v1/admin/jobs")
        .await
        .assert_error(401, "UNAUTHORIZED");
    let bad = admin
        .get("/api/v1/admin/jobs?state=FAILED&kind=mail.x")
        .await;
    bad.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(bad.error_fields(), ["state", "kind"]);
    let listed = admin.get("/api/v1/admin/jobs?kind=mail.welcome").await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["pagination"]["total"], 1,
        "the user's welcome mail"
    );
}

#[tokio::test]
async fn a_password_change_sends_its_mail() {
    let sink = SmtpSink::start(SmtpMode::Accept).await;
    let app = app_with_smtp(&sink, |_| {}).await;
    let user = app.user().await;

    user.put(
        "/api/v1/users/me/password",
        &json!({"currentPassword": DEFAULT_PASSWORD, "newPassword": "a new password!"}),
    )
    .await
    .assert_status(204);

    eventually("both mails are sent", WITHIN, || async {
        sink.mails().len() == 2
    })
    .await;
    let subjects: Vec<String> = sink
        .mails()
        .iter()
        .filter_map(|mail| mail.header("Subject"))
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("password was changed")),
        "{subjects:?}"
    );
    assert!(
        sink.mails()
            .iter()
            .all(|mail| !mail.raw.contains("a new password!"))
    );
}

#[tokio::test]
async fn two_instances_on_one_database_run_every_job_once_and_never_one_twice_at_once() {
    let sink = SmtpSink::start(SmtpMode::Slow(Duration::from_millis(50))).await;
    let first = app_with_smtp(&sink, |_| {}).await;
    let url = sink.url();
    let second = spawn_app_sharing(&first, move |config| {
        config.smtp_url = Some(url.into());
        config.job_lease = Duration::from_secs(5);
    })
    .await;

    for i in 0..24 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.anonymous()
            .register(&format!("user{i}@example.com"), DEFAULT_PASSWORD)
            .await
            .assert_status(201);
    }

    eventually("every welcome mail is sent", WITHIN, || async {
        first
            .count("SELECT COUNT(*) FROM jobs WHERE status = 'DONE'", [])
            .await
            == 24
    })
    .await;
    let mut ids: Vec<String> = sink
        .mails()
        .iter()
        .map(|mail| mail.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 24, "one mail per job");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24, "no job ran twice");
    assert_eq!(sink.overlaps(), 0, "no job ran in two places at once");
}

#[tokio::test]
async fn shutdown_lets_a_running_job_finish() {
    let sink = SmtpSink::start(SmtpMode::Slow(Duration::from_millis(800))).await;
    let mut app = app_with_smtp(&sink, |_| {}).await;
    app.user().await;
    eventually("the job is running", WITHIN, || async {
        job_state(&app, "mail.welcome")
            .await
            .is_some_and(|(s, _)| s == "RUNNING")
    })
    .await;

    app.stop().await;

    assert_eq!(
        job_state(&app, "mail.welcome").await,
        Some(("DONE".to_owned(), 1))
    );
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn a_job_still_running_at_the_drain_deadline_is_given_back_not_lost() {
    let sink = SmtpSink::start(SmtpMode::Hang).await;
    let mut app = app_with_smtp(&sink, |config| {
        config.job_lease = Duration::from_secs(60);
        config.connections.drain = Duration::from_secs(2);
    })
    .await;
    app.user().await;
    eventually("the job is running", WITHIN, || async {
        job_state(&app, "mail.welcome")
            .await
            .is_some_and(|(s, _)| s == "RUNNING")
    })
    .await;

    app.stop().await;

    assert_eq!(
        job_state(&app, "mail.welcome").await,
        Some(("PENDING".to_owned(), 0)),
        "given back, its unfinished attempt not counted"
    );
}
