use sea_orm::entity::prelude::*;

use crate::domain::{Role, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub role: Role,
    /// Set when an account with orders is anonymised instead of deleted; such a row is gone
    /// from the API.
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The profile, joined on `users.id = user_profiles.user_id`. Declared from this side only
/// (as the join it is), so the profile entity needs no way back.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user_profiles::Entity",
        from = "Column::Id",
        to = "super::user_profiles::Column::UserId"
    )]
    Profile,
}

impl Related<super::user_profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
