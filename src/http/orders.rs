//! `/api/v1/orders`: placing (with `Idempotency-Key`), reading, cancelling, status changes
//! and history.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{DEFAULT_LIMIT, OrderId, OrderStatus, PageRequest, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Data, Paginated};
use crate::http::extract::{Admin, AuthUser, Json, Path, Query, RequireRole};
use crate::http::field::{Field, list_of};
use crate::services::orders::{
    self, IdempotencyKey, Order, OrderEvent, OrderLine, OrderQuery, PlaceOrder, Placement,
};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place, list))
        .routes(routes!(get))
        .routes(routes!(cancel))
        .routes(routes!(change_status))
        .routes(routes!(events))
}

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that repeats the stored answer to an earlier request with the same key.
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// 1 to 100 lines, each product at most once.
    #[schema(value_type = Vec<OrderLineRequest>, min_items = 1, max_items = 100)]
    pub items: Field<Vec<Field<OrderLineRequest>>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineRequest {
    #[schema(value_type = String, format = Uuid)]
    pub product_id: Field<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 10000)]
    pub quantity: Field<i64>,
}

/// Place an order.
///
/// Prices come from the catalog (any price in the body is ignored) and stock is taken
/// atomically: with concurrent buyers stock never goes below zero, and an order is placed
/// whole or not at all. A line naming an unknown or archived product is a 400 naming it;
/// short stock is a 409 `INSUFFICIENT_STOCK` whose `details` name each short line.
///
/// With an `Idempotency-Key` header (scoped to the caller, kept 24 hours), repeating the
/// request returns the stored answer — the same order and status, or the same refusal — with
/// `Idempotent-Replayed: true`, and takes no more stock; the same key with a different body
/// is a 409 `IDEMPOTENCY_KEY_REUSED`.
#[utoipa::path(post, operation_id = "placeOrder", path = "/api/v1/orders", tag = "orders",
    security(("bearerAuth" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 visible ASCII characters, unique per request you mean")),
    request_body = PlaceOrderRequest,
    responses(
        (status = 201, description = "Placed (or replayed)", body = Data<Order>),
        (status = 409, description = "`INSUFFICIENT_STOCK` or `IDEMPOTENCY_KEY_REUSED`",
         body = ErrorEnvelope),
    ))]
pub async fn place(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    headers: HeaderMap,
    Json(body): Json<PlaceOrderRequest>,
) -> Result<Response, AppError> {
    let mut v = Validation::default();
    let Some(key) = v.field(
        "Idempotency-Key",
        headers
            .get(&IDEMPOTENCY_KEY)
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| crate::domain::Invalid::new("must be visible ASCII"))
                    .and_then(IdempotencyKey::parse)
            })
            .transpose(),
    ) else {
        return Err(v.into());
    };
    let order = PlaceOrder::parse(list_of(&body.items, |line| OrderLine {
        product_id: line.product_id.as_deref().input(),
        quantity: line.quantity.clone().input(),
    }))?;
    let (mut response, replayed) =
        match orders::place_order(&state.db, &actor, key.as_ref(), &order).await {
            Ok(Placement::Created(order)) => (Data::new(order).created().into_response(), false),
            Ok(Placement::Replayed(order)) => (Data::new(order).created().into_response(), true),
            Err(refusal @ AppError::Replayed(_)) => (refusal.into_response(), true),
            Err(error) => return Err(error),
        };
    if replayed {
        response.headers_mut().insert(
            IDEMPOTENT_REPLAYED.clone(),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// `PENDING`, `CONFIRMED`, `SHIPPED`, `DELIVERED` or `CANCELLED`.
    #[param(value_type = Option<OrderStatus>)]
    pub status: Option<String>,
    /// Admins only: one customer's orders. Ignored for anyone else, whose list is their own.
    #[param(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<String>,
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    /// 1 to 100; default 10.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// The caller's orders, newest first; admins see everyone's.
#[utoipa::path(get, operation_id = "listOrders", path = "/api/v1/orders", tag = "orders",
    security(("bearerAuth" = [])),
    params(OrderListQuery),
    responses((status = 200, description = "A page of orders", body = Paginated<Order>)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Query(query): Query<OrderListQuery>,
) -> Result<Paginated<Order>, AppError> {
    let mut v = Validation::default();
    let filters = OrderQuery::parse(
        &mut v,
        query.status.as_deref(),
        query.customer_id.as_deref(),
    );
    let page = PageRequest::parse(
        &mut v,
        query.page.as_deref(),
        query.limit.as_deref(),
        DEFAULT_LIMIT,
    );
    let (Some(filters), Some(page)) = (filters, page) else {
        return Err(v.into());
    };
    let (orders, pagination) = orders::list(&state.db, &actor, filters, page).await?;
    Ok(Paginated::new(orders, pagination))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrderPath {
    #[param(value_type = String, format = Uuid)]
    pub id: OrderId,
}

/// One order: the owner's or, for an admin, anyone's. Anyone else gets 404.
#[utoipa::path(get, operation_id = "getOrder", path = "/api/v1/orders/{id}", tag = "orders",
    security(("bearerAuth" = [])),
    params(OrderPath),
    responses(
        (status = 200, description = "The order", body = Data<Order>),
        (status = 404, description = "No such order, or not yours", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<OrderPath>,
) -> Result<Data<Order>, AppError> {
    Ok(Data::new(orders::get(&state.db, &actor, path.id).await?))
}

/// Cancel an order and return its stock: the owner while it is PENDING, an admin while it is
/// PENDING or CONFIRMED.
#[utoipa::path(post, operation_id = "cancelOrder", path = "/api/v1/orders/{id}/cancel", tag = "orders",
    security(("bearerAuth" = [])),
    params(OrderPath),
    responses(
        (status = 200, description = "Cancelled", body = Data<Order>),
        (status = 404, description = "No such order, or not yours", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`", body = ErrorEnvelope),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<OrderPath>,
) -> Result<Data<Order>, AppError> {
    let order = orders::cancel(&state.db, &actor, path.id).await?;
    Ok(Data::with_message(order, "Order cancelled"))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeStatusRequest {
    #[schema(value_type = OrderStatus)]
    pub status: Field<String>,
}

/// Move an order along its life (admins only): PENDING → CONFIRMED → SHIPPED → DELIVERED,
/// or PENDING/CONFIRMED → CANCELLED (stock returned). Anything else is a 409.
#[utoipa::path(patch, operation_id = "updateOrderStatus", path = "/api/v1/orders/{id}/status", tag = "orders",
    security(("bearerAuth" = [])),
    params(OrderPath),
    request_body = ChangeStatusRequest,
    responses(
        (status = 200, description = "The order in its new status", body = Data<Order>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such order", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`", body = ErrorEnvelope),
    ))]
pub async fn change_status(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<OrderPath>,
    Json(body): Json<ChangeStatusRequest>,
) -> Result<Data<Order>, AppError> {
    let mut v = Validation::default();
    let to = v.required("status", body.status.as_deref().input(), OrderStatus::parse);
    let to = v.finish(to)?;
    let order = orders::change_status(&state.db, &admin, path.id, to).await?;
    Ok(Data::with_message(order, "Order status updated"))
}

/// The order's history, oldest first.
#[utoipa::path(get, operation_id = "listOrderEvents", path = "/api/v1/orders/{id}/events", tag = "orders",
    security(("bearerAuth" = [])),
    params(OrderPath),
    responses(
        (status = 200, description = "Every change, oldest first", body = Data<Vec<OrderEvent>>),
        (status = 404, description = "No such order, or not yours", body = ErrorEnvelope),
    ))]
pub async fn events(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<OrderPath>,
) -> Result<Data<Vec<OrderEvent>>, AppError> {
    Ok(Data::new(orders::events(&state.db, &actor, path.id).await?))
}
