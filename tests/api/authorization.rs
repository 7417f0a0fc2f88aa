//! The services are the only gate: every administrative use case refuses a non-admin actor
//! when called directly, the way a second transport, a job or the CLI would call it.

use ecommerce_api::domain::{
    Actor, CategoryId, JobId, OrderId, OrderStatus, PageRequest, ProductId, Role, UserId,
};
use ecommerce_api::error::AppError;
use ecommerce_api::services::catalog::categories::{self, CategoryName};
use ecommerce_api::services::catalog::products::{
    self, NewProduct, PriceChangeInput, PriceChanges, ProductUpdate,
};
use ecommerce_api::services::{jobs, orders, users};
use serde_json::json;
use serde_json::value::RawValue;

use crate::harness::{id_value, spawn_app};

fn forbidden<T: std::fmt::Debug>(rule: &str, result: Result<T, AppError>) {
    assert!(
        matches!(result, Err(AppError::Forbidden)),
        "{rule}: {result:?}"
    );
}

#[tokio::test]
async fn every_admin_only_use_case_refuses_users_and_moderators_in_the_service() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let other = app.user().await;
    let category: CategoryId = admin.create_category("Tents").await.parse().unwrap();
    let product: ProductId = admin.create_product(json!({"inStock": 5})).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let order = other
        .post(
            "/api/v1/orders",
            &json!({"items": [{"productId": product.to_string(), "quantity": 1}]}),
        )
        .await;
    order.assert_status(201);
    let order: OrderId = order.body["data"]["id"].as_str().unwrap().parse().unwrap();
    let other_id: UserId = other.id.parse().unwrap();
    let db = &app.state.db;
    let price = RawValue::from_string("\"1.00\"".to_owned()).unwrap();
    let page = PageRequest { page: 1, limit: 10 };

    for role in [Role::User, Role::Moderator] {
        let actor = Actor {
            id: UserId::generate(),
            role,
        };
        let name = || CategoryName::parse("Renamed").unwrap();
        forbidden(
            "create a category",
            categories::create(db, &actor, name()).await,
        );
        forbidden(
            "rename a category",
            categories::rename(db, &actor, category, name()).await,
        );
        forbidden(
            "delete a category",
            categories::delete(db, &actor, category).await,
        );
        let new = NewProduct::parse(
            Ok(Some("X")),
            Ok(None),
            Ok(Some(&price)),
            Ok(None),
            Ok(None),
        )
        .unwrap();
        forbidden("create a product", products::create(db, &actor, new).await);
        let update = ProductUpdate::parse(
            Ok(Some("Y")),
            Ok(ecommerce_api::domain::Patch::Keep),
            Ok(None),
            Ok(None),
            Ok(ecommerce_api::domain::Patch::Keep),
        )
        .unwrap();
        forbidden(
            "update a product",
            products::update(db, &actor, product, update).await,
        );
        forbidden(
            "delete a product",
            products::delete(db, &actor, product).await,
        );
        let id = product.to_string();
        let changes = PriceChanges::parse(Ok(Some(vec![Ok(Some(PriceChangeInput {
            id: Ok(Some(&id)),
            price: Ok(Some(&price)),
        }))])))
        .unwrap();
        forbidden(
            "change prices",
            products::change_prices(db, &actor, changes).await,
        );
        forbidden(
            "list users",
            users::list(db, &actor, Default::default(), page).await,
        );
        forbidden("user statistics", users::stats(db, &actor).await);
        forbidden(
            "change a role",
            users::set_role(db, &actor, other_id, Role::Admin).await,
        );
        forbidden("delete a user", users::delete(db, &actor, other_id).await);
        forbidden(
            "move an order along",
            orders::change_status(db, &actor, order, OrderStatus::Confirmed).await,
        );
        forbidden(
            "list jobs",
            jobs::list(db, &actor, &Default::default(), page).await,
        );
        forbidden(
            "retry a job",
            jobs::retry(db, &actor, JobId::generate()).await,
        );
    }

    assert_eq!(
        app.scalar::<String>("SELECT name FROM categories", [])
            .await
            .as_deref(),
        Some("Tents")
    );
    assert_eq!(
        app.scalar::<String>("SELECT name FROM products", [])
            .await
            .as_deref(),
        Some("Test Product")
    );
    assert_eq!(
        app.scalar::<String>(
            "SELECT role FROM users WHERE id = $1",
            [id_value(&other.id)]
        )
        .await
        .as_deref(),
        Some("USER")
    );
    assert_eq!(
        app.scalar::<String>("SELECT status FROM orders", [])
            .await
            .as_deref(),
        Some("PENDING")
    );
}
