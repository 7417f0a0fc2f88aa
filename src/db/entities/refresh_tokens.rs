use sea_orm::entity::prelude::*;

use crate::domain::{RefreshTokenId, TokenFamilyId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RefreshTokenId,
    pub user_id: UserId,
    /// Every token descended from one login; reuse of a rotated token revokes them all.
    pub family_id: TokenFamilyId,
    /// SHA-256 of the token, hex: the token itself is never stored.
    pub token_hash: String,
    pub expires_at: DateTimeUtc,
    pub rotated_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
