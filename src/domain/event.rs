//! Domain events: what happened, as API.md §6 publishes it. Written to the outbox in the
//! transaction of the change that causes it, so a change that rolls back leaves no event and
//! a committed one always has its event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Money, OrderId, OrderStatus, PostId, ProductId, UserId};

/// One event with its data. Serialises as `{"type": "…", "data": {…}}`; the envelope adds
/// `id` and `occurredAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    #[serde(rename = "user.registered", rename_all = "camelCase")]
    UserRegistered { user_id: UserId, email: String },
    #[serde(rename = "order.placed", rename_all = "camelCase")]
    OrderPlaced {
        order_id: OrderId,
        customer_id: UserId,
        total: Money,
        items: Vec<PlacedItem>,
    },
    #[serde(rename = "order.status_changed", rename_all = "camelCase")]
    OrderStatusChanged {
        order_id: OrderId,
        from_status: OrderStatus,
        to_status: OrderStatus,
        actor_id: UserId,
    },
    #[serde(rename = "post.published", rename_all = "camelCase")]
    PostPublished {
        post_id: PostId,
        slug: String,
        author_id: UserId,
    },
    #[serde(rename = "product.price_changed", rename_all = "camelCase")]
    ProductPriceChanged {
        product_id: ProductId,
        old_price: Money,
        new_price: Money,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedItem {
    pub product_id: ProductId,
    pub quantity: i32,
    pub price: Money,
}

impl DomainEvent {
    /// The `type`, which is also the NATS subject's last part (`events.order.placed`).
    pub fn kind(&self) -> &'static str {
        match self {
            DomainEvent::UserRegistered { .. } => "user.registered",
            DomainEvent::OrderPlaced { .. } => "order.placed",
            DomainEvent::OrderStatusChanged { .. } => "order.status_changed",
            DomainEvent::PostPublished { .. } => "post.published",
            DomainEvent::ProductPriceChanged { .. } => "product.price_changed",
        }
    }
}

/// An event as stored and published: `{"id", "type", "occurredAt", "data"}`. Consumers
/// deduplicate by `id` (delivery is at least once); it is also the `Nats-Msg-Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: DomainEvent,
}

impl EventEnvelope {
    pub fn new(event: DomainEvent, occurred_at: DateTime<Utc>) -> Self {
        EventEnvelope {
            id: Uuid::now_v7(),
            occurred_at,
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_has_the_documented_body() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let envelope = EventEnvelope {
            id: Uuid::nil(),
            occurred_at: at,
            event: DomainEvent::ProductPriceChanged {
                product_id: ProductId(Uuid::nil()),
                old_price: Money::parse("10").unwrap(),
                new_price: Money::parse("12.5").unwrap(),
            },
        };

        let body = serde_json::to_value(&envelope).unwrap();

        assert_eq!(
            body,
            json!({"id": Uuid::nil(), "type": "product.price_changed",
                   "occurredAt": "2026-12-01T10:00:00Z",
                   "data": {"productId": Uuid::nil(), "oldPrice": "10.00", "newPrice": "12.50"}})
        );
        let back: EventEnvelope = serde_json::from_value(body).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.event.kind(), "product.price_changed");
    }
}
