use super::{Role, UserId};

/// Who is asking: the authenticated user behind a request, a CLI command or a job. Services
/// take it explicitly, so the REST and GraphQL adapters apply the same object-level rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: UserId,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Moderators and admins: may see drafts and remove others' content.
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Moderator | Role::Admin)
    }

    /// The owner of a resource, or an admin.
    pub fn owns_or_admin(&self, owner: UserId) -> bool {
        self.id == owner || self.is_admin()
    }
}
