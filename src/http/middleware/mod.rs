//! The middleware stack, one concern per module; `app.rs` decides the order.

pub mod observe;
pub mod rate_limit;
pub mod request_id;
pub mod responses;
pub mod unread_body;
