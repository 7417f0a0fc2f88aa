//! Placing an order: one transaction that takes stock with conditional decrements, prices
//! the items from the catalog, and writes the order, its items and its first event — or
//! writes nothing.
//!
//! With an `Idempotency-Key`, the key row is inserted first in the same transaction
//! (`ON CONFLICT DO NOTHING`): a concurrent duplicate waits on the key's unique index until the
//! first commits, then finds its stored response and replays it, so one key never makes two
//! orders. The order work runs in a savepoint, so a refusal (short stock, unknown product) is
//! stored as the key's response too, as Stripe does: retrying the same request gets the same
//! answer, and only a new key asks again.

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EVENT_PLACED, Order, OrderItem, record_event};
use crate::db::{self, Db, Params, money, outbox};
use crate::domain::{
    Actor, DomainEvent, FieldError, Input, Invalid, Money, OrderId, OrderStatus, PlacedItem,
    ProductId, Validation,
};
use crate::error::{AppError, ErrorBody};

/// At most this many lines per order, and units per line.
const MAX_LINES: usize = 100;
const MAX_QUANTITY: u32 = 10_000;
/// How long a key and its stored response are kept.
pub const IDEMPOTENCY_KEY_LIFETIME: chrono::Duration = chrono::Duration::hours(24);
/// Attempts when SQLite reports the database busy despite its busy timeout.
const BUSY_ATTEMPTS: u32 = 3;

/// One line of `POST /orders` as sent.
#[derive(Debug)]
pub struct OrderLine<'a> {
    pub product_id: Input<&'a str>,
    pub quantity: Input<i64>,
}

/// `POST /orders`, checked: 1 to 100 lines, distinct products, 1 to 10,000 units each. Prices
/// are not part of it: they come from the catalog, whatever the client sent.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    lines: Vec<(ProductId, u32)>,
}

impl PlaceOrder {
    pub fn parse(items: Input<Vec<Input<OrderLine<'_>>>>) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let Some(lines) = v.required("items", items, |lines| {
            if lines.is_empty() || lines.len() > MAX_LINES {
                return Err(Invalid::new(format!("must list 1 to {MAX_LINES} products")));
            }
            Ok(lines)
        }) else {
            return Err(v.into());
        };
        let mut parsed = Vec::with_capacity(lines.len());
        let mut seen = HashSet::new();
        for (i, line) in lines.into_iter().enumerate() {
            let Some(line) = v.required(&format!("items[{i}]"), line, Ok) else {
                continue;
            };
            let product = v.required(
                &format!("items[{i}].productId"),
                line.product_id,
                ProductId::parse,
            );
            let quantity = v.required(&format!("items[{i}].quantity"), line.quantity, |q| {
                u32::try_from(q)
                    .ok()
                    .filter(|q| (1..=MAX_QUANTITY).contains(q))
                    .ok_or_else(|| {
                        Invalid::new(format!("must be a whole number from 1 to {MAX_QUANTITY}"))
                    })
            });
            if let Some(product) = product
                && !seen.insert(product)
            {
                v.fail(
                    &format!("items[{i}].productId"),
                    "appears more than once; combine the quantities",
                );
            }
            if let (Some(product), Some(quantity)) = (product, quantity) {
                parsed.push((product, quantity));
            }
        }
        Ok(v.finish(Some(PlaceOrder { lines: parsed }))?)
    }

    /// What makes two requests "the same" for an idempotency key: the lines, in any order.
    fn fingerprint(&self) -> String {
        let mut lines = self.lines.clone();
        lines.sort_unstable();
        let mut hasher = Sha256::new();
        for (product, quantity) in lines {
            hasher.update(format!("{product}:{quantity};"));
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters, scoped to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new(
                "must be 1 to 255 visible ASCII characters, such as a UUID",
            ));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }
}

/// What placing answered.
#[derive(Debug)]
pub enum Placement {
    Created(Order),
    /// The order an earlier request with the same key and body placed. (An earlier refusal
    /// comes back as the error [`AppError::Replayed`].)
    Replayed(Order),
}

/// What a key's first request came to, as stored with the key: the outcome, not a rendering
/// of it, so each transport renders it its own way and one key means one order over REST and
/// GraphQL alike.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Outcome {
    Order(Order),
    Refused(ErrorBody),
}

pub async fn place_order(
    db: &Db,
    actor: &Actor,
    key: Option<&IdempotencyKey>,
    order: &PlaceOrder,
) -> Result<Placement, AppError> {
    let mut attempt = 1;
    loop {
        match place_once(db, actor, key, order).await {
            Err(AppError::Internal(error))
                if attempt < BUSY_ATTEMPTS
                    && error
                        .downcast_ref::<sea_orm::DbErr>()
                        .is_some_and(db::is_busy) =>
            {
                tracing::warn!(attempt, "the database was busy; placing the order again");
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn place_once(
    db: &Db,
    actor: &Actor,
    key: Option<&IdempotencyKey>,
    order: &PlaceOrder,
) -> Result<Placement, AppError> {
    let txn = db.begin_write().await?;
    let Some(key) = key else {
        let placed = take_stock_and_write(&txn, actor, order).await?;
        txn.commit().await?;
        db.wake().outbox();
        db.wake().catalog(super::stock_changed(&placed)).await;
        return Ok(Placement::Created(placed));
    };

    let fingerprint = order.fingerprint();
    if let Some(earlier) = claim_key(&txn, actor, key, &fingerprint).await? {
        return earlier;
    }
    let savepoint = txn.begin().await?;
    let (outcome, result) = match take_stock_and_write(&savepoint, actor, order).await {
        Ok(placed) => {
            savepoint.commit().await?;
            (
                Outcome::Order(placed.clone()),
                Ok(Placement::Created(placed)),
            )
        }
        Err(refusal @ (AppError::InsufficientStock(_) | AppError::Validation(_))) => {
            savepoint.rollback().await?;
            (Outcome::Refused(refusal.envelope().error), Err(refusal))
        }
        Err(other) => return Err(other),
    };
    let outcome = serde_json::to_string(&outcome).map_err(anyhow::Error::from)?;
    txn.execute_raw(db::sql(
        &txn,
        "UPDATE idempotency_keys SET outcome = $1 WHERE user_id = $2 AND key = $3",
        [Value::from(outcome), actor.id.into(), key.0.as_str().into()],
    ))
    .await?;
    txn.commit().await?;
    if let Ok(Placement::Created(placed)) = &result {
        db.wake().outbox();
        db.wake().catalog(super::stock_changed(placed)).await;
    }
    result
}

/// Inserts the key, or returns what an earlier request with it answered. Expired keys of the
/// caller are removed first, so a key older than 24 hours counts as new.
async fn claim_key(
    txn: &DatabaseTransaction,
    actor: &Actor,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<Result<Placement, AppError>>, AppError> {
    let now = db::now();
    txn.execute_raw(db::sql(
        txn,
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < $2",
        [actor.id.into(), Value::from(now - IDEMPOTENCY_KEY_LIFETIME)],
    ))
    .await?;
    let claimed = txn
        .execute_raw(db::sql(
            txn,
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING",
            [
                actor.id.into(),
                key.0.as_str().into(),
                fingerprint.into(),
                Value::from(now),
            ],
        ))
        .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let row = txn
        .query_one_raw(db::sql(
            txn,
            "SELECT request_hash, outcome, response_status, response_body \
             FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            [actor.id.into(), key.0.as_str().into()],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("a conflicting idempotency key vanished"))?;
    let stored_hash: String = row.try_get("", "request_hash")?;
    if stored_hash != fingerprint {
        return Ok(Some(Err(AppError::IdempotencyKeyReused)));
    }
    let outcome: Option<String> = row.try_get("", "outcome")?;
    let outcome = match outcome {
        Some(outcome) => Some(serde_json::from_str(&outcome).map_err(anyhow::Error::from)?),
        None => legacy_outcome(
            row.try_get("", "response_status")?,
            row.try_get("", "response_body")?,
        )?,
    };
    Ok(Some(match outcome {
        Some(Outcome::Order(order)) => Ok(Placement::Replayed(order)),
        Some(Outcome::Refused(error)) => Err(AppError::Replayed(error)),
        // The key is committed only with its outcome, so this is another instance's request
        // still in flight on a database that did not make us wait.
        None => Err(AppError::Conflict(
            "A request with this Idempotency-Key is still in progress".into(),
        )),
    }))
}

/// A key stored before outcomes were (within the 24 hours keys live, the REST rendering: the
/// order for a 201, else the error envelope).
fn legacy_outcome(status: Option<i16>, body: Option<String>) -> Result<Option<Outcome>, AppError> {
    let (Some(status), Some(body)) = (status, body) else {
        return Ok(None);
    };
    Ok(Some(if status == 201 {
        Outcome::Order(serde_json::from_str(&body).map_err(anyhow::Error::from)?)
    } else {
        let envelope: crate::error::ErrorEnvelope =
            serde_json::from_str(&body).map_err(anyhow::Error::from)?;
        Outcome::Refused(envelope.error)
    }))
}

/// Takes the stock of every line, in product-id order so that concurrent orders lock rows in
/// the same order and cannot deadlock, then writes the order. Any line that cannot be served
/// fails the whole order; the caller's transaction rolls the decrements back.
async fn take_stock_and_write(
    db: &impl ConnectionTrait,
    actor: &Actor,
    order: &PlaceOrder,
) -> Result<Order, AppError> {
    let backend = db.get_database_backend();
    let mut by_product: Vec<usize> = (0..order.lines.len()).collect();
    by_product.sort_by_key(|&i| order.lines[i].0);

    let mut items: Vec<Option<OrderItem>> = vec![None; order.lines.len()];
    let mut unserved = Vec::new();
    for i in by_product {
        let (product, quantity) = order.lines[i];
        let taken = db
            .query_one_raw(db::sql(
                db,
                "UPDATE products SET in_stock = in_stock - $1 \
                 WHERE id = $2 AND in_stock >= $1 AND NOT archived \
                 RETURNING name, price",
                [Value::from(i64::from(quantity)), product.into()],
            ))
            .await?;
        match taken {
            Some(row) => {
                items[i] = Some(OrderItem {
                    product_id: product,
                    product_name: row.try_get("", "name")?,
                    quantity: i32::try_from(quantity).unwrap_or(i32::MAX),
                    price: money::read(&row, "price", backend)?,
                });
            }
            None => unserved.push(i),
        }
    }
    if !unserved.is_empty() {
        return Err(explain_unserved(db, order, &unserved).await?);
    }
    let items: Vec<OrderItem> = items.into_iter().flatten().collect();

    let mut total = Money::ZERO;
    for item in &items {
        let line = u32::try_from(item.quantity)
            .ok()
            .and_then(|q| item.price.times(q));
        total = match line.and_then(|line| total.plus(line)) {
            Some(total) => total,
            None => {
                return Err(AppError::Validation(vec![FieldError::new(
                    "items",
                    "the order total would be over 99999999.99",
                )]));
            }
        };
    }

    let id = OrderId::generate();
    let now = db::now();
    db.execute_raw(db::sql(
        db,
        "INSERT INTO orders (id, customer_id, status, total, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
        [
            id.into(),
            actor.id.into(),
            OrderStatus::Pending.as_str().into(),
            money::to_value(backend, total),
            Value::from(now),
        ],
    ))
    .await?;
    let mut params = Params::default();
    let rows: Vec<String> = items
        .iter()
        .map(|item| {
            format!(
                "({}, {}, {}, {}, {}, {})",
                params.push(uuid::Uuid::now_v7()),
                params.push(id),
                params.push(item.product_id),
                params.push(item.product_name.clone()),
                params.push(item.quantity),
                params.push(money::to_value(backend, item.price)),
            )
        })
        .collect();
    db.execute_raw(db::sql(
        db,
        &format!(
            "INSERT INTO order_items (id, order_id, product_id, product_name, quantity, price) \
             VALUES {}",
            rows.join(", ")
        ),
        params.into_values(),
    ))
    .await?;
    record_event(db, id, EVENT_PLACED, None, OrderStatus::Pending, actor.id).await?;
    outbox::append(
        db,
        DomainEvent::OrderPlaced {
            order_id: id,
            customer_id: actor.id,
            total,
            items: items
                .iter()
                .map(|item| PlacedItem {
                    product_id: item.product_id,
                    quantity: item.quantity,
                    price: item.price,
                })
                .collect(),
        },
    )
    .await?;

    Ok(Order {
        id,
        status: OrderStatus::Pending,
        total,
        customer_id: actor.id,
        items,
        created_at: now,
        updated_at: now,
    })
}

/// Why lines could not be served: a product that does not exist or is archived is the
/// client's mistake (400, naming the line); otherwise the stock is short (409, naming each
/// product and what is left).
async fn explain_unserved(
    db: &impl ConnectionTrait,
    order: &PlaceOrder,
    unserved: &[usize],
) -> Result<AppError, AppError> {
    let mut unknown = Vec::new();
    let mut short = Vec::new();
    let mut sorted = unserved.to_vec();
    sorted.sort_unstable();
    for i in sorted {
        let (product, quantity) = order.lines[i];
        let row = db
            .query_one_raw(db::sql(
                db,
                "SELECT in_stock FROM products WHERE id = $1 AND NOT archived",
                [product.into()],
            ))
            .await?;
        match row {
            None => unknown.push(FieldError::new(
                format!("items[{i}].productId"),
                format!("product {product} does not exist or is not for sale"),
            )),
            Some(row) => {
                let left: i32 = row.try_get("", "in_stock")?;
                short.push(FieldError::new(
                    format!("items[{i}].quantity"),
                    format!("product {product} has {left} in stock, {quantity} requested"),
                ));
            }
        }
    }
    Ok(if unknown.is_empty() {
        AppError::InsufficientStock(short)
    } else {
        AppError::Validation(unknown)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_key_is_visible_ascii_of_1_to_255_bytes_or_refused(raw in any::<String>()) {
            let accepted = IdempotencyKey::parse(&raw).is_ok();
            let visible = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
            prop_assert_eq!(accepted, visible);
        }

        #[test]
        fn uuids_are_keys(id in any::<u128>()) {
            let key = uuid::Uuid::from_u128(id).to_string();
            prop_assert_eq!(IdempotencyKey::parse(&key), Ok(IdempotencyKey(key.clone())));
        }

        #[test]
        fn the_fingerprint_ignores_line_order(a in any::<u128>(), b in any::<u128>(), qa in 1_i64..10_000, qb in 1_i64..10_000) {
            prop_assume!(a != b);
            let (a, b) = (uuid::Uuid::from_u128(a).to_string(), uuid::Uuid::from_u128(b).to_string());
            let order = |first: (&str, i64), second: (&str, i64)| {
                PlaceOrder::parse(Ok(Some(vec![
                    Ok(Some(OrderLine { product_id: Ok(Some(first.0)), quantity: Ok(Some(first.1)) })),
                    Ok(Some(OrderLine { product_id: Ok(Some(second.0)), quantity: Ok(Some(second.1)) })),
                ])))
                .unwrap()
            };
            prop_assert_eq!(
                order((&a, qa), (&b, qb)).fingerprint(),
                order((&b, qb), (&a, qa)).fingerprint()
            );
        }
    }
}
