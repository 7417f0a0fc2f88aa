//! Status changes: the contract's state machine, enforced here and nowhere else. Cancelling
//! returns the stock in the same transaction, and every change appends to the history.

use sea_orm::{ConnectionTrait, Value};

use super::{EVENT_STATUS_CHANGED, Order, find_visible, record_event, stock_changed};
use crate::db::{self, Db, outbox};
use crate::domain::{Actor, DomainEvent, OrderId, OrderStatus};
use crate::error::AppError;

/// Attempts when another request changed the order between our read and our write.
const RACE_ATTEMPTS: u32 = 3;

/// `POST /orders/{id}/cancel`: the owner may cancel a PENDING order; an admin may cancel
/// whatever the state machine allows (PENDING or CONFIRMED).
pub async fn cancel(db: &Db, actor: &Actor, id: OrderId) -> Result<Order, AppError> {
    transition(db, actor, id, OrderStatus::Cancelled).await
}

/// `PATCH /orders/{id}/status` (admins): any move the state machine allows.
pub async fn change_status(
    db: &Db,
    actor: &Actor,
    id: OrderId,
    to: OrderStatus,
) -> Result<Order, AppError> {
    if !actor.is_admin() {
        return Err(AppError::Forbidden);
    }
    transition(db, actor, id, to).await
}

async fn transition(
    db: &Db,
    actor: &Actor,
    id: OrderId,
    to: OrderStatus,
) -> Result<Order, AppError> {
    for _ in 0..RACE_ATTEMPTS {
        let txn = db.begin_write().await?;
        let mut order = find_visible(&txn, actor, id).await?;
        let from = order.status;
        let owner_may = to == OrderStatus::Cancelled && from == OrderStatus::Pending;
        if !from.can_become(to) || !(actor.is_admin() || owner_may) {
            return Err(AppError::InvalidStatusTransition {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        // Conditional on the status we read: if another request moved the order meanwhile,
        // nothing changes and we decide again from the new status.
        let now = db::now();
        let moved = txn
            .execute_raw(db::sql(
                &txn,
                "UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
                [
                    to.as_str().into(),
                    Value::from(now),
                    id.into(),
                    from.as_str().into(),
                ],
            ))
            .await?;
        if moved.rows_affected() == 0 {
            continue;
        }
        if to == OrderStatus::Cancelled {
            // Items are sorted by product id, the order placing takes its locks in. The stock
            // column holds a 32-bit number: units returned on top of a stock an admin set near
            // the top stop there rather than overflow it.
            for item in &order.items {
                txn.execute_raw(db::sql(
                    &txn,
                    "UPDATE products SET in_stock = CASE WHEN in_stock > 2147483647 - $1 \
                       THEN 2147483647 ELSE in_stock + $1 END WHERE id = $2",
                    [Value::from(item.quantity), item.product_id.into()],
                ))
                .await?;
            }
        }
        record_event(&txn, id, EVENT_STATUS_CHANGED, Some(from), to, actor.id).await?;
        outbox::append(
            &txn,
            DomainEvent::OrderStatusChanged {
                order_id: id,
                from_status: from,
                to_status: to,
                actor_id: actor.id,
            },
        )
        .await?;
        txn.commit().await?;
        db.wake().outbox();
        if to == OrderStatus::Cancelled {
            db.wake().catalog(stock_changed(&order)).await;
        }
        order.status = to;
        order.updated_at = now;
        return Ok(order);
    }
    Err(AppError::Conflict(
        "The order is being changed by another request; try again".into(),
    ))
}
