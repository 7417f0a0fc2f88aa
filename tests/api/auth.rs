//! `/api/v1/auth`: registration, login, lockout, refresh-token rotation, logout, and what
//! counts as a valid access token.

use futures::future::join_all;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

use crate::harness::{DEFAULT_PASSWORD, TestApp, id_value, spawn_app, spawn_app_with};

const SECRET: &str = "a test secret that is at least 32 bytes long";

async fn spawn_app_with_secret() -> TestApp {
    spawn_app_with(|config| config.jwt_secret = SecretString::from(SECRET)).await
}

#[tokio::test]
async fn registering_creates_a_user_whatever_role_is_sent_and_queues_a_welcome_mail() {
    let app = spawn_app().await;

    let response = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "  Ann.Lee@Example.COM ", "password": DEFAULT_PASSWORD,
                    "name": "Ann", "role": "ADMIN", "id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;

    response.assert_status(201);
    let user = &response.body["data"];
    assert_eq!(response.body["success"], true);
    assert!(response.body["message"].is_string());
    assert_eq!(user["email"], "ann.lee@example.com");
    assert_eq!(user["name"], "Ann");
    assert_eq!(user["role"], "USER");
    assert_eq!(user["profile"], serde_json::Value::Null);
    assert_ne!(user["id"], "00000000-0000-0000-0000-000000000000");
    assert!(user.get("password").is_none());
    let id = id_value(user["id"].as_str().unwrap());
    let stored: String = app
        .scalar(
            "SELECT password_hash FROM users WHERE id = $1",
            [id.clone()],
        )
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        app.scalar::<String>("SELECT role FROM users WHERE id = $1", [id])
            .await
            .as_deref(),
        Some("USER")
    );
    let welcome = app
        .count("SELECT COUNT(*) FROM jobs WHERE kind = 'mail.welcome'", [])
        .await;
    assert_eq!(welcome, 1);
}

#[tokio::test]
async fn registration_names_every_failing_field_at_once() {
    let app = spawn_app().await;

    let response = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": "not-an-email", "password": "short", "avatar": "javascript:alert(1)"}),
        )
        .await;

    response.assert_error(400, "VALIDATION_ERROR");
    let fields = response.error_fields();
    assert_eq!(fields, ["email", "password", "avatar"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", []).await, 0);
}

#[tokio::test]
async fn a_missing_field_a_wrong_type_or_malformed_json_is_a_400() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();

    let missing = anonymous
        .post("/api/v1/auth/register", &json!({"email": "a@example.com"}))
        .await;
    let wrong_type = anonymous
        .post(
            "/api/v1/auth/register",
            &json!({"email": "a@example.com", "password": 12345678}),
        )
        .await;
    let malformed = app
        .send(
            app.request(Method::POST, "/api/v1/auth/login")
                .header("content-type", "application/json")
                .body("{\"email\": "),
        )
        .await;
    let form = app
        .send(
            app.request(Method::POST, "/api/v1/auth/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=a"),
        )
        .await;

    missing.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(missing.body["error"]["details"][0]["field"], "password");
    wrong_type.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(wrong_type.body["error"]["details"][0]["field"], "password");
    malformed.assert_error(400, "VALIDATION_ERROR");
    form.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn registering_a_taken_email_is_a_409_and_creates_no_second_user() {
    let app = spawn_app().await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);

    let response = app
        .anonymous()
        .register(" ANN@example.com", "another password")
        .await;

    response.assert_error(409, "CONFLICT");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE email = $1",
            ["ann@example.com".into()]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_email_create_exactly_one_user() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();

    let responses =
        join_all((0..20).map(|_| anonymous.register("race@example.com", DEFAULT_PASSWORD))).await;

    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [[201].as_slice(), &[409; 19]].concat());
    for conflict in responses.iter().filter(|r| r.status == 409) {
        conflict.assert_error(409, "CONFLICT");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users", []).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs", []).await, 1);
}

#[tokio::test]
async fn login_returns_the_user_an_access_token_and_a_refresh_token() {
    let app = spawn_app().await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);

    let response = app
        .anonymous()
        .login(" Ann@Example.com", DEFAULT_PASSWORD)
        .await;

    response.assert_status(200);
    let data = &response.body["data"];
    assert_eq!(data["user"]["email"], "ann@example.com");
    assert_eq!(data["expiresIn"], 900);
    assert_eq!(
        data["token"].as_str().unwrap().split('.').count(),
        3,
        "a JWT"
    );
    assert_eq!(data["refreshToken"].as_str().unwrap().len(), 43);
    let me = app
        .with_token(data["token"].as_str().unwrap())
        .get("/api/v1/users/me")
        .await;
    me.assert_status(200);
    assert_eq!(me.body["data"]["email"], "ann@example.com");
    let stored = app
        .count(
            "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1",
            [data["refreshToken"].as_str().unwrap().into()],
        )
        .await;
    assert_eq!(stored, 0, "only the token's hash is stored");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM refresh_tokens", []).await,
        1
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);

    let wrong_password = app
        .anonymous()
        .login("ann@example.com", "not the password")
        .await;
    let unknown_email = app
        .anonymous()
        .login("bob@example.com", DEFAULT_PASSWORD)
        .await;
    let malformed_email = app
        .anonymous()
        .login("not an email", DEFAULT_PASSWORD)
        .await;

    wrong_password.assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(unknown_email.body, wrong_password.body);
    assert_eq!(malformed_email.body, wrong_password.body);
    assert_eq!(unknown_email.status, wrong_password.status);
}

#[tokio::test]
async fn an_email_is_locked_after_too_many_attempts_even_for_the_right_password() {
    let app = spawn_app_with(|config| config.login_max_failures = 3).await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    for _ in 0..3 {
        app.anonymous()
            .login("ann@example.com", "wrong password")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }

    let locked = app
        .anonymous()
        .login("ann@example.com", DEFAULT_PASSWORD)
        .await;

    locked.assert_error(429, "ACCOUNT_LOCKED");
    let retry_after: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // Another email is not affected.
    app.anonymous()
        .register("bob@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    app.anonymous()
        .login("bob@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn the_lock_ends_with_its_window_and_a_success_clears_the_count() {
    let app = spawn_app_with(|config| config.login_max_failures = 2).await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    for _ in 0..2 {
        app.anonymous()
            .login("ann@example.com", "wrong password")
            .await;
    }
    app.anonymous()
        .login("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");

    // The window started 901 s ago: it has passed.
    let long_ago = chrono::Utc::now() - chrono::Duration::seconds(901);
    app.execute(
        "UPDATE attempt_budgets SET window_started_at = $1",
        [long_ago.into()],
    )
    .await;
    app.anonymous()
        .login("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(200);

    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM attempt_budgets WHERE failures > 0",
            []
        )
        .await,
        0
    );
    app.anonymous()
        .login("ann@example.com", "wrong password")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn concurrent_guesses_get_exactly_the_allowed_number_of_verdicts() {
    let app = spawn_app_with(|config| config.login_max_failures = 5).await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    let anonymous = app.anonymous();

    let responses = join_all((0..20).map(|i| {
        let anonymous = anonymous.clone();
        async move {
            anonymous
                .login("ann@example.com", &format!("guess {i}"))
                .await
        }
    }))
    .await;

    let verdicts = responses.iter().filter(|r| r.status == 401).count();
    let locked = responses.iter().filter(|r| r.status == 429).count();
    assert_eq!((verdicts, locked), (5, 15));
    assert_eq!(
        app.scalar::<i32>("SELECT failures FROM attempt_budgets", [])
            .await,
        Some(5)
    );
}

#[tokio::test]
async fn fifty_concurrent_correct_logins_all_succeed_though_the_budget_is_five() {
    let app = spawn_app_with(|config| config.login_max_failures = 5).await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    let anonymous = app.anonymous();

    let responses = join_all((0..50).map(|_| {
        let anonymous = anonymous.clone();
        async move { anonymous.login("ann@example.com", DEFAULT_PASSWORD).await }
    }))
    .await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = (SELECT id FROM users)",
            []
        )
        .await,
        50
    );
}

#[tokio::test]
async fn concurrent_guesses_and_correct_logins_never_exceed_the_budget_of_verdicts() {
    let app = spawn_app_with(|config| config.login_max_failures = 5).await;
    app.anonymous()
        .register("ann@example.com", DEFAULT_PASSWORD)
        .await
        .assert_status(201);
    let anonymous = app.anonymous();

    let responses = join_all((0..30).map(|i| {
        let anonymous = anonymous.clone();
        async move {
            let password = if i % 3 == 0 {
                DEFAULT_PASSWORD.to_owned()
            } else {
                format!("guess {i}")
            };
            (
                i % 3 == 0,
                anonymous.login("ann@example.com", &password).await,
            )
        }
    }))
    .await;

    for (correct, response) in &responses {
        let status = response.status.as_u16();
        if *correct {
            assert!(matches!(status, 200 | 429), "a correct login got {status}");
        } else {
            assert!(matches!(status, 401 | 429), "a guess got {status}");
        }
    }
    // A correct password clears the count, so guesses after it start afresh; but between two
    // successes no more than the budget of guesses is ever judged.
    let successes = responses.iter().filter(|(_, r)| r.status == 200).count();
    let verdicts = responses.iter().filter(|(_, r)| r.status == 401).count();
    assert!(
        verdicts <= 5 * (successes + 1),
        "{verdicts} guesses judged, {successes} successes"
    );
    let failures = app
        .scalar::<i32>("SELECT failures FROM attempt_budgets", [])
        .await
        .unwrap_or(0);
    assert!((0..=5).contains(&failures), "{failures}");
}

#[tokio::test]
async fn a_user_imported_with_a_bcrypt_hash_logs_in_and_is_rehashed_with_argon2id() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let legacy = bcrypt::hash("from the node app", 4).unwrap();
    app.execute(
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
         VALUES ($1, 'old@example.com', $2, 'USER', $3, $3)",
        [uuid::Uuid::now_v7().into(), legacy.into(), now.into()],
    )
    .await;

    app.anonymous()
        .login("old@example.com", "from the node app")
        .await
        .assert_status(200);

    let stored: String = app
        .scalar(
            "SELECT password_hash FROM users WHERE email = 'old@example.com'",
            [],
        )
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.anonymous()
        .login("old@example.com", "from the node app")
        .await
        .assert_status(200);
    app.anonymous()
        .login("old@example.com", "wrong")
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
}

async fn refresh(app: &TestApp, token: &str) -> crate::harness::TestResponse {
    app.anonymous()
        .post("/api/v1/auth/refresh", &json!({ "refreshToken": token }))
        .await
}

#[tokio::test]
async fn a_refresh_token_rotates_and_works_once() {
    let app = spawn_app().await;
    let user = app.user().await;

    let first = refresh(&app, &user.refresh_token).await;
    first.assert_status(200);
    let next = first.body["data"]["refreshToken"].as_str().unwrap();
    let access = first.body["data"]["token"].as_str().unwrap();
    assert_ne!(next, user.refresh_token);
    assert_eq!(first.body["data"]["expiresIn"], 900);
    app.with_token(access)
        .get("/api/v1/users/me")
        .await
        .assert_status(200);

    refresh(&app, next).await.assert_status(200);
    refresh(&app, "not-a-token")
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn presenting_a_rotated_token_again_revokes_the_whole_login_but_not_other_logins() {
    let app = spawn_app().await;
    let user = app.user().await;
    let other_login = app.login(&user.email, DEFAULT_PASSWORD).await;
    let rotated = refresh(&app, &user.refresh_token).await;
    rotated.assert_status(200);
    let descendant = rotated.body["data"]["refreshToken"].as_str().unwrap();

    let reuse = refresh(&app, &user.refresh_token).await;

    reuse.assert_error(401, "UNAUTHORIZED");
    refresh(&app, descendant)
        .await
        .assert_error(401, "UNAUTHORIZED");
    refresh(&app, &other_login.refresh_token)
        .await
        .assert_status(200);
    let live = app
        .count(
            "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL",
            [],
        )
        .await;
    assert_eq!(live, 1, "only the other login's new token is usable");
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_give_exactly_one_success() {
    let app = spawn_app().await;
    let user = app.user().await;

    let responses = join_all((0..10).map(|_| refresh(&app, &user.refresh_token))).await;

    let successes = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(successes, 1);
    for failure in responses.iter().filter(|r| r.status != 200) {
        failure.assert_error(401, "UNAUTHORIZED");
    }
    let issued = app
        .count(
            "SELECT COUNT(*) FROM refresh_tokens WHERE rotated_at IS NULL",
            [],
        )
        .await;
    assert_eq!(issued, 1, "one rotation, one new token");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_is_idempotent() {
    let app = spawn_app().await;
    let user = app.user().await;

    let response = app
        .anonymous()
        .post(
            "/api/v1/auth/logout",
            &json!({ "refreshToken": user.refresh_token }),
        )
        .await;

    response.assert_status(204);
    assert!(response.text.is_empty());
    refresh(&app, &user.refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
    for token in [user.refresh_token.as_str(), "never-issued"] {
        app.anonymous()
            .post("/api/v1/auth/logout", &json!({ "refreshToken": token }))
            .await
            .assert_status(204);
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    let user = app.user().await;
    app.execute(
        "UPDATE refresh_tokens SET expires_at = $1",
        [(chrono::Utc::now() - chrono::Duration::seconds(1)).into()],
    )
    .await;

    refresh(&app, &user.refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn tampered_unsigned_foreign_and_expired_tokens_are_401() {
    let app = spawn_app_with_secret().await;
    let user = app.user().await;
    let token = user.token.clone().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, exp: i64, role: &str| {
        json!({"sub": user.id, "role": role, "iat": iat, "exp": exp,
               "jti": uuid::Uuid::now_v7()})
    };

    let (header, _, signature) = {
        let mut parts = token.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&claims(now, now + 900, "ADMIN"))
    );
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(now, now + 900, "USER"))
    );
    let foreign = sign(
        &claims(now, now + 900, "USER"),
        "another secret of at least 32 bytes!!",
    );
    let expired = sign(&claims(now - 1000, now - 10, "USER"), SECRET);
    let valid = sign(&claims(now, now + 60, "USER"), SECRET);

    for (name, token) in [
        ("tampered", tampered.as_str()),
        ("alg none", unsigned.as_str()),
        ("foreign secret", foreign.as_str()),
        ("expired", expired.as_str()),
        ("garbage", "abc.def.ghi"),
    ] {
        let response = app.with_token(token).get("/api/v1/users/me").await;
        assert_eq!(response.status, 401, "{name}");
        response.assert_error(401, "UNAUTHORIZED");
        assert_eq!(
            response.header("www-authenticate").as_deref(),
            Some("Bearer")
        );
    }
    app.with_token(&valid)
        .get("/api/v1/users/me")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_missing_or_malformed_authorization_header_is_401() {
    let app = spawn_app().await;

    let missing = app.anonymous().get("/api/v1/users/me").await;
    let basic = app
        .send(
            app.request(Method::GET, "/api/v1/users/me")
                .header("authorization", "Basic YTpi"),
        )
        .await;
    let empty = app
        .send(
            app.request(Method::GET, "/api/v1/users/me")
                .header("authorization", "Bearer "),
        )
        .await;

    missing.assert_error(401, "UNAUTHORIZED");
    basic.assert_error(401, "UNAUTHORIZED");
    empty.assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_token_outlives_nothing_once_its_user_is_deleted() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    user.get("/api/v1/users/me").await.assert_status(200);

    admin
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_status(200);

    user.get("/api/v1/users/me")
        .await
        .assert_error(401, "UNAUTHORIZED");
    refresh(&app, &user.refresh_token)
        .await
        .assert_error(401, "UNAUTHORIZED");
}
