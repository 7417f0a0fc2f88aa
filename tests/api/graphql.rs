//! GraphQL is a second transport over the same services: every query and mutation answers what
//! the REST route answers for the same data (the objects are compared whole), with the same
//! permissions, validation, error codes and database afterwards.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Caller, TestApp, TestResponse, id_value, spawn_app, spawn_app_with};

const PRODUCT: &str = "id name description price inStock archived category { id name } \
    averageRating reviewCount createdAt updatedAt";
const REVIEW: &str = "id productId rating comment author { id name } createdAt";
const ORDER: &str =
    "id status total customerId items { productId productName quantity price } createdAt updatedAt";
const POST: &str = "id slug title content published publishedAt author { id name } tags \
    commentCount createdAt updatedAt";
const COMMENT: &str = "id postId content author { id name } createdAt updatedAt";
const USER: &str = "id email name avatar role createdAt updatedAt \
    profile { bio website location dateOfBirth }";

async fn gql(caller: &Caller<'_>, query: &str, variables: Value) -> TestResponse {
    let response = caller
        .post(
            "/graphql",
            &json!({ "query": query, "variables": variables }),
        )
        .await;
    response.assert_status(200);
    response
}

/// The field's data of an answer without errors.
#[track_caller]
fn data<'a>(response: &'a TestResponse, field: &str) -> &'a Value {
    assert!(response.body["errors"].is_null(), "{}", response.text);
    &response.body["data"][field]
}

/// The code of an answer's only error; its data is `null`.
#[track_caller]
fn code(response: &TestResponse) -> &str {
    let errors = response.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {}", response.text));
    assert_eq!(errors.len(), 1, "{}", response.text);
    assert!(errors[0]["message"].is_string(), "{}", response.text);
    errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {}", response.text))
}

/// The fields an error's details name.
#[track_caller]
fn fields(response: &TestResponse) -> Vec<&str> {
    response.body["errors"][0]["extensions"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {}", response.text))
        .iter()
        .map(|detail| detail["field"].as_str().expect("a field"))
        .collect()
}

#[track_caller]
fn rest_code(response: &TestResponse) -> &str {
    response.body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {}", response.text))
}

async fn product(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/products/{id}")).await.body["data"].clone()
}

async fn stock(app: &TestApp, id: &str) -> i64 {
    app.scalar(
        "SELECT CAST(in_stock AS BIGINT) FROM products WHERE id = $1",
        [id_value(id)],
    )
    .await
    .expect("the product exists")
}

#[tokio::test]
async fn catalog_queries_answer_what_rest_answers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let tents = admin.create_category("Tents").await;
    let mut ids = Vec::new();
    for (name, price, stock, category) in [
        ("Trail Tent", "120.00", 3, Some(&tents)),
        ("Running Shoe", "80.50", 0, None),
        ("Camp Stove", "45.99", 7, Some(&tents)),
    ] {
        let created = admin
            .create_product(json!({
                "name": name, "price": price, "inStock": stock, "categoryId": category,
                "description": format!("A {name} for the hills"),
            }))
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    user.post(
        &format!("/api/v1/products/{}/reviews", ids[0]),
        &json!({"rating": 4, "comment": "Dry all night"}),
    )
    .await
    .assert_status(201);
    let anonymous = app.anonymous();

    let one = gql(
        &anonymous,
        &format!("query($id: ID!) {{ product(id: $id) {{ {PRODUCT} reviews {{ {REVIEW} }} }} }}"),
        json!({"id": ids[0]}),
    )
    .await;
    let mut expected = product(&app, &ids[0]).await;
    expected["reviews"] = app
        .get(&format!("/api/v1/products/{}/reviews", ids[0]))
        .await
        .body["data"]
        .clone();
    assert_eq!(data(&one, "product"), &expected);

    // The connection walks the same pages, in the same order, as the REST cursor list.
    let query = format!(
        "query($after: String) {{ products(first: 2, after: $after) {{ edges {{ cursor node {{ {PRODUCT} }} }} \
         pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let first = gql(&anonymous, &query, json!({})).await;
    let rest = app.get("/api/v1/products?limit=2").await;
    let connection = data(&first, "products");
    let nodes: Vec<&Value> = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .collect();
    assert_eq!(
        nodes,
        rest.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        connection["pageInfo"]["endCursor"],
        rest.body["pagination"]["nextCursor"]
    );
    let second = gql(
        &anonymous,
        &query,
        json!({"after": connection["pageInfo"]["endCursor"]}),
    )
    .await;
    let rest_second = app
        .get(&format!(
            "/api/v1/products?limit=2&cursor={}",
            rest.body["pagination"]["nextCursor"].as_str().unwrap()
        ))
        .await;
    let connection = data(&second, "products");
    assert_eq!(connection["edges"][0]["node"], rest_second.body["data"][0]);
    assert_eq!(connection["edges"].as_array().unwrap().len(), 1);
    assert_eq!(connection["pageInfo"]["hasNextPage"], false);

    // Filters.
    let filtered = gql(
        &anonymous,
        &format!(
            "query($c: ID) {{ products(categoryId: $c, minPrice: \"50\", inStock: true) \
             {{ edges {{ node {{ {PRODUCT} }} }} }} }}"
        ),
        json!({"c": tents}),
    )
    .await;
    let rest = app
        .get(&format!(
            "/api/v1/products?categoryId={tents}&minPrice=50&inStock=true"
        ))
        .await;
    assert_eq!(
        data(&filtered, "products")["edges"][0]["node"],
        rest.body["data"][0]
    );
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        data(&filtered, "products")["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let search = gql(
        &anonymous,
        &format!("{{ searchProducts(q: \"running shoes\") {{ {PRODUCT} }} }}"),
        json!({}),
    )
    .await;
    let rest = app.get("/api/v1/products/search?q=running%20shoes").await;
    assert_eq!(data(&search, "searchProducts"), &rest.body["data"]);
    assert_eq!(rest.body["data"][0]["id"], ids[1].as_str());

    let categories = gql(
        &anonymous,
        "{ categories { id name slug productCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data(&categories, "categories"),
        &app.get("/api/v1/categories").await.body["data"]
    );

    // The same refusals.
    for id in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let missing = gql(
            &anonymous,
            "query($id: ID!) { product(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        let rest = app.get(&format!("/api/v1/products/{id}")).await;
        rest.assert_status(404);
        assert_eq!(code(&missing), rest_code(&rest));
        assert!(missing.body["data"].is_null());
    }
    let invalid = gql(
        &anonymous,
        "{ products(first: 0, minPrice: \"1.005\", maxPrice: \"abc\") { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&invalid), "VALIDATION_ERROR");
    assert_eq!(fields(&invalid), ["first", "minPrice", "maxPrice"]);
    let rest = app
        .get("/api/v1/products?limit=0&minPrice=1.005&maxPrice=abc")
        .await;
    rest.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(rest.error_fields(), ["limit", "minPrice", "maxPrice"]);
    let blank = gql(
        &anonymous,
        "{ searchProducts(q: \"  \") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&blank), "VALIDATION_ERROR");
    assert_eq!(fields(&blank), ["q"]);
}

#[tokio::test]
async fn accounts_register_login_refresh_and_read_as_rest_does() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();
    let register =
        "mutation($input: RegisterInput!) { register(input: $input) { id email name role } }";

    let created = gql(
        &anonymous,
        register,
        json!({"input": {"email": "  Ann@Example.com ", "password": "correct horse", "name": "Ann"}}),
    )
    .await;
    let user = data(&created, "register");
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["role"], "USER");
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'mail.welcome'", [])
            .await,
        1,
        "the welcome mail is queued as over REST"
    );

    let taken = gql(
        &anonymous,
        register,
        json!({"input": {"email": "ann@example.com", "password": "correct horse"}}),
    )
    .await;
    let rest = anonymous.register("ann@example.com", "correct horse").await;
    assert_eq!(code(&taken), rest_code(&rest));
    assert_eq!(code(&taken), "CONFLICT");
    let invalid = gql(
        &anonymous,
        register,
        json!({"input": {"email": "nope", "password": "short"}}),
    )
    .await;
    assert_eq!(code(&invalid), "VALIDATION_ERROR");
    assert_eq!(fields(&invalid), ["email", "password"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM users", []).await, 1);

    let login = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) \
         { token refreshToken expiresIn user { id email } } }";
    let wrong = gql(
        &anonymous,
        login,
        json!({"email": "ann@example.com", "password": "wrong password"}),
    )
    .await;
    assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
    let nobody = gql(
        &anonymous,
        login,
        json!({"email": "nobody@example.com", "password": "wrong password"}),
    )
    .await;
    assert_eq!(
        nobody.body["errors"], wrong.body["errors"],
        "the same answer"
    );
    let session = gql(
        &anonymous,
        login,
        json!({"email": "ann@example.com", "password": "correct horse"}),
    )
    .await;
    let session = data(&session, "login").clone();
    assert_eq!(session["user"]["id"], user_id.as_str());
    assert_eq!(session["expiresIn"], 900);
    let ann = app.with_token(session["token"].as_str().unwrap());

    let me = gql(&ann, &format!("{{ me {{ {USER} }} }}"), json!({})).await;
    assert_eq!(
        data(&me, "me"),
        &ann.get("/api/v1/users/me").await.body["data"]
    );

    let refresh =
        "mutation($t: String!) { refresh(refreshToken: $t) { token refreshToken expiresIn } }";
    let rotated = gql(&anonymous, refresh, json!({"t": session["refreshToken"]})).await;
    let rotated = data(&rotated, "refresh").clone();
    assert_ne!(rotated["refreshToken"], session["refreshToken"]);
    app.with_token(rotated["token"].as_str().unwrap())
        .get("/api/v1/users/me")
        .await
        .assert_status(200);
    // The old token again: refused, and the whole login is revoked, as over REST.
    let reuse = gql(&anonymous, refresh, json!({"t": session["refreshToken"]})).await;
    assert_eq!(code(&reuse), "UNAUTHORIZED");
    let descendant = app
        .anonymous()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refreshToken": rotated["refreshToken"]}),
        )
        .await;
    descendant.assert_error(401, "UNAUTHORIZED");
    for token in [String::new(), "x".repeat(10_000)] {
        let refused = gql(&anonymous, refresh, json!({"t": token})).await;
        let rest = anonymous
            .post("/api/v1/auth/refresh", &json!({"refreshToken": token}))
            .await;
        assert_eq!(code(&refused), rest_code(&rest), "{}", rest.text);
    }

    // Anonymous and bad tokens.
    let anonymous_me = gql(&anonymous, "{ me { id } }", json!({})).await;
    assert_eq!(code(&anonymous_me), "UNAUTHORIZED");
    let bad = gql(
        &app.with_token("not.a.token"),
        "{ categories { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&bad), "UNAUTHORIZED", "a bad token is never anonymous");
}

#[tokio::test]
async fn a_locked_login_is_account_locked_with_retry_after() {
    let app = spawn_app().await;
    let user = app.user().await;
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    for _ in 0..5 {
        let wrong = gql(
            &app.anonymous(),
            login,
            json!({"e": user.email, "p": "wrong password"}),
        )
        .await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
    }

    let locked = gql(
        &app.anonymous(),
        login,
        json!({"e": user.email, "p": crate::harness::DEFAULT_PASSWORD}),
    )
    .await;

    assert_eq!(code(&locked), "ACCOUNT_LOCKED");
    let retry = locked.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    app.anonymous()
        .login(&user.email, crate::harness::DEFAULT_PASSWORD)
        .await
        .assert_error(429, "ACCOUNT_LOCKED");
}

#[tokio::test]
async fn users_have_the_same_permissions_as_over_rest() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let moderator = app
        .user_with_role(ecommerce_api::domain::Role::Moderator)
        .await;
    let user = app.user().await;
    let other = app.user().await;

    let read = format!("query($id: ID!) {{ user(id: $id) {{ {USER} }} }}");
    for (caller, id) in [
        (&admin.caller, &other.id),
        (&user.caller, &user.id),
        (&user.caller, &other.id),
        (&moderator.caller, &other.id),
        (&app.anonymous(), &other.id),
    ] {
        let answer = gql(caller, &read, json!({"id": id})).await;
        let rest = caller.get(&format!("/api/v1/users/{id}")).await;
        if rest.status.is_success() {
            assert_eq!(data(&answer, "user"), &rest.body["data"]);
        } else {
            assert_eq!(code(&answer), rest_code(&rest), "{}", rest.text);
        }
    }

    let list = format!(
        "{{ users(role: USER, limit: 2) {{ items {{ {USER} }} pagination {{ page limit total totalPages }} }} }}"
    );
    let answer = gql(&admin, &list, json!({})).await;
    let rest = admin.get("/api/v1/users?role=USER&limit=2").await;
    assert_eq!(data(&answer, "users")["items"], rest.body["data"]);
    assert_eq!(
        data(&answer, "users")["pagination"],
        rest.body["pagination"]
    );
    for caller in [&user.caller, &moderator.caller] {
        let refused = gql(caller, &list, json!({})).await;
        assert_eq!(code(&refused), "FORBIDDEN");
        caller
            .get("/api/v1/users?role=USER&limit=2")
            .await
            .assert_error(403, "FORBIDDEN");
    }
    let invalid = gql(
        &admin,
        "{ users(createdAfter: \"yesterday\", page: 0) { items { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&invalid), "VALIDATION_ERROR");
    assert_eq!(fields(&invalid), ["createdAfter", "page"]);
}

#[tokio::test]
async fn admin_mutations_change_the_catalog_only_for_admins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let category = admin.create_category("Stoves").await;
    let create = format!(
        "mutation($input: CreateProductInput!) {{ createProduct(input: $input) {{ {PRODUCT} }} }}"
    );
    let input = json!({"input": {"name": "Gas Stove", "price": "30.00", "inStock": 4, "categoryId": category}});

    let refused = gql(&user, &create, input.clone()).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let anonymous = gql(&app.anonymous(), &create, input.clone()).await;
    assert_eq!(code(&anonymous), "UNAUTHORIZED");
    assert_eq!(app.count("SELECT COUNT(*) FROM products", []).await, 0);

    let created = gql(&admin, &create, input).await;
    let created = data(&created, "createProduct").clone();
    assert_eq!(
        created,
        product(&app, created["id"].as_str().unwrap()).await
    );
    assert_eq!(created["category"]["id"], category.as_str());
    let id = created["id"].as_str().unwrap().to_owned();

    let invalid = gql(
        &admin,
        &create,
        json!({"input": {"name": "", "price": "1.001", "inStock": -1}}),
    )
    .await;
    assert_eq!(code(&invalid), "VALIDATION_ERROR");
    assert_eq!(fields(&invalid), ["name", "price", "inStock"]);

    let prices = format!(
        "mutation($u: [PriceUpdateInput!]!) {{ updatePrices(updates: $u) {{ {PRODUCT} }} }}"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let all_or_nothing = gql(
        &admin,
        &prices,
        json!({"u": [{"id": id, "price": "25.00"}, {"id": unknown, "price": "1.00"}]}),
    )
    .await;
    let rest = admin
        .patch(
            "/api/v1/products/prices",
            &json!({"updates": [{"id": id, "price": "25.00"}, {"id": unknown, "price": "1.00"}]}),
        )
        .await;
    assert_eq!(code(&all_or_nothing), rest_code(&rest));
    assert_eq!(
        product(&app, &id).await["price"],
        "30.00",
        "nothing changed"
    );
    let forbidden = gql(&user, &prices, json!({"u": [{"id": id, "price": "25.00"}]})).await;
    assert_eq!(code(&forbidden), "FORBIDDEN");

    let changed = gql(
        &admin,
        &prices,
        json!({"u": [{"id": id, "price": "25.00"}]}),
    )
    .await;
    assert_eq!(data(&changed, "updatePrices")[0], product(&app, &id).await);
    assert_eq!(product(&app, &id).await["price"], "25.00");
}

#[tokio::test]
async fn orders_are_placed_read_and_moved_as_over_rest() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ann = app.user().await;
    let bob = app.user().await;
    let tent = admin
        .create_product(json!({"name": "Tent", "price": "100.00", "inStock": 5}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let place = format!(
        "mutation($items: [OrderLineInput!]!, $key: String) {{ placeOrder(items: $items, idempotencyKey: $key) {{ {ORDER} }} }}"
    );
    let items = |quantity: i32| json!([{"productId": tent, "quantity": quantity}]);

    let anonymous = gql(&app.anonymous(), &place, json!({"items": items(1)})).await;
    assert_eq!(code(&anonymous), "UNAUTHORIZED");
    let placed = gql(&ann, &place, json!({"items": items(2)})).await;
    let order = data(&placed, "placeOrder").clone();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(
        order,
        ann.get(&format!("/api/v1/orders/{id}")).await.body["data"]
    );
    assert_eq!(order["total"], "200.00");
    assert_eq!(stock(&app, &tent).await, 3);

    let too_many = gql(&ann, &place, json!({"items": items(4)})).await;
    let rest = ann
        .post("/api/v1/orders", &json!({"items": items(4)}))
        .await;
    assert_eq!(code(&too_many), rest_code(&rest));
    assert_eq!(code(&too_many), "INSUFFICIENT_STOCK");
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = gql(
        &ann,
        &place,
        json!({"items": [{"productId": tent, "quantity": 1}, {"productId": unknown, "quantity": 1}]}),
    )
    .await;
    assert_eq!(code(&missing), "VALIDATION_ERROR");
    assert_eq!(fields(&missing), ["items[1].productId"]);
    let message = missing.body["errors"][0]["extensions"]["details"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains(&unknown), "{message}");
    let empty = gql(&ann, &place, json!({"items": []})).await;
    assert_eq!(code(&empty), "VALIDATION_ERROR");
    assert_eq!(fields(&empty), ["items"]);
    assert_eq!(stock(&app, &tent).await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);

    // Reading: the owner and admins; anyone else is told it does not exist.
    let read = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}");
    assert_eq!(
        data(&gql(&admin, &read, json!({"id": id})).await, "order"),
        &order
    );
    let hidden = gql(&bob, &read, json!({"id": id})).await;
    bob.get(&format!("/api/v1/orders/{id}"))
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(code(&hidden), "NOT_FOUND");
    let list = format!(
        "{{ orders(limit: 5) {{ items {{ {ORDER} }} pagination {{ page limit total totalPages }} }} }}"
    );
    for caller in [&ann.caller, &bob.caller, &admin.caller] {
        let answer = gql(caller, &list, json!({})).await;
        let rest = caller.get("/api/v1/orders?limit=5").await;
        assert_eq!(data(&answer, "orders")["items"], rest.body["data"]);
        assert_eq!(
            data(&answer, "orders")["pagination"],
            rest.body["pagination"]
        );
    }
    // `customerId` is for admins; others get their own orders, as over REST.
    for caller in [&ann.caller, &admin.caller] {
        let by_customer = gql(
            caller,
            "query($c: ID) { orders(customerId: $c) { items { id } } }",
            json!({"c": bob.id}),
        )
        .await;
        let rest = caller
            .get(&format!("/api/v1/orders?customerId={}", bob.id))
            .await;
        let ids: Vec<&Value> = rest.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|order| &order["id"])
            .collect();
        let answered: Vec<&Value> = data(&by_customer, "orders")["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|order| &order["id"])
            .collect();
        assert_eq!(answered, ids);
    }

    // Moving it along.
    let status = format!(
        "mutation($id: ID!, $s: OrderStatus!) {{ updateOrderStatus(id: $id, status: $s) {{ {ORDER} }} }}"
    );
    let forbidden = gql(&ann, &status, json!({"id": id, "s": "CONFIRMED"})).await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
    let skipped = gql(&admin, &status, json!({"id": id, "s": "DELIVERED"})).await;
    assert_eq!(code(&skipped), "INVALID_STATUS_TRANSITION");
    let confirmed = gql(&admin, &status, json!({"id": id, "s": "CONFIRMED"})).await;
    assert_eq!(data(&confirmed, "updateOrderStatus")["status"], "CONFIRMED");
    let cancel = format!("mutation($id: ID!) {{ cancelOrder(id: $id) {{ {ORDER} }} }}");
    let not_pending = gql(&ann, &cancel, json!({"id": id})).await;
    let rest = ann
        .post(&format!("/api/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(code(&not_pending), rest_code(&rest));
    let someone_elses = gql(&bob, &cancel, json!({"id": id})).await;
    assert_eq!(code(&someone_elses), "NOT_FOUND");
    let cancelled = gql(&admin, &cancel, json!({"id": id})).await;
    let cancelled = data(&cancelled, "cancelOrder");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(
        cancelled,
        &ann.get(&format!("/api/v1/orders/{id}")).await.body["data"]
    );
    assert_eq!(stock(&app, &tent).await, 5, "the stock is back");
}

/// A key means one order whichever transport sends it, and a refusal is replayed as the
/// refusal it was.
#[tokio::test]
async fn an_idempotency_key_means_one_order_over_graphql_and_rest() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ann = app.user().await;
    let tent = admin
        .create_product(json!({"name": "Tent", "price": "100.00", "inStock": 5}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let place = format!(
        "mutation($items: [OrderLineInput!]!, $key: String) {{ placeOrder(items: $items, idempotencyKey: $key) {{ {ORDER} }} }}"
    );
    let items = |quantity: i32| json!([{"productId": tent, "quantity": quantity}]);

    let first = gql(&ann, &place, json!({"items": items(2), "key": "gql-1"})).await;
    let order = data(&first, "placeOrder").clone();
    let again = gql(&ann, &place, json!({"items": items(2), "key": "gql-1"})).await;
    assert_eq!(data(&again, "placeOrder"), &order);
    let over_rest = app
        .send(
            ann.request(Method::POST, "/api/v1/orders")
                .header("Idempotency-Key", "gql-1")
                .json(&json!({"items": items(2)})),
        )
        .await;
    over_rest.assert_status(201);
    assert_eq!(
        over_rest.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(over_rest.body["data"], order);
    let other_body = gql(&ann, &place, json!({"items": items(1), "key": "gql-1"})).await;
    let rest = app
        .send(
            ann.request(Method::POST, "/api/v1/orders")
                .header("Idempotency-Key", "gql-1")
                .json(&json!({"items": items(1)})),
        )
        .await;
    assert_eq!(code(&other_body), rest_code(&rest));
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);
    assert_eq!(stock(&app, &tent).await, 3);

    // Refused over REST for stock; the same key over GraphQL is the same refusal, even now
    // that stock would allow it.
    let refused = app
        .send(
            ann.request(Method::POST, "/api/v1/orders")
                .header("Idempotency-Key", "rest-1")
                .json(&json!({"items": items(4)})),
        )
        .await;
    refused.assert_error(409, "INSUFFICIENT_STOCK");
    admin
        .patch(&format!("/api/v1/products/{tent}"), &json!({"inStock": 10}))
        .await
        .assert_status(200);
    let replayed = gql(&ann, &place, json!({"items": items(4), "key": "rest-1"})).await;
    assert_eq!(code(&replayed), "INSUFFICIENT_STOCK");
    assert_eq!(
        replayed.body["errors"][0]["message"],
        refused.body["error"]["message"]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders", []).await, 1);

    let bad_key = gql(&ann, &place, json!({"items": items(1), "key": ""})).await;
    assert_eq!(code(&bad_key), "VALIDATION_ERROR");
    assert_eq!(fields(&bad_key), ["idempotencyKey"]);
}

#[tokio::test]
async fn posts_comments_and_reviews_answer_what_rest_answers() {
    let app = spawn_app().await;
    let author = app.user().await;
    let reader = app.user().await;
    let moderator = app
        .user_with_role(ecommerce_api::domain::Role::Moderator)
        .await;
    let create =
        format!("mutation($input: CreatePostInput!) {{ createPost(input: $input) {{ {POST} }} }}");

    let published = gql(
        &author,
        &create,
        json!({"input": {"title": "Winter Camping", "content": "Bring a stove.", "tags": ["Camping", "winter"], "published": true}}),
    )
    .await;
    let post = data(&published, "createPost").clone();
    assert_eq!(post["slug"], "winter-camping");
    assert_eq!(post["tags"], json!(["camping", "winter"]));
    assert_eq!(
        post,
        app.get("/api/v1/posts/winter-camping").await.body["data"]
    );
    let twin = gql(
        &author,
        &create,
        json!({"input": {"title": "Winter Camping", "content": "Again."}}),
    )
    .await;
    assert_eq!(data(&twin, "createPost")["slug"], "winter-camping-2");
    assert_eq!(data(&twin, "createPost")["published"], false);
    let invalid = gql(
        &author,
        &create,
        json!({"input": {"title": "", "content": "x\u{0}y"}}),
    )
    .await;
    assert_eq!(code(&invalid), "VALIDATION_ERROR");
    assert_eq!(fields(&invalid), ["title", "content"]);

    // A draft: its author and moderators see it, anyone else is told it does not exist.
    let read = format!("query($slug: String!) {{ post(slug: $slug) {{ {POST} }} }}");
    for caller in [
        &app.anonymous(),
        &reader.caller,
        &author.caller,
        &moderator.caller,
    ] {
        let answer = gql(caller, &read, json!({"slug": "winter-camping-2"})).await;
        let rest = caller.get("/api/v1/posts/winter-camping-2").await;
        if rest.status.is_success() {
            assert_eq!(data(&answer, "post"), &rest.body["data"]);
        } else {
            assert_eq!(code(&answer), rest_code(&rest));
        }
    }

    let comment = format!(
        "mutation($slug: String!, $content: String!) {{ addComment(slug: $slug, content: $content) {{ {COMMENT} }} }}"
    );
    let added = gql(
        &reader,
        &comment,
        json!({"slug": "winter-camping", "content": "Which stove?"}),
    )
    .await;
    let rest_comments = app.get("/api/v1/posts/winter-camping/comments").await;
    assert_eq!(data(&added, "addComment"), &rest_comments.body["data"][0]);
    let anonymous = gql(
        &app.anonymous(),
        &comment,
        json!({"slug": "winter-camping", "content": "Hi"}),
    )
    .await;
    assert_eq!(code(&anonymous), "UNAUTHORIZED");
    let on_a_draft = gql(
        &reader,
        &comment,
        json!({"slug": "winter-camping-2", "content": "Hi"}),
    )
    .await;
    let rest = reader
        .post(
            "/api/v1/posts/winter-camping-2/comments",
            &json!({"content": "Hi"}),
        )
        .await;
    assert_eq!(code(&on_a_draft), rest_code(&rest));
    let blank = gql(
        &reader,
        &comment,
        json!({"slug": "winter-camping", "content": " "}),
    )
    .await;
    assert_eq!(code(&blank), "VALIDATION_ERROR");
    assert_eq!(fields(&blank), ["content"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM comments", []).await, 1);

    let list = format!(
        "query($tag: String) {{ posts(tag: $tag) {{ items {{ {POST} comments {{ {COMMENT} }} }} pagination {{ page limit total totalPages }} }} }}"
    );
    let answer = gql(&app.anonymous(), &list, json!({"tag": "winter"})).await;
    let rest = app.get("/api/v1/posts?tag=winter").await;
    let items = data(&answer, "posts")["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let mut expected = rest.body["data"][0].clone();
    expected["comments"] = rest_comments.body["data"].clone();
    assert_eq!(items[0], expected);
    assert_eq!(
        data(&answer, "posts")["pagination"],
        rest.body["pagination"]
    );

    // Reviews: one per user and product, as over REST.
    let admin = app.admin().await;
    let tent = admin.create_product(json!({"name": "Tent"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let review = format!(
        "mutation($p: ID!, $r: Int!, $c: String) {{ addReview(productId: $p, rating: $r, comment: $c) {{ {REVIEW} }} }}"
    );
    let added = gql(&reader, &review, json!({"p": tent, "r": 5, "c": "Dry"})).await;
    assert_eq!(
        data(&added, "addReview"),
        &app.get(&format!("/api/v1/products/{tent}/reviews"))
            .await
            .body["data"][0]
    );
    let twice = gql(&reader, &review, json!({"p": tent, "r": 4})).await;
    let rest = reader
        .post(
            &format!("/api/v1/products/{tent}/reviews"),
            &json!({"rating": 4}),
        )
        .await;
    assert_eq!(code(&twice), rest_code(&rest));
    assert_eq!(code(&twice), "CONFLICT");
    let out_of_range = gql(&author, &review, json!({"p": tent, "r": 6})).await;
    assert_eq!(code(&out_of_range), "VALIDATION_ERROR");
    assert_eq!(fields(&out_of_range), ["rating"]);
    assert_eq!(product(&app, &tent).await["reviewCount"], 1);
}

/// Nested lists and references are loaded per kind, not per row: the statement count of a page
/// does not depend on its size.
#[tokio::test]
async fn a_page_costs_the_same_statements_whatever_its_size() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ann = app.user().await;
    let mut products = Vec::new();
    for n in 0..10 {
        let id = admin
            .create_product(json!({"name": format!("Product {n}"), "inStock": 1000}))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ann.post(
            &format!("/api/v1/products/{id}/reviews"),
            &json!({"rating": 3, "comment": "fine"}),
        )
        .await
        .assert_status(201);
        products.push(id);
    }
    for n in 0..20 {
        ann.post(
            "/api/v1/orders",
            &json!({"items": [
                {"productId": products[n % 10], "quantity": 1},
                {"productId": products[(n + 3) % 10], "quantity": 2},
            ]}),
        )
        .await
        .assert_status(201);
        let post = ann
            .post(
                "/api/v1/posts",
                &json!({"title": format!("Post {n}"), "content": "text", "tags": ["a", format!("t{n}")], "published": true}),
            )
            .await;
        post.assert_status(201);
        let slug = post.body["data"]["slug"].as_str().unwrap().to_owned();
        admin
            .post(
                &format!("/api/v1/posts/{slug}/comments"),
                &json!({"content": "first"}),
            )
            .await
            .assert_status(201);
    }

    let orders = |limit: u32| {
        format!(
            "{{ orders(limit: {limit}) {{ items {{ id total items {{ quantity product {{ {PRODUCT} reviews {{ {REVIEW} }} }} }} }} pagination {{ total }} }} }}"
        )
    };
    let posts = |limit: u32| {
        format!(
            "{{ posts(limit: {limit}) {{ items {{ {POST} comments {{ {COMMENT} }} }} pagination {{ total }} }} }}"
        )
    };
    let mut counts = Vec::new();
    for (what, query) in [("orders", orders(2)), ("orders", orders(20))] {
        let answer = gql(&ann, &query, json!({})).await;
        assert_eq!(data(&answer, what)["pagination"]["total"], 20);
        counts.push(answer.db_statements());
    }
    for (what, query) in [("posts", posts(2)), ("posts", posts(20))] {
        let answer = gql(&ann, &query, json!({})).await;
        let items = data(&answer, what)["items"].as_array().unwrap();
        assert!(
            items
                .iter()
                .all(|post| post["comments"][0]["content"] == "first")
        );
        counts.push(answer.db_statements());
    }
    let [orders_of_2, orders_of_20, posts_of_2, posts_of_20] = counts[..] else {
        unreachable!()
    };
    eprintln!(
        "statements: 2 orders {orders_of_2}, 20 orders {orders_of_20}, 2 posts {posts_of_2}, 20 posts {posts_of_20}"
    );
    assert_eq!(
        orders_of_2, orders_of_20,
        "orders with items, products and reviews"
    );
    assert_eq!(
        posts_of_2, posts_of_20,
        "posts with authors, tags and comments"
    );
    assert!(orders_of_20 <= 6, "{orders_of_20}");
    assert!(posts_of_20 <= 6, "{posts_of_20}");
}

#[tokio::test]
async fn too_deep_or_too_complex_queries_are_refused_before_they_run() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();

    // 13 levels: refused whole, with no data.
    let mut deep = "name".to_owned();
    for _ in 0..10 {
        deep = format!("ofType {{ {deep} }}");
    }
    let too_deep = gql(
        &anonymous,
        &format!("{{ __type(name: \"Query\") {{ fields {{ type {{ {deep} }} }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(code(&too_deep), "VALIDATION_ERROR");
    assert!(too_deep.body["data"].is_null(), "{}", too_deep.text);
    assert!(
        too_deep.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deep"),
        "{}",
        too_deep.text
    );

    // 100 products with 100 reviews each is 10,000 objects: over the budget.
    let too_complex = gql(
        &anonymous,
        "{ products(first: 100) { edges { node { reviews(first: 100) { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&too_complex), "VALIDATION_ERROR");
    assert!(
        too_complex.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{}",
        too_complex.text
    );
    let within = gql(
        &anonymous,
        "{ products(first: 20) { edges { node { reviews(first: 10) { id } } } } }",
        json!({}),
    )
    .await;
    assert!(within.body["errors"].is_null(), "{}", within.text);

    // Introspection fits the limits: a depth-9 query, and the one GraphiQL's page sends.
    let depth_nine = gql(
        &anonymous,
        "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }",
        json!({}),
    )
    .await;
    assert!(depth_nine.body["errors"].is_null(), "{}", depth_nine.text);
    let page_query = app.get("/graphql/assets/introspection.graphql").await;
    page_query.assert_status(200);
    let introspection = gql(&anonymous, &page_query.text, json!({})).await;
    assert_eq!(
        data(&introspection, "__schema")["queryType"]["name"],
        "Query",
        "{}",
        introspection.text
    );

    // Documents the parser refuses, and fields that do not exist.
    for query in ["{ products {", "{ nope }", "{ product(id: 1) { nope } }"] {
        let refused = gql(&anonymous, query, json!({})).await;
        assert_eq!(
            refused.body["errors"][0]["extensions"]["code"], "VALIDATION_ERROR",
            "{query}: {}",
            refused.text
        );
    }
}

#[tokio::test]
async fn get_runs_queries_only_and_posts_are_bounded() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();

    let query = anonymous
        .get("/graphql?query=%7B%20categories%20%7B%20id%20%7D%20%7D")
        .await;
    query.assert_status(200);
    assert_eq!(query.body["data"]["categories"], json!([]));
    let mutation = anonymous
        .get("/graphql?query=mutation%20%7B%20refresh(refreshToken%3A%20%22x%22)%20%7B%20token%20%7D%20%7D")
        .await;
    mutation.assert_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(mutation.header("allow").as_deref(), Some("GET, POST"));

    let big = "a".repeat(1024 * 1024);
    let too_big = anonymous
        .post(
            "/graphql",
            &json!({ "query": format!("{{ categories {{ id }} }} # {big}") }),
        )
        .await;
    too_big.assert_error(413, "PAYLOAD_TOO_LARGE");
    let not_json = app
        .send(
            app.request(Method::POST, "/graphql")
                .header("content-type", "application/json")
                .body("[1, 2]"),
        )
        .await;
    not_json.assert_error(400, "VALIDATION_ERROR");

    // An internal failure is INTERNAL_ERROR with nothing of its cause.
    let admin = app.admin().await;
    let product = admin.create_product(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.execute("DROP TABLE reviews", []).await;
    let broken = gql(
        &anonymous,
        "query($id: ID!) { product(id: $id) { name reviews { id } } }",
        json!({"id": product}),
    )
    .await;
    assert_eq!(code(&broken), "INTERNAL_ERROR");
    assert_eq!(broken.body["errors"][0]["message"], "Internal server error");
    for internal in ["table", "relation", "sql", "select"] {
        assert!(
            !broken.text.to_lowercase().contains(internal),
            "{}",
            broken.text
        );
    }
}

#[tokio::test]
async fn the_rate_limiter_counts_graphql_requests() {
    let app = spawn_app_with(|config| config.rate_limit_max = 2).await;
    let anonymous = app.anonymous();
    for _ in 0..2 {
        gql(&anonymous, "{ categories { id } }", json!({})).await;
    }

    let limited = anonymous
        .post("/graphql", &json!({ "query": "{ categories { id } }" }))
        .await;

    limited.assert_error(429, "RATE_LIMITED");
    assert!(limited.header("retry-after").is_some());
}

#[tokio::test]
async fn graphql_schema_prints_the_reviewed_sdl() {
    const SNAPSHOT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/snapshots/schema.graphql"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ecommerce-api"))
        .arg("graphql-schema")
        .env_clear()
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sdl = String::from_utf8(output.stdout).unwrap();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &sdl).unwrap();
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).expect("the snapshot exists");
    assert!(
        sdl == snapshot,
        "the GraphQL schema changed; review it and run UPDATE_SNAPSHOTS=1 cargo test graphql_schema"
    );
    for definition in [
        "type Query",
        "type Mutation",
        "scalar Money",
        "type ProductConnection",
    ] {
        assert!(sdl.contains(definition), "{definition}");
    }
}
