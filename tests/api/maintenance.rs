//! The periodic purge: expired rows go, live ones stay.

use ecommerce_api::services::maintenance::{Purged, purge_expired};
use serde_json::json;

use crate::harness::{id_value, spawn_app};

#[tokio::test]
async fn purging_removes_only_what_has_expired() {
    let app = spawn_app().await;
    let user = app.user().await;
    let now = chrono::Utc::now();
    let long_ago = now - chrono::Duration::days(30);
    for (email, at) in [("old@example.com", long_ago), ("new@example.com", now)] {
        app.execute(
            "INSERT INTO attempt_budgets (scope, subject, failures, window_started_at, in_flight) \
             VALUES ('login', $1, 1, $2, 0)",
            [email.into(), at.into()],
        )
        .await;
    }
    for (key, at) in [("old-key", long_ago), ("new-key", now)] {
        app.execute(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) \
             VALUES ($1, $2, 'h', $3)",
            [id_value(&user.id), key.into(), at.into()],
        )
        .await;
    }
    // The login's token is live; a second login's token is made to have expired.
    let second = app
        .login(&user.email, crate::harness::DEFAULT_PASSWORD)
        .await;
    app.execute(
        "UPDATE refresh_tokens SET expires_at = $1 WHERE id = \
         (SELECT id FROM refresh_tokens ORDER BY created_at DESC LIMIT 1)",
        [long_ago.into()],
    )
    .await;

    let purged = purge_expired(&app.state.db, &app.state.auth.lockout)
        .await
        .unwrap();

    assert_eq!(
        purged,
        Purged {
            attempt_budgets: 1,
            idempotency_keys: 1,
            refresh_tokens: 1,
            delivered_events: 0,
            done_jobs: 0,
        }
    );
    assert_eq!(
        app.scalar::<String>("SELECT subject FROM attempt_budgets", [])
            .await
            .as_deref(),
        Some("new@example.com")
    );
    assert_eq!(
        app.scalar::<String>("SELECT key FROM idempotency_keys", [])
            .await
            .as_deref(),
        Some("new-key")
    );
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({ "refreshToken": user.refresh_token }),
        )
        .await
        .assert_status(200);
    app.anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({ "refreshToken": second.refresh_token }),
        )
        .await
        .assert_error(401, "UNAUTHORIZED");
}
