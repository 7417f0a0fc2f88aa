//! The use cases: the only home of business rules. HTTP handlers, GraphQL resolvers, the CLI
//! and jobs all call these, so a rule is written once.

pub mod accounts;
pub mod blog;
pub mod catalog;
pub mod jobs;
pub mod maintenance;
pub mod orders;
pub mod seed;
pub mod users;
