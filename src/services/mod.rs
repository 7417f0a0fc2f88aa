//! The use cases: the only home of business rules. HTTP handlers, GraphQL resolvers, the CLI
//! and jobs all call these, so a rule is written once.

use crate::domain::Actor;
use crate::error::AppError;

/// The rule of every administrative use case, checked here rather than by a transport, so that
/// REST, GraphQL, jobs and the CLI cannot walk around it.
pub(crate) fn admin_only(actor: &Actor) -> Result<(), AppError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub mod accounts;
pub mod blog;
pub mod catalog;
pub mod jobs;
pub mod maintenance;
pub mod orders;
pub mod seed;
pub mod users;
