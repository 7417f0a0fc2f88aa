//! The blog: posts with unique slugs, drafts and tags (`posts`), and comments (`comments`).
//!
//! Visibility is one rule, [`can_see`]: a published post is public; a draft is visible to its
//! author, moderators and admins, and does not exist for anyone else.

pub mod comments;
pub mod posts;

pub use comments::Comment;
pub use posts::Post;

use crate::domain::{Actor, UserId};

/// Whether `actor` may see a post by `author` in this publication state.
pub(crate) fn can_see(actor: Option<&Actor>, author: UserId, published: bool) -> bool {
    published || actor.is_some_and(|actor| actor.id == author || actor.is_staff())
}
