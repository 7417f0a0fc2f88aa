//! Input rules every route shares: which characters text may hold, every failing field named
//! at once, and messages that name what a client must send rather than our internals.

use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, spawn_app};

/// Characters no text field may hold: NUL (PostgreSQL cannot store it), other C0 and C1
/// controls, and the bidirectional overrides that make text display as something else.
const REFUSED_EVERYWHERE: &[&str] = &["\u{0}", "\u{1b}[31m", "\u{7f}", "\u{85}", "\u{202e}"];

struct Fixture<'a> {
    admin: TestUser<'a>,
    user: TestUser<'a>,
    category: String,
    product: String,
    post: String,
    comment: String,
}

async fn fixture(app: &TestApp) -> Fixture<'_> {
    let admin = app.admin().await;
    let user = app.user().await;
    let category = admin.create_category("Shoes").await;
    let product = admin.create_product(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = user
        .post(
            "/api/v1/posts",
            &json!({"title": "Hello", "content": "Body", "published": true}),
        )
        .await;
    post.assert_status(201);
    let slug = post.body["data"]["slug"].as_str().unwrap().to_owned();
    let comment = user
        .post(
            &format!("/api/v1/posts/{slug}/comments"),
            &json!({"content": "Nice"}),
        )
        .await;
    comment.assert_status(201);
    Fixture {
        admin,
        user,
        category,
        product,
        comment: comment.body["data"]["id"].as_str().unwrap().to_owned(),
        post: slug,
    }
}

/// Puts `text` at the field of `body` named by the dotted `path`.
fn with_text(mut body: Value, path: &str, text: &str) -> Value {
    let mut slot = &mut body;
    for part in path.split('.') {
        slot = match part.strip_suffix("[0]") {
            Some(name) => &mut slot[name][0],
            None => &mut slot[part],
        };
    }
    *slot = json!(text);
    body
}

/// Every text field of every route with a body: (who, method, path, a valid body, the field).
fn text_fields(f: &Fixture<'_>) -> Vec<(bool, reqwest::Method, String, Value, &'static str)> {
    use reqwest::Method;
    let (category, product, post, comment) = (&f.category, &f.product, &f.post, &f.comment);
    vec![
        (
            true,
            Method::POST,
            "/api/v1/categories".into(),
            json!({"name": "x"}),
            "name",
        ),
        (
            true,
            Method::PATCH,
            format!("/api/v1/categories/{category}"),
            json!({"name": "x"}),
            "name",
        ),
        (
            true,
            Method::POST,
            "/api/v1/products".into(),
            json!({"name": "x", "price": "1.00"}),
            "name",
        ),
        (
            true,
            Method::POST,
            "/api/v1/products".into(),
            json!({"name": "x", "price": "1.00", "description": "x"}),
            "description",
        ),
        (
            true,
            Method::PATCH,
            format!("/api/v1/products/{product}"),
            json!({"name": "x"}),
            "name",
        ),
        (
            true,
            Method::PATCH,
            format!("/api/v1/products/{product}"),
            json!({"description": "x"}),
            "description",
        ),
        (
            false,
            Method::POST,
            format!("/api/v1/products/{product}/reviews"),
            json!({"rating": 5, "comment": "x"}),
            "comment",
        ),
        (
            false,
            Method::PUT,
            "/api/v1/users/me".into(),
            json!({"name": "x"}),
            "name",
        ),
        (
            false,
            Method::PUT,
            "/api/v1/users/me".into(),
            json!({"profile": {"bio": "x"}}),
            "profile.bio",
        ),
        (
            false,
            Method::PUT,
            "/api/v1/users/me".into(),
            json!({"profile": {"location": "x"}}),
            "profile.location",
        ),
        (
            false,
            Method::POST,
            "/api/v1/posts".into(),
            json!({"title": "x", "content": "x"}),
            "title",
        ),
        (
            false,
            Method::POST,
            "/api/v1/posts".into(),
            json!({"title": "x", "content": "x"}),
            "content",
        ),
        (
            false,
            Method::POST,
            "/api/v1/posts".into(),
            json!({"title": "x", "content": "x", "tags": ["x"]}),
            "tags[0]",
        ),
        (
            false,
            Method::PATCH,
            format!("/api/v1/posts/{post}"),
            json!({"title": "x"}),
            "title",
        ),
        (
            false,
            Method::PATCH,
            format!("/api/v1/posts/{post}"),
            json!({"content": "x"}),
            "content",
        ),
        (
            false,
            Method::POST,
            format!("/api/v1/posts/{post}/comments"),
            json!({"content": "x"}),
            "content",
        ),
        (
            false,
            Method::PATCH,
            format!("/api/v1/comments/{comment}"),
            json!({"content": "x"}),
            "content",
        ),
        (
            false,
            Method::POST,
            "/api/v1/auth/register".into(),
            json!({"email": "new@example.com", "password": "long enough", "name": "x"}),
            "name",
        ),
    ]
}

#[tokio::test]
async fn control_characters_in_any_text_field_are_a_400_naming_it_and_nothing_is_written() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let users_before = app.count("SELECT COUNT(*) FROM users", []).await;

    for (admin, method, path, body, field) in text_fields(&f) {
        let caller = if admin { &f.admin } else { &f.user };
        for bad in REFUSED_EVERYWHERE {
            let sent = with_text(body.clone(), field, &format!("a{bad}b"));
            let response = app
                .send(caller.request(method.clone(), &path).json(&sent))
                .await;
            response.assert_error(400, "VALIDATION_ERROR");
            assert_eq!(response.error_fields(), [field], "{method} {path} {sent}");
        }
    }

    assert_eq!(
        app.count("SELECT COUNT(*) FROM users", []).await,
        users_before
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM categories", []).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM posts", []).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM reviews", []).await, 0);
}

#[tokio::test]
async fn multi_line_fields_keep_tabs_and_line_feeds_and_single_line_fields_refuse_them() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let text = "first line\n\tindented second";

    let post = f
        .user
        .post("/api/v1/posts", &json!({"title": "Lines", "content": text}))
        .await;
    post.assert_status(201);
    assert_eq!(post.body["data"]["content"], text);
    let product = f
        .admin
        .post(
            "/api/v1/products",
            &json!({"name": "Lines", "price": "1.00", "description": text}),
        )
        .await;
    product.assert_status(201);
    assert_eq!(product.body["data"]["description"], text);

    for (field, body) in [
        ("title", json!({"title": "two\nlines", "content": "x"})),
        (
            "content",
            json!({"title": "cr", "content": "carriage\rreturn"}),
        ),
        (
            "title",
            json!({"title": "line\u{2028}separator", "content": "x"}),
        ),
    ] {
        let response = f.user.post("/api/v1/posts", &body).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), [field], "{body}");
    }
}

#[tokio::test]
async fn control_characters_in_query_parameters_are_a_400_naming_them() {
    let app = spawn_app().await;
    let f = fixture(&app).await;

    for (path, field) in [
        ("/api/v1/products/search?q=shoe%00s", "q"),
        ("/api/v1/products/search?q=%E2%80%AEshoe", "q"),
        ("/api/v1/posts?tag=news%00", "tag"),
        ("/api/v1/posts?tag=%1B", "tag"),
    ] {
        let response = app.anonymous().get(path).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), [field], "{path}");
    }
    let response = f.admin.get("/api/v1/users?search=ann%00").await;
    response.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(response.error_fields(), ["search"]);
}

#[tokio::test]
async fn a_slug_that_cannot_exist_is_a_404_without_asking_the_database() {
    let app = spawn_app().await;
    let f = fixture(&app).await;

    for path in [
        "/api/v1/posts/a%00b",
        "/api/v1/posts/%1B",
        "/api/v1/posts/a%00b/comments",
    ] {
        app.anonymous()
            .get(path)
            .await
            .assert_error(404, "NOT_FOUND");
    }
    f.user
        .patch("/api/v1/posts/a%00b", &json!({"title": "x"}))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_body_names_every_missing_and_mistyped_field_at_once() {
    let app = spawn_app().await;
    let f = fixture(&app).await;

    let cases: Vec<(&TestUser<'_>, &str, Value, Vec<&str>)> = vec![
        (
            &f.user,
            "/api/v1/auth/login",
            json!({}),
            vec!["email", "password"],
        ),
        (
            &f.user,
            "/api/v1/auth/login",
            json!({"email": 5, "password": null}),
            vec!["email", "password"],
        ),
        (
            &f.user,
            "/api/v1/auth/register",
            json!({"name": 7}),
            vec!["email", "password", "name"],
        ),
        (
            &f.admin,
            "/api/v1/products",
            json!({"description": ["x"], "inStock": "many"}),
            vec!["name", "description", "price", "inStock"],
        ),
        (
            &f.user,
            "/api/v1/posts",
            json!({"tags": "news", "published": "yes"}),
            vec!["title", "content", "tags", "published"],
        ),
        (
            &f.user,
            "/api/v1/orders",
            json!({"items": [1, {"quantity": "2"}, {}]}),
            vec![
                "items[0]",
                "items[1].productId",
                "items[1].quantity",
                "items[2].productId",
                "items[2].quantity",
            ],
        ),
        (
            &f.user,
            "/api/v1/auth/refresh",
            json!({"refreshToken": 12}),
            vec!["refreshToken"],
        ),
    ];
    for (caller, path, body, fields) in cases {
        let response = caller.post(path, &body).await;
        response.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(response.error_fields(), fields, "{path} {body}");
    }
}

#[tokio::test]
async fn messages_say_what_to_send_and_never_name_a_rust_type() {
    let app = spawn_app().await;
    let f = fixture(&app).await;

    let cases = [
        (
            "/api/v1/orders",
            json!({"items": [7]}),
            "items[0]",
            "must be an object",
        ),
        (
            "/api/v1/orders",
            json!({"items": {"a": 1}}),
            "items",
            "must be an array",
        ),
        (
            "/api/v1/posts",
            json!({"title": 1, "content": "x"}),
            "title",
            "must be a string",
        ),
        (
            "/api/v1/posts",
            json!({"title": "t", "content": "x", "published": 1}),
            "published",
            "must be true or false",
        ),
        (
            "/api/v1/orders",
            json!([1, 2]),
            "body",
            "must be a JSON object",
        ),
    ];
    for (path, body, field, message) in cases {
        let response = f.user.post(path, &body).await;
        response.assert_error(400, "VALIDATION_ERROR");
        let detail = &response.body["error"]["details"][0];
        assert_eq!(detail["field"], field, "{body}");
        assert_eq!(detail["message"], message, "{body}");
        for internal in ["struct", "Request", "i32", "u64", "sequence", "serde"] {
            assert!(
                !response.text.contains(internal),
                "{internal}: {}",
                response.text
            );
        }
    }
}
