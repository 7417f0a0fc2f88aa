//! Values that are valid by construction, with no I/O: once a request has been parsed into
//! these, nothing downstream checks again.

mod actor;
mod change;
mod cursor;
mod email;
mod event;
mod ids;
mod job;
mod money;
mod order_status;
mod page;
mod password;
mod patch;
mod role;
mod slug;
mod text;
mod validation;

pub use actor::Actor;
pub use change::CatalogChange;
pub use cursor::Cursor;
pub use email::Email;
pub use event::{DomainEvent, EventEnvelope, PlacedItem};
pub use ids::*;
pub use job::Job;
pub use money::{MONEY_INPUT_PATTERN, MONEY_PATTERN, Money};
pub use order_status::OrderStatus;
pub use page::{DEFAULT_LIMIT, MAX_LIMIT, PageRequest, Pagination, parse_limit};
pub use password::{MAX_CHARS as PASSWORD_MAX_CHARS, Password};
pub use patch::Patch;
pub use role::Role;
pub use slug::Slug;
pub use text::{
    Lines, bounded_text, is_refused, non_blank, optional, optional_text, text, text_pattern,
    timestamp, web_url,
};
pub use validation::{FieldError, Input, Invalid, Validation};
