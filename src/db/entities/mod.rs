//! SeaORM entities for the tables whose use cases are plain CRUD: accounts, sessions, jobs.
//! The catalog, orders and the blog use SQL written in their services instead, because they
//! need what the entity layer hides: money bound per backend (`db::money`), conditional
//! updates with `RETURNING`, keysets, and aggregates in the same statement.

pub mod jobs;
pub mod refresh_tokens;
pub mod user_profiles;
pub mod users;
