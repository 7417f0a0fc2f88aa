//! `/api/v1/users`: the caller's account, password changes, and administration, with the
//! object-level rules (a user sees only themselves).

use ecommerce_api::domain::Role;
use serde_json::{Value, json};

use crate::harness::{DEFAULT_PASSWORD, TestApp, id_value, spawn_app};

#[tokio::test]
async fn me_is_the_caller_without_any_secret() {
    let app = spawn_app().await;
    let user = app.user().await;

    let response = user.get("/api/v1/users/me").await;

    response.assert_status(200);
    let me = &response.body["data"];
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["role"], "USER");
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "avatar",
            "createdAt",
            "email",
            "id",
            "name",
            "profile",
            "role",
            "updatedAt"
        ]
    );
}

#[tokio::test]
async fn updating_me_changes_only_what_is_sent_and_ignores_email_role_and_id() {
    let app = spawn_app().await;
    let user = app.user().await;

    let first = user
        .put(
            "/api/v1/users/me",
            &json!({"name": " Ann Lee ", "avatar": "https://cdn.example.com/ann.png",
                    "email": "evil@example.com", "role": "ADMIN", "id": "x",
                    "profile": {"bio": "Hi", "location": "Oslo", "dateOfBirth": "1990-02-03"}}),
        )
        .await;
    let second = user
        .put(
            "/api/v1/users/me",
            &json!({"avatar": null, "profile": {"bio": "Hello", "website": "https://ann.example"}}),
        )
        .await;

    first.assert_status(200);
    second.assert_status(200);
    let me = &second.body["data"];
    assert_eq!(me["name"], "Ann Lee", "kept");
    assert_eq!(me["avatar"], Value::Null, "cleared");
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["role"], "USER");
    assert_eq!(
        me["profile"],
        json!({"bio": "Hello", "website": "https://ann.example/", "location": "Oslo",
               "dateOfBirth": "1990-02-03"}),
        "links are stored in normal form"
    );
    let id = id_value(&user.id);
    assert_eq!(
        app.scalar::<String>("SELECT role FROM users WHERE id = $1", [id.clone()])
            .await
            .as_deref(),
        Some("USER")
    );
    assert_eq!(
        app.scalar::<String>(
            "SELECT location FROM user_profiles WHERE user_id = $1",
            [id]
        )
        .await
        .as_deref(),
        Some("Oslo")
    );
    assert_eq!(user.get("/api/v1/users/me").await.body["data"], *me);
}

#[tokio::test]
async fn a_null_profile_removes_it() {
    let app = spawn_app().await;
    let user = app.user().await;
    user.put("/api/v1/users/me", &json!({"profile": {"bio": "Hi"}}))
        .await
        .assert_status(200);

    let response = user
        .put("/api/v1/users/me", &json!({"profile": null}))
        .await;

    response.assert_status(200);
    assert_eq!(response.body["data"]["profile"], Value::Null);
    assert_eq!(app.count("SELECT COUNT(*) FROM user_profiles", []).await, 0);
}

#[tokio::test]
async fn invalid_profile_fields_are_all_named_and_nothing_changes() {
    let app = spawn_app().await;
    let user = app.user().await;

    let response = user
        .put(
            "/api/v1/users/me",
            &json!({"name": "x".repeat(101),
                    "profile": {"website": "ftp://files.example", "dateOfBirth": "2999-01-01"}}),
        )
        .await;

    response.assert_error(400, "VALIDATION_ERROR");
    let fields = response.error_fields();
    assert_eq!(fields, ["name", "profile.website", "profile.dateOfBirth"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM user_profiles", []).await, 0);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_session() {
    let app = spawn_app().await;
    let user = app.user().await;
    let other_session = app.login(&user.email, DEFAULT_PASSWORD).await;

    let wrong = user
        .put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": "not it", "newPassword": "a brand new password"}),
        )
        .await;
    let too_short = user
        .put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": DEFAULT_PASSWORD, "newPassword": "short"}),
        )
        .await;
    let changed = user
        .put(
            "/api/v1/users/me/password",
            &json!({"currentPassword": DEFAULT_PASSWORD, "newPassword": "a brand new password"}),
        )
        .await;

    wrong.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        wrong.body["error"]["details"][0]["field"],
        "currentPassword"
    );
    too_short.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        too_short.body["error"]["details"][0]["field"],
        "newPassword"
    );
    changed.assert_status(204);
    for token in [&user.refresh_token, &other_session.refresh_token] {
        app.anonymous()
            .post("/api/v1/auth/refresh", &json!({ "refreshToken": token }))
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    app.anonymous()
        .login(&user.email, DEFAULT_PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    app.login(&user.email, "a brand new password").await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.password_changed'",
            []
        )
        .await,
        1
    );
}

async fn register_named(app: &TestApp, email: &str, name: &str) -> String {
    let response = app
        .anonymous()
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": DEFAULT_PASSWORD, "name": name}),
        )
        .await;
    response.assert_status(201);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

fn emails(response: &crate::harness::TestResponse) -> Vec<&str> {
    response.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn admins_list_users_newest_first_with_search_role_dates_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    register_named(&app, "ann@example.com", "Ann Lee").await;
    let bob = register_named(&app, "bob@shop.example", "Bob 100%").await;
    register_named(&app, "carl@example.com", "Carl").await;
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    app.execute(
        "UPDATE users SET created_at = $1 WHERE id = $2",
        [old.into(), id_value(&bob)],
    )
    .await;

    let all = admin.get("/api/v1/users?limit=2").await;
    let page_two = admin.get("/api/v1/users?limit=2&page=2").await;
    let search = admin.get("/api/v1/users?search=LEE").await;
    let by_email = admin.get("/api/v1/users?search=shop.example").await;
    let literal_percent = admin.get("/api/v1/users?search=100%25").await;
    let short = admin.get("/api/v1/users?search=Bo").await;
    let quoted = admin.get("/api/v1/users?search=%22Lee%22%20OR%20*").await;
    let admins = admin.get("/api/v1/users?role=ADMIN").await;
    let recent = admin
        .get(&format!(
            "/api/v1/users?createdAfter={}",
            (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d")
        ))
        .await;
    let older = admin
        .get(&format!(
            "/api/v1/users?createdBefore={}",
            (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%d")
        ))
        .await;

    all.assert_status(200);
    assert_eq!(emails(&all), ["carl@example.com", "ann@example.com"]);
    assert_eq!(
        all.body["pagination"],
        json!({"page": 1, "limit": 2, "total": 4, "totalPages": 2})
    );
    assert_eq!(
        emails(&page_two),
        [admin.email.as_str(), "bob@shop.example"]
    );
    assert_eq!(emails(&search), ["ann@example.com"]);
    assert_eq!(emails(&by_email), ["bob@shop.example"]);
    assert_eq!(emails(&literal_percent), ["bob@shop.example"]);
    assert_eq!(
        emails(&short),
        ["bob@shop.example"],
        "two letters: no trigram, still found"
    );
    quoted.assert_status(200);
    assert!(emails(&quoted).is_empty(), "quotes and operators are text");
    assert_eq!(emails(&admins), [admin.email.as_str()]);
    assert_eq!(recent.body["pagination"]["total"], 3);
    assert_eq!(emails(&older), ["bob@shop.example"]);
}

#[tokio::test]
async fn a_search_pages_through_every_match_once_with_its_total_on_each_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    register_named(&app, "other@example.com", "Someone Else").await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(
            register_named(
                &app,
                &format!("q{n}@example.com"),
                &format!("Quinn Rossi {n}"),
            )
            .await,
        );
    }
    // Four share one registration time, so only the id orders them.
    let tied = chrono::Utc::now() - chrono::Duration::hours(1);
    for id in &ids[..4] {
        app.execute(
            "UPDATE users SET created_at = $1 WHERE id = $2",
            [tied.into(), id_value(id)],
        )
        .await;
    }

    let mut seen = Vec::new();
    for page in 1..=4 {
        let response = admin
            .get(&format!(
                "/api/v1/users?search=quinn+rossi&limit=3&page={page}"
            ))
            .await;
        response.assert_status(200);
        assert_eq!(
            response.body["pagination"],
            json!({"page": page, "limit": 3, "total": 7, "totalPages": 3}),
            "page {page}"
        );
        seen.extend(emails(&response).into_iter().map(str::to_owned));
    }
    let beyond = admin.get("/api/v1/users?limit=2&page=50").await;

    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 7, "each match once: {seen:?}");
    assert_eq!(
        &seen[3..],
        [
            "q3@example.com",
            "q2@example.com",
            "q1@example.com",
            "q0@example.com"
        ],
        "the tied registrations come last, newest id first"
    );
    beyond.assert_status(200);
    assert!(emails(&beyond).is_empty());
    assert_eq!(
        beyond.body["pagination"]["total"], 9,
        "past the end, still the total"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_400_and_only_admins_may_list() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;

    let too_many = admin.get("/api/v1/users?limit=101").await;
    let bad = admin
        .get("/api/v1/users?page=0&role=ROOT&createdAfter=yesterday")
        .await;

    too_many.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(too_many.body["error"]["details"][0]["field"], "limit");
    bad.assert_error(400, "VALIDATION_ERROR");
    let fields = bad.error_fields();
    assert_eq!(fields, ["role", "createdAfter", "page"]);
    for path in ["/api/v1/users", "/api/v1/users/stats"] {
        user.get(path).await.assert_error(403, "FORBIDDEN");
        app.anonymous()
            .get(path)
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn stats_count_live_users_new_ones_and_the_active() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let poster = register_named(&app, "poster@example.com", "P").await;
    let commenter = register_named(&app, "commenter@example.com", "C").await;
    let buyer = register_named(&app, "buyer@example.com", "B").await;
    let idle = register_named(&app, "idle@example.com", "I").await;
    let now = chrono::Utc::now();
    let long_ago = now - chrono::Duration::days(60);
    app.execute(
        "UPDATE users SET created_at = $1 WHERE id = $2",
        [long_ago.into(), id_value(&idle)],
    )
    .await;
    let post = uuid::Uuid::now_v7();
    app.execute(
        "INSERT INTO posts (id, slug, title, content, published, author_id, created_at, updated_at) \
         VALUES ($1, 'p', 'P', 'text', true, $2, $3, $3)",
        [post.into(), id_value(&poster), now.into()],
    )
    .await;
    app.execute(
        "INSERT INTO comments (id, post_id, author_id, content, created_at, updated_at) \
         VALUES ($1, $2, $3, 'nice', $4, $4)",
        [
            uuid::Uuid::now_v7().into(),
            post.into(),
            id_value(&commenter),
            now.into(),
        ],
    )
    .await;
    app.execute(
        "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
         VALUES ($1, $2, 'PENDING', 0, $3, $3)",
        [uuid::Uuid::now_v7().into(), id_value(&buyer), now.into()],
    )
    .await;
    // The idle user's old post does not make them active.
    app.execute(
        "INSERT INTO posts (id, slug, title, content, published, author_id, created_at, updated_at) \
         VALUES ($1, 'old', 'Old', 'text', true, $2, $3, $3)",
        [uuid::Uuid::now_v7().into(), id_value(&idle), long_ago.into()],
    )
    .await;

    let response = admin.get("/api/v1/users/stats").await;

    response.assert_status(200);
    let stats = &response.body["data"];
    assert_eq!(stats["total"], 5);
    assert_eq!(stats["activeUsers"], 3);
    assert_eq!(
        stats["newThisMonth"], 4,
        "the idle user registered 60 days ago"
    );
}

#[tokio::test]
async fn stats_follow_deletions_and_concurrent_registrations() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let writer = app.user().await;
    let buyer = app.user().await;
    let commenter = app.user().await;
    app.execute(
        "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
         VALUES ($1, $2, 'PENDING', 0, $3, $3)",
        [
            uuid::Uuid::now_v7().into(),
            id_value(&buyer.id),
            chrono::Utc::now().into(),
        ],
    )
    .await;
    let post = writer
        .post(
            "/api/v1/posts",
            &json!({"title": "Short lived", "content": "Soon gone.", "published": true}),
        )
        .await;
    post.assert_status(201);
    let slug = post.body["data"]["slug"].as_str().unwrap();
    commenter
        .post(
            &format!("/api/v1/posts/{slug}/comments"),
            &json!({"content": "First!"}),
        )
        .await
        .assert_status(201);
    // The post goes, and its comment with it; both authors were active all the same.
    writer
        .delete(&format!("/api/v1/posts/{slug}"))
        .await
        .assert_status(200);
    let stats = |expected_total: u64, expected_active: u64, why: &'static str| {
        let admin = &admin;
        async move {
            let response = admin.get("/api/v1/users/stats").await;
            response.assert_status(200);
            assert_eq!(response.body["data"]["total"], expected_total, "{why}");
            assert_eq!(
                response.body["data"]["activeUsers"], expected_active,
                "{why}"
            );
        }
    };
    stats(4, 3, "the admin, the writer, the buyer and the commenter").await;

    // The buyer has an order, so the account is anonymised; the commenter's is removed.
    admin
        .delete(&format!("/api/v1/users/{}", buyer.id))
        .await
        .assert_status(200);
    stats(3, 2, "an anonymised user is neither counted nor active").await;
    admin
        .delete(&format!("/api/v1/users/{}", commenter.id))
        .await
        .assert_status(200);
    stats(2, 1, "a deleted user is neither counted nor active").await;

    let anonymous = app.anonymous();
    let emails: Vec<String> = (0..12).map(|n| format!("crowd-{n}@example.com")).collect();
    let registrations = futures::future::join_all(
        emails
            .iter()
            .map(|email| anonymous.register(email, DEFAULT_PASSWORD)),
    )
    .await;
    for response in &registrations {
        response.assert_status(201);
    }
    stats(14, 1, "twelve concurrent registrations count twelve").await;
    assert_eq!(
        app.count("SELECT n FROM user_count", []).await,
        app.count("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL", [])
            .await,
        "the kept count is the count"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM user_activity WHERE user_id = $1",
            [id_value(&writer.id)]
        )
        .await,
        1,
        "only the writer's activity is left"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM user_activity", []).await, 1);
}

#[tokio::test]
async fn the_active_window_is_today_and_the_29_days_before() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let inside = app.user().await;
    let outside = app.user().await;
    for (buyer, days) in [(&inside, 29), (&outside, 30)] {
        let at = chrono::Utc::now() - chrono::Duration::days(days);
        app.execute(
            "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
             VALUES ($1, $2, 'DELIVERED', 0, $3, $3)",
            [uuid::Uuid::now_v7().into(), id_value(&buyer.id), at.into()],
        )
        .await;
    }

    let response = admin.get("/api/v1/users/stats").await;

    response.assert_status(200);
    assert_eq!(
        response.body["data"]["activeUsers"], 1,
        "29 days ago is in the window, 30 days ago is not"
    );
}

#[tokio::test]
async fn active_users_stay_exact_under_concurrent_activity_across_days() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = admin.create_product(json!({"inStock": 1000})).await;
    let mut buyers = Vec::new();
    for _ in 0..12 {
        buyers.push(app.user().await);
    }
    // A third were last active 10 days ago, a third 40 days ago (outside the window), a
    // third never: the orders below move each one's latest activity to today.
    for (n, buyer) in buyers.iter().enumerate().filter(|(n, _)| n % 3 != 2) {
        let days = if n % 3 == 0 { 10 } else { 40 };
        let at = chrono::Utc::now() - chrono::Duration::days(days);
        app.execute(
            "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
             VALUES ($1, $2, 'DELIVERED', 0, $3, $3)",
            [uuid::Uuid::now_v7().into(), id_value(&buyer.id), at.into()],
        )
        .await;
    }
    let stats = || async {
        let response = admin.get("/api/v1/users/stats").await;
        response.assert_status(200);
        response.body["data"]["activeUsers"].as_u64().unwrap()
    };
    assert_eq!(stats().await, 4, "the four active 10 days ago");

    let body = json!({"items": [{"productId": product["id"], "quantity": 1}]});
    let placed = futures::future::join_all(
        (0..36).map(|i| buyers[i % buyers.len()].post("/api/v1/orders", &body)),
    )
    .await;
    for response in &placed {
        response.assert_status(201);
    }

    assert_eq!(stats().await, 12);
    assert_eq!(
        app.count(crate::harness::MISCOUNTED_ACTIVITY_DAYS, [])
            .await,
        0,
        "each day counts the users whose latest activity fell on it"
    );
}

#[tokio::test]
async fn a_user_reads_only_themselves_and_an_admin_reads_anyone() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ann = app.user().await;
    let bob = app.user().await;

    let own = ann.get(&format!("/api/v1/users/{}", ann.id)).await;
    let others = ann.get(&format!("/api/v1/users/{}", bob.id)).await;
    let by_admin = admin.get(&format!("/api/v1/users/{}", bob.id)).await;
    let unknown = admin
        .get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()))
        .await;
    let malformed = admin.get("/api/v1/users/not-a-uuid").await;

    own.assert_status(200);
    others.assert_error(404, "NOT_FOUND");
    by_admin.assert_status(200);
    assert_eq!(by_admin.body["data"]["email"], bob.email.as_str());
    unknown.assert_error(404, "NOT_FOUND");
    malformed.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn admins_change_roles_and_the_change_applies_to_existing_tokens() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let path = format!("/api/v1/users/{}/role", user.id);

    let promoted = admin.patch(&path, &json!({"role": "ADMIN"})).await;
    let as_admin = user.get("/api/v1/users").await;
    let demoted = admin.patch(&path, &json!({"role": "MODERATOR"})).await;
    let as_moderator = user.get("/api/v1/users").await;
    let bad_role = admin.patch(&path, &json!({"role": "ROOT"})).await;
    let own = admin
        .patch(
            &format!("/api/v1/users/{}/role", admin.id),
            &json!({"role": "USER"}),
        )
        .await;
    let by_user = user
        .patch(
            &format!("/api/v1/users/{}/role", admin.id),
            &json!({"role": "USER"}),
        )
        .await;

    promoted.assert_status(200);
    assert_eq!(promoted.body["data"]["role"], "ADMIN");
    as_admin.assert_status(200);
    demoted.assert_status(200);
    as_moderator.assert_error(403, "FORBIDDEN");
    bad_role.assert_error(400, "VALIDATION_ERROR");
    own.assert_error(409, "CONFLICT");
    by_user.assert_error(403, "FORBIDDEN");
    assert_eq!(
        app.scalar::<String>("SELECT role FROM users WHERE id = $1", [id_value(&user.id)])
            .await
            .as_deref(),
        Some("MODERATOR")
    );
    assert_eq!(
        app.scalar::<String>(
            "SELECT role FROM users WHERE id = $1",
            [id_value(&admin.id)]
        )
        .await
        .as_deref(),
        Some(Role::Admin.as_str())
    );
}

#[tokio::test]
async fn deleting_a_user_removes_them_with_their_profile_posts_and_comments() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    user.put("/api/v1/users/me", &json!({"profile": {"bio": "Hi"}}))
        .await
        .assert_status(200);
    let now = chrono::Utc::now();
    let post = uuid::Uuid::now_v7();
    app.execute(
        "INSERT INTO posts (id, slug, title, content, published, author_id, created_at, updated_at) \
         VALUES ($1, 'p', 'P', 'text', true, $2, $3, $3)",
        [post.into(), id_value(&user.id), now.into()],
    )
    .await;
    app.execute(
        "INSERT INTO comments (id, post_id, author_id, content, created_at, updated_at) \
         VALUES ($1, $2, $3, 'mine', $4, $4)",
        [
            uuid::Uuid::now_v7().into(),
            post.into(),
            id_value(&user.id),
            now.into(),
        ],
    )
    .await;

    let response = admin.delete(&format!("/api/v1/users/{}", user.id)).await;

    response.assert_status(200);
    assert_eq!(response.body["success"], true);
    assert!(response.body["message"].is_string());
    for table in [
        "users",
        "user_profiles",
        "posts",
        "comments",
        "refresh_tokens",
    ] {
        let column = match table {
            "users" => "id",
            "posts" | "comments" => "author_id",
            _ => "user_id",
        };
        assert_eq!(
            app.count(
                &format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"),
                [id_value(&user.id)]
            )
            .await,
            0,
            "{table}"
        );
    }
    admin
        .get(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_error(404, "NOT_FOUND");
    app.anonymous()
        .login(&user.email, DEFAULT_PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    // The email is free again.
    app.anonymous()
        .register(&user.email, DEFAULT_PASSWORD)
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_user_with_orders_is_anonymised_gone_from_the_api_and_locked_out() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let order = uuid::Uuid::now_v7();
    app.execute(
        "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
         VALUES ($1, $2, 'DELIVERED', 0, $3, $3)",
        [order.into(), id_value(&user.id), chrono::Utc::now().into()],
    )
    .await;

    admin
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_status(200);

    let id = id_value(&user.id);
    let email: String = app
        .scalar("SELECT email FROM users WHERE id = $1", [id.clone()])
        .await
        .expect("the row is kept for the order");
    assert!(!email.contains(&user.email), "{email}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE id = $1 AND deleted_at IS NOT NULL AND name IS NULL",
            [id]
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders WHERE id = $1", [order.into()])
            .await,
        1
    );
    admin
        .get(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_error(404, "NOT_FOUND");
    let listed = admin.get("/api/v1/users").await;
    assert!(
        !listed.text.contains(&user.id),
        "anonymised users are not listed"
    );
    admin
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_error(404, "NOT_FOUND");
    app.anonymous()
        .login(&user.email, DEFAULT_PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    app.anonymous()
        .login(&email, DEFAULT_PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn only_admins_delete_and_not_themselves() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let moderator = app.user_with_role(Role::Moderator).await;
    let user = app.user().await;

    moderator
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_error(403, "FORBIDDEN");
    admin
        .delete(&format!("/api/v1/users/{}", admin.id))
        .await
        .assert_error(409, "CONFLICT");
    app.anonymous()
        .delete(&format!("/api/v1/users/{}", user.id))
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(app.count("SELECT COUNT(*) FROM users", []).await, 4);
}
