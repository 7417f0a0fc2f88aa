//! One integration binary (one link step): every test starts the real app on a random port
//! against a fresh database — SQLite, or PostgreSQL when `TEST_DATABASE_URL` is set.

mod harness;

mod auth;
mod authorization;
mod blog;
mod categories;
mod cli;
mod events;
mod graphiql;
mod graphql;
mod input;
mod jobs;
mod maintenance;
mod openapi;
mod operations;
mod orders;
mod platform;
mod products;
mod reviews;
mod scale_out;
mod schema;
mod search;
mod security;
mod users;
