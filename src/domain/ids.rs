//! Typed ids: a `ProductId` cannot be passed where an `OrderId` is expected. UUID v7, so ids
//! sort by creation time and index well.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Invalid;

macro_rules! id_types {
    ($($(#[$meta:meta])* $name:ident $what:literal;)*) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, DeriveValueType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// An id from a request, refused with a message that says what it should name.
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                raw.parse()
                    .map_err(|_| Invalid::new(concat!("must be a ", $what, " id")))
            }
        }

        /// UUIDs are never auto-incremented; SeaORM asks primary keys for this anyway.
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    )*};
}

id_types! {
    UserId "user";
    RefreshTokenId "refresh token";
    TokenFamilyId "token family";
    JobId "job";
    CategoryId "category";
    ProductId "product";
    ReviewId "review";
    OrderId "order";
    PostId "post";
    TagId "tag";
    CommentId "comment";
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_is_an_id_or_refused(raw in any::<String>()) {
            let _ = ProductId::parse(&raw);
        }

        #[test]
        fn ids_round_trip_through_their_text(value in any::<u128>()) {
            let id = OrderId(Uuid::from_u128(value));
            prop_assert_eq!(OrderId::parse(&id.to_string()), Ok(id));
        }
    }
}
