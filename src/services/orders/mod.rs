//! Orders: placement without overselling (`place`), the status machine (`lifecycle`), and
//! reads scoped to their owner.
//!
//! Owners see their own orders and admins see all; for anyone else an order does not exist
//! (404, never 403), so order ids leak nothing.

mod lifecycle;
mod place;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use self::lifecycle::{cancel, change_status};
pub use self::place::{
    IDEMPOTENCY_KEY_LIFETIME, IdempotencyKey, OrderLine, PlaceOrder, Placement, place_order,
};
use crate::db::{self, Db, Params, money};
use crate::domain::{
    Actor, CatalogChange, Money, OrderId, OrderStatus, PageRequest, Pagination, ProductId, UserId,
    Validation, non_blank,
};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub status: OrderStatus,
    /// The sum of every item's price × quantity, at the prices when the order was placed.
    pub total: Money,
    pub customer_id: UserId,
    pub items: Vec<OrderItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What placing or cancelling `order` changed in the catalog: its products' stock.
fn stock_changed(order: &Order) -> CatalogChange {
    CatalogChange::Products(order.items.iter().map(|item| item.product_id).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: ProductId,
    /// The product's name when the order was placed.
    pub product_name: String,
    pub quantity: i32,
    /// The unit price when the order was placed.
    pub price: Money,
}

/// One step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    /// `placed` or `status_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `null` for `placed`.
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    /// Who made the change; `null` once that account is deleted.
    pub actor_id: Option<UserId>,
    pub at: DateTime<Utc>,
}

pub(crate) const EVENT_PLACED: &str = "placed";
pub(crate) const EVENT_STATUS_CHANGED: &str = "status_changed";

fn status(row: &QueryResult, column: &str) -> Result<OrderStatus, DbErr> {
    let raw: String = row.try_get("", column)?;
    raw.parse()
        .map_err(|()| DbErr::Type(format!("{column} holds an unknown status {raw:?}")))
}

/// The orders of these rows with their items, loaded in one more query whatever the count.
async fn with_items(
    db: &impl ConnectionTrait,
    rows: Vec<QueryResult>,
) -> Result<Vec<Order>, AppError> {
    let backend = db.get_database_backend();
    let mut orders = rows
        .iter()
        .map(|row| {
            Ok(Order {
                id: row.try_get("", "id")?,
                status: status(row, "status")?,
                total: money::read(row, "total", backend)?,
                customer_id: row.try_get("", "customer_id")?,
                items: Vec::new(),
                created_at: row.try_get("", "created_at")?,
                updated_at: row.try_get("", "updated_at")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    if orders.is_empty() {
        return Ok(orders);
    }
    let mut params = Params::default();
    let placeholders: Vec<String> = orders.iter().map(|o| params.push(o.id)).collect();
    let items = db
        .query_all_raw(db::sql(
            db,
            &format!(
                "SELECT order_id, product_id, product_name, quantity, price FROM order_items \
                 WHERE order_id IN ({}) ORDER BY order_id, product_id",
                placeholders.join(", ")
            ),
            params.into_values(),
        ))
        .await?;
    let mut by_order: HashMap<OrderId, Vec<OrderItem>> = HashMap::new();
    for row in &items {
        by_order
            .entry(row.try_get("", "order_id")?)
            .or_default()
            .push(item(row, backend)?);
    }
    for order in &mut orders {
        order.items = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(orders)
}

fn item(row: &QueryResult, backend: DbBackend) -> Result<OrderItem, DbErr> {
    Ok(OrderItem {
        product_id: row.try_get("", "product_id")?,
        product_name: row.try_get("", "product_name")?,
        quantity: row.try_get("", "quantity")?,
        price: money::read(row, "price", backend)?,
    })
}

const ORDER_COLUMNS: &str = "id, status, total, customer_id, created_at, updated_at";

/// The order if the actor may see it: their own, or any for an admin.
pub(crate) async fn find_visible(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: OrderId,
) -> Result<Order, AppError> {
    let mut params = Params::default();
    let mut sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = {}",
        params.push(id)
    );
    if !actor.is_admin() {
        sql.push_str(&format!(" AND customer_id = {}", params.push(actor.id)));
    }
    let rows = db
        .query_all_raw(db::sql(db, &sql, params.into_values()))
        .await?;
    with_items(db, rows)
        .await?
        .pop()
        .ok_or(AppError::NotFound("Order"))
}

pub async fn get(db: &Db, actor: &Actor, id: OrderId) -> Result<Order, AppError> {
    find_visible(db.read(), actor, id).await
}

/// `GET /orders` filters, checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    /// Admins only; for anyone else the list is always their own.
    pub customer: Option<UserId>,
}

impl OrderQuery {
    pub fn parse(v: &mut Validation, status: Option<&str>, customer: Option<&str>) -> Option<Self> {
        let status = v.field(
            "status",
            non_blank(status).map(OrderStatus::parse).transpose(),
        );
        let customer = v.field(
            "customerId",
            non_blank(customer).map(UserId::parse).transpose(),
        );
        Some(OrderQuery {
            status: status?,
            customer: customer?,
        })
    }
}

/// The actor's orders (an admin's: everyone's, optionally one customer's), newest first.
pub async fn list(
    db: &Db,
    actor: &Actor,
    query: OrderQuery,
    page: PageRequest,
) -> Result<(Vec<Order>, Pagination), AppError> {
    let mut params = Params::default();
    let mut conditions = Vec::new();
    let customer = if actor.is_admin() {
        query.customer
    } else {
        Some(actor.id)
    };
    if let Some(customer) = customer {
        conditions.push(format!("customer_id = {}", params.push(customer)));
    }
    if let Some(status) = query.status {
        conditions.push(format!("status = {}", params.push(status.as_str())));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    // The page takes the filter's values, then its own.
    let mut page_params = params.clone();
    // A customer's orders are a short index range to count; every order, or every order of
    // one status, is a scan that grows with the shop, so those totals come from the counts
    // the triggers of migration 8 keep (the filter is then at most the status, a column of
    // both tables).
    let count_sql = match customer {
        Some(_) => format!("SELECT COUNT(*) FROM orders {filter}"),
        None => format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM order_counts {filter}"),
    };
    let total: i64 = db
        .read()
        .query_one_raw(db::sql(db.read(), &count_sql, params.into_values()))
        .await?
        .ok_or_else(|| anyhow::anyhow!("a count returns a row"))?
        .try_get_by_index(0)?;

    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders {filter} \
         ORDER BY created_at DESC, id DESC {}",
        page_params.page(page),
    );
    let rows = db
        .read()
        .query_all_raw(db::sql(db.read(), &sql, page_params.into_values()))
        .await?;
    let orders = with_items(db.read(), rows).await?;
    Ok((
        orders,
        Pagination::new(page, u64::try_from(total).unwrap_or(0)),
    ))
}

/// The order's history, oldest first.
pub async fn events(db: &Db, actor: &Actor, id: OrderId) -> Result<Vec<OrderEvent>, AppError> {
    find_visible(db.read(), actor, id).await?;
    let rows = db
        .read()
        .query_all_raw(db::sql(
            db.read(),
            "SELECT kind, from_status, to_status, actor_id, created_at FROM order_events \
             WHERE order_id = $1 ORDER BY created_at, id",
            [id.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let from: Option<String> = row.try_get("", "from_status")?;
            Ok(OrderEvent {
                kind: row.try_get("", "kind")?,
                from_status: from
                    .map(|raw| {
                        raw.parse().map_err(|()| {
                            DbErr::Type(format!("from_status holds an unknown status {raw:?}"))
                        })
                    })
                    .transpose()?,
                to_status: status(row, "to_status")?,
                actor_id: row.try_get("", "actor_id")?,
                at: row.try_get("", "created_at")?,
            })
        })
        .collect::<Result<_, DbErr>>()?)
}

/// Appends one step to an order's history, in the caller's transaction.
pub(crate) async fn record_event(
    db: &impl ConnectionTrait,
    order: OrderId,
    kind: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: UserId,
) -> Result<(), DbErr> {
    db.execute_raw(db::sql(
        db,
        "INSERT INTO order_events (id, order_id, kind, from_status, to_status, actor_id, \
           created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            uuid::Uuid::now_v7().into(),
            order.into(),
            kind.into(),
            from.map(OrderStatus::as_str).into(),
            to.as_str().into(),
            actor.into(),
            Value::from(db::now()),
        ],
    ))
    .await?;
    Ok(())
}
