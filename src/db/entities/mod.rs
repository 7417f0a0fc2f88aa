//! SeaORM entities: the tables' rows as data, with no behaviour. Tables with money columns
//! (products, orders, order items) have none, because their SQL differs per backend; see
//! `db::money`.

pub mod categories;
pub mod comments;
pub mod jobs;
pub mod posts;
pub mod refresh_tokens;
pub mod reviews;
pub mod user_profiles;
pub mod users;
