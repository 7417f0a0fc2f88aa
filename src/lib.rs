//! ecommerce-api: an online-shop and blog backend, one binary over SQLite or PostgreSQL.
//!
//! Modules in reading order. Calls go one way: `http` calls `services`, which use `domain` and
//! `db`; `domain` depends on nothing of ours.

/// Application state, the middleware stack, and serving with graceful shutdown.
pub mod app;
/// Background work under one supervisor: started with `serve`, stopped with it.
pub mod background;
/// The product and category caches: in process, in Redis, invalidated by writes.
pub mod cache;
/// The Redis that instances share with `REDIS_URL`.
pub mod cluster;
/// Typed configuration, read from the environment once at start-up.
pub mod config;
/// Connections (the one place that tells SQLite from PostgreSQL), migrations, entities, and
/// the capabilities whose SQL differs per backend (money, search).
pub mod db;
/// Values valid by construction (Email, Password, Money, Slug, OrderStatus, typed ids), with
/// no I/O.
pub mod domain;
/// The contract's error codes, the envelope and the status mapping.
pub mod error;
/// Domain events after their commit: the outbox relay, in-process subscribers, NATS.
pub mod events;
/// The GraphQL adapter: the same services, batched and bounded, and GraphiQL.
pub mod graphql;
/// The REST adapter: routes, extractors, middleware and the OpenAPI document.
pub mod http;
/// Job workers (leases, backoff, `DEAD`) and the mailer.
pub mod jobs;
/// The HTTP/1 server loop with connection limits and a drain deadline.
pub mod server;
/// The use cases — accounts, users, catalog, orders, blog, seed — and the only home of
/// business rules.
pub mod services;
/// What handlers, resolvers and workers share: configuration, database, keys.
pub mod state;
/// Tracing subscriber and the Prometheus recorder.
pub mod telemetry;
