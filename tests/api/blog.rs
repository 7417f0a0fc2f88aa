//! `/api/v1/posts`, `/api/v1/comments`, `/api/v1/tags`: slugs, drafts, tags, comments and who
//! may do what.

use ecommerce_api::domain::Role;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::{TestResponse, TestUser, id_value, spawn_app};

async fn post(user: &TestUser<'_>, body: Value) -> Value {
    let response = user.post("/api/v1/posts", &body).await;
    response.assert_status(201);
    response.body["data"].clone()
}

fn slugs(response: &TestResponse) -> Vec<&str> {
    response.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_post_gets_a_slug_tags_and_its_author_and_starts_as_a_draft() {
    let app = spawn_app().await;
    let author = app.user().await;
    author
        .put("/api/v1/users/me", &json!({"name": "Ann"}))
        .await
        .assert_status(200);

    let created = author
        .post(
            "/api/v1/posts",
            &json!({"title": "  Crème Brûlée: 2 Ways! ", "content": "Sugar, then fire.",
                    "tags": ["Cooking", "desserts", " cooking "]}),
        )
        .await;

    created.assert_status(201);
    let post = &created.body["data"];
    assert_eq!(post["slug"], "creme-brulee-2-ways");
    assert_eq!(post["title"], "Crème Brûlée: 2 Ways!");
    assert_eq!(post["published"], false);
    assert_eq!(post["publishedAt"], Value::Null);
    assert_eq!(post["author"], json!({"id": author.id, "name": "Ann"}));
    assert_eq!(post["tags"], json!(["cooking", "desserts"]));
    assert_eq!(post["commentCount"], 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM tags", []).await, 2);
}

#[tokio::test]
async fn a_draft_exists_only_for_its_author_moderators_and_admins() {
    let app = spawn_app().await;
    let author = app.user().await;
    let draft = post(&author, json!({"title": "Secret", "content": "Soon"})).await;
    let path = format!("/api/v1/posts/{}", draft["slug"].as_str().unwrap());
    let moderator = app.user_with_role(Role::Moderator).await;
    let admin = app.admin().await;
    let stranger = app.user().await;

    author.get(&path).await.assert_status(200);
    moderator.get(&path).await.assert_status(200);
    admin.get(&path).await.assert_status(200);
    stranger.get(&path).await.assert_error(404, "NOT_FOUND");
    app.anonymous()
        .get(&path)
        .await
        .assert_error(404, "NOT_FOUND");
    app.with_token("garbage")
        .get(&path)
        .await
        .assert_error(401, "UNAUTHORIZED");
    let listed = app.anonymous().get("/api/v1/posts").await;
    assert_eq!(listed.body["data"], json!([]), "drafts are never listed");
    stranger
        .post(&format!("{path}/comments"), &json!({"content": "hi"}))
        .await
        .assert_error(404, "NOT_FOUND");
    stranger
        .patch(&path, &json!({"title": "Mine"}))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn published_at_is_set_when_first_published_and_kept_after() {
    let app = spawn_app().await;
    let author = app.user().await;
    let draft = post(&author, json!({"title": "Later", "content": "x"})).await;
    let path = format!("/api/v1/posts/{}", draft["slug"].as_str().unwrap());

    let published = author.patch(&path, &json!({"published": true})).await;
    let first = published.body["data"]["publishedAt"].clone();
    author
        .patch(&path, &json!({"published": false}))
        .await
        .assert_status(200);
    let again = author
        .patch(&path, &json!({"published": true, "title": "Now"}))
        .await;

    published.assert_status(200);
    assert!(first.is_string());
    again.assert_status(200);
    assert_eq!(again.body["data"]["publishedAt"], first);
    assert_eq!(again.body["data"]["title"], "Now");
    assert_eq!(again.body["data"]["slug"], "later", "the slug stays");
    app.anonymous().get(&path).await.assert_status(200);
}

#[tokio::test]
async fn posts_with_one_title_get_numbered_slugs_even_concurrently() {
    let app = spawn_app().await;
    let author = app.user().await;
    post(&author, json!({"title": "Hello", "content": "first"})).await;
    let body = json!({"title": "Hello!", "content": "again"});

    let responses = join_all((0..10).map(|_| author.post("/api/v1/posts", &body))).await;

    let mut slugs: Vec<String> = responses
        .iter()
        .map(|r| {
            r.assert_status(201);
            r.body["data"]["slug"].as_str().unwrap().to_owned()
        })
        .collect();
    slugs.sort_by_key(|s| s.trim_start_matches("hello-").parse::<u32>().unwrap_or(0));
    let expected: Vec<String> = (2..=11).map(|n| format!("hello-{n}")).collect();
    assert_eq!(slugs, expected);
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT slug) FROM posts", [])
            .await,
        11
    );
}

#[tokio::test]
async fn the_list_shows_published_posts_newest_first_with_filters_and_pages() {
    let app = spawn_app().await;
    let ann = app.user().await;
    let bob = app.user().await;
    for (author, title, tags) in [
        (&ann, "One", vec!["rust"]),
        (&bob, "Two", vec!["rust", "web"]),
        (&ann, "Three", vec!["web"]),
    ] {
        post(
            author,
            json!({"title": title, "content": "x", "tags": tags, "published": true}),
        )
        .await;
    }
    post(
        &ann,
        json!({"title": "Draft", "content": "x", "tags": ["rust"]}),
    )
    .await;
    let commenter = app.user().await;
    commenter
        .post("/api/v1/posts/two/comments", &json!({"content": "Nice"}))
        .await
        .assert_status(201);

    let all = app.anonymous().get("/api/v1/posts").await;
    let rust = app.anonymous().get("/api/v1/posts?tag=Rust").await;
    let by_ann = app
        .anonymous()
        .get(&format!("/api/v1/posts?author={}", ann.id))
        .await;
    let page_two = app.anonymous().get("/api/v1/posts?limit=2&page=2").await;
    let bad = app
        .anonymous()
        .get("/api/v1/posts?author=x&limit=500")
        .await;

    all.assert_status(200);
    assert_eq!(slugs(&all), ["three", "two", "one"]);
    assert_eq!(all.body["data"][1]["tags"], json!(["rust", "web"]));
    assert_eq!(all.body["data"][1]["commentCount"], 1);
    assert_eq!(all.body["data"][1]["author"]["id"], bob.id.as_str());
    assert_eq!(slugs(&rust), ["two", "one"]);
    assert_eq!(slugs(&by_ann), ["three", "one"]);
    assert_eq!(slugs(&page_two), ["one"]);
    assert_eq!(
        page_two.body["pagination"],
        json!({"page": 2, "limit": 2, "total": 3, "totalPages": 2})
    );
    bad.assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn bad_posts_name_every_failing_field() {
    let app = spawn_app().await;
    let author = app.user().await;

    let response = author
        .post(
            "/api/v1/posts",
            &json!({"title": "!!!", "content": "  ",
                    "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        )
        .await;
    let long_tag = author
        .post(
            "/api/v1/posts",
            &json!({"title": "T", "content": "c", "tags": ["x".repeat(51)]}),
        )
        .await;

    response.assert_error(400, "VALIDATION_ERROR");
    let fields = response.error_fields();
    assert_eq!(fields, ["title", "content", "tags"]);
    long_tag.assert_error(400, "VALIDATION_ERROR");
    app.anonymous()
        .post("/api/v1/posts", &json!({"title": "T", "content": "c"}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(app.count("SELECT COUNT(*) FROM posts", []).await, 0);
}

#[tokio::test]
async fn the_author_or_an_admin_edits_and_moderators_may_only_delete() {
    let app = spawn_app().await;
    let author = app.user().await;
    let moderator = app.user_with_role(Role::Moderator).await;
    let admin = app.admin().await;
    let stranger = app.user().await;
    post(
        &author,
        json!({"title": "Mine", "content": "x", "tags": ["a"], "published": true}),
    )
    .await;
    let path = "/api/v1/posts/mine";

    stranger
        .patch(path, &json!({"content": "defaced"}))
        .await
        .assert_error(403, "FORBIDDEN");
    moderator
        .patch(path, &json!({"content": "edited"}))
        .await
        .assert_error(403, "FORBIDDEN");
    let by_author = author.patch(path, &json!({"tags": ["b", "c"]})).await;
    let by_admin = admin.patch(path, &json!({"content": "fixed typo"})).await;
    stranger.delete(path).await.assert_error(403, "FORBIDDEN");

    by_author.assert_status(200);
    assert_eq!(by_author.body["data"]["tags"], json!(["b", "c"]));
    by_admin.assert_status(200);
    assert_eq!(by_admin.body["data"]["content"], "fixed typo");
    let deleted = moderator.delete(path).await;
    deleted.assert_status(200);
    assert!(deleted.body["message"].is_string());
    app.anonymous()
        .get(path)
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn deleting_a_post_removes_its_comments_and_tag_links() {
    let app = spawn_app().await;
    let author = app.user().await;
    let created = post(
        &author,
        json!({"title": "Doomed", "content": "x", "tags": ["a", "b"], "published": true}),
    )
    .await;
    let reader = app.user().await;
    for text in ["one", "two"] {
        reader
            .post("/api/v1/posts/doomed/comments", &json!({"content": text}))
            .await
            .assert_status(201);
    }
    let id = id_value(created["id"].as_str().unwrap());

    author
        .delete("/api/v1/posts/doomed")
        .await
        .assert_status(200);

    for table in ["posts", "comments", "post_tags"] {
        let column = if table == "posts" { "id" } else { "post_id" };
        assert_eq!(
            app.count(
                &format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"),
                [id.clone()]
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tags", []).await,
        2,
        "tags stay"
    );
}

#[tokio::test]
async fn comments_are_listed_oldest_first_and_only_their_author_edits_them() {
    let app = spawn_app().await;
    let author = app.user().await;
    post(
        &author,
        json!({"title": "Talk", "content": "x", "published": true}),
    )
    .await;
    let (ann, bob) = (app.user().await, app.user().await);
    let moderator = app.user_with_role(Role::Moderator).await;
    let first = ann
        .post(
            "/api/v1/posts/talk/comments",
            &json!({"content": " First! "}),
        )
        .await;
    let second = bob
        .post("/api/v1/posts/talk/comments", &json!({"content": "Second"}))
        .await;
    first.assert_status(201);
    second.assert_status(201);
    let first_id = first.body["data"]["id"].as_str().unwrap().to_owned();
    let second_id = second.body["data"]["id"].as_str().unwrap().to_owned();

    let listed = app.anonymous().get("/api/v1/posts/talk/comments").await;
    let edited = ann
        .patch(
            &format!("/api/v1/comments/{first_id}"),
            &json!({"content": "Edited"}),
        )
        .await;
    let by_other = bob
        .patch(
            &format!("/api/v1/comments/{first_id}"),
            &json!({"content": "Mine now"}),
        )
        .await;
    let by_moderator = moderator
        .patch(
            &format!("/api/v1/comments/{first_id}"),
            &json!({"content": "Tamed"}),
        )
        .await;
    let empty = ann
        .patch(
            &format!("/api/v1/comments/{first_id}"),
            &json!({"content": ""}),
        )
        .await;

    listed.assert_status(200);
    let contents: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["First!", "Second"]);
    assert_eq!(listed.body["data"][0]["author"]["id"], ann.id.as_str());
    assert_eq!(listed.body["pagination"]["total"], 2);
    edited.assert_status(200);
    assert_eq!(edited.body["data"]["content"], "Edited");
    by_other.assert_error(403, "FORBIDDEN");
    by_moderator.assert_error(403, "FORBIDDEN");
    empty.assert_error(400, "VALIDATION_ERROR");
    bob.delete(&format!("/api/v1/comments/{first_id}"))
        .await
        .assert_error(403, "FORBIDDEN");
    moderator
        .delete(&format!("/api/v1/comments/{first_id}"))
        .await
        .assert_status(200);
    bob.delete(&format!("/api/v1/comments/{second_id}"))
        .await
        .assert_status(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM comments", []).await, 0);
    ann.delete(&format!("/api/v1/comments/{first_id}"))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn tags_count_published_posts_and_hide_tags_only_drafts_use() {
    let app = spawn_app().await;
    let author = app.user().await;
    for (title, tags, published) in [
        ("A", vec!["rust", "web"], true),
        ("B", vec!["rust"], true),
        ("C", vec!["rust", "secret"], false),
    ] {
        post(
            &author,
            json!({"title": title, "content": "x", "tags": tags, "published": published}),
        )
        .await;
    }

    let response = app.anonymous().get("/api/v1/tags").await;

    response.assert_status(200);
    assert_eq!(
        response.body["data"],
        json!([{"name": "rust", "postCount": 2}, {"name": "web", "postCount": 1}])
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tags WHERE name = 'secret'", [])
            .await,
        1,
        "the tag exists, only hidden"
    );
}
