//! Users as the API shows them, and what admins and users may do with accounts.
//!
//! Object rules live here: a user reads only themselves unless an admin asks, and an account
//! that does not exist or is anonymised is the same 404 for everyone.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Func, LikeExpr, OnConflict, Order, Query,
    SelectStatement, WithClause,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    QueryTrait, Set, Value,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::entities::{user_profiles, users};
use crate::db::{self, Db};
use crate::domain::{
    Actor, Invalid, Lines, PageRequest, Pagination, Patch, Role, UserId, Validation, non_blank,
    optional, optional_text, timestamp, web_url,
};
use crate::error::AppError;
use crate::services::admin_only;

/// A user as every response shows it: never a password or a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `null` until the user saves one.
    pub profile: Option<Profile>,
}

/// Who wrote something (a review, a post, a comment), as shown next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Author {
    pub id: UserId,
    pub name: Option<String>,
}

impl Author {
    /// From a row that joined `users` for the name as `author_name`, with the author's id in
    /// `id_column`.
    pub(crate) fn from_row(
        row: &sea_orm::QueryResult,
        id_column: &str,
    ) -> Result<Self, sea_orm::DbErr> {
        Ok(Author {
            id: row.try_get("", id_column)?,
            name: row.try_get("", "author_name")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub bio: Option<String>,
    pub website: Option<String>,
    pub location: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<NaiveDate>,
}

impl User {
    pub(crate) fn from_models(user: users::Model, profile: Option<user_profiles::Model>) -> Self {
        User {
            id: user.id,
            email: user.email,
            name: user.name,
            avatar: user.avatar,
            role: user.role,
            created_at: user.created_at,
            updated_at: user.updated_at,
            profile: profile.map(|p| Profile {
                bio: p.bio,
                website: p.website,
                location: p.location,
                date_of_birth: p.date_of_birth,
            }),
        }
    }
}

/// Users still visible through the API: anonymised accounts are gone from it.
fn live() -> sea_orm::Select<users::Entity> {
    users::Entity::find().filter(users::Column::DeletedAt.is_null())
}

/// The user with their profile, in one query.
pub async fn find(db: &impl ConnectionTrait, id: UserId) -> Result<Option<User>, AppError> {
    Ok(live()
        .filter(users::Column::Id.eq(id))
        .find_also_related(user_profiles::Entity)
        .one(db)
        .await?
        .map(|(user, profile)| User::from_models(user, profile)))
}

/// A user may read themselves, an admin anyone; for anyone else the user does not exist.
pub async fn get(db: &Db, actor: &Actor, id: UserId) -> Result<User, AppError> {
    if !actor.owns_or_admin(id) {
        return Err(AppError::NotFound("User"));
    }
    find(db.read(), id).await?.ok_or(AppError::NotFound("User"))
}

pub const NAME_MAX_CHARS: usize = 100;
const BIO_MAX_CHARS: usize = 2000;
const LOCATION_MAX_CHARS: usize = 200;

/// An optional link: blank means none.
pub(crate) fn optional_url(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    non_blank(raw).map(web_url).transpose()
}

fn date_of_birth(raw: &str) -> Result<NaiveDate, Invalid> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| Invalid::new("must be a date as YYYY-MM-DD"))?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
    if date < earliest || date > Utc::now().date_naive() {
        return Err(Invalid::new("must be between 1900-01-01 and today"));
    }
    Ok(date)
}

/// `PUT /users/me` as sent, before checking: each field left out, cleared (`null`), set, or
/// already refused by the transport for its type.
#[derive(Debug)]
pub struct UpdateMeInput {
    pub name: Result<Patch<String>, Invalid>,
    pub avatar: Result<Patch<String>, Invalid>,
    pub profile: Result<Patch<ProfileInput>, Invalid>,
}

#[derive(Debug)]
pub struct ProfileInput {
    pub bio: Result<Patch<String>, Invalid>,
    pub website: Result<Patch<String>, Invalid>,
    pub location: Result<Patch<String>, Invalid>,
    pub date_of_birth: Result<Patch<String>, Invalid>,
}

impl UpdateMe {
    pub fn parse(input: UpdateMeInput) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let name = v.field(
            "name",
            input
                .name
                .and_then(|name| name.parse_text(|t| optional_text(Some(t), NAME_MAX_CHARS))),
        );
        let avatar = v.field(
            "avatar",
            input
                .avatar
                .and_then(|avatar| avatar.parse_text(|t| optional_url(Some(t)))),
        );
        let profile = match v.field("profile", input.profile) {
            None => None,
            Some(Patch::Keep) => Some(Patch::Keep),
            Some(Patch::Clear) => Some(Patch::Clear),
            Some(Patch::Set(p)) => {
                let bio = v.field(
                    "profile.bio",
                    p.bio.and_then(|bio| {
                        bio.parse_text(|t| optional(Some(t), BIO_MAX_CHARS, Lines::Multi))
                    }),
                );
                let website = v.field(
                    "profile.website",
                    p.website
                        .and_then(|website| website.parse_text(|t| optional_url(Some(t)))),
                );
                let location = v.field(
                    "profile.location",
                    p.location.and_then(|location| {
                        location.parse_text(|t| optional_text(Some(t), LOCATION_MAX_CHARS))
                    }),
                );
                let date_of_birth = v.field(
                    "profile.dateOfBirth",
                    p.date_of_birth
                        .and_then(|date| date.try_map(|d| date_of_birth(&d))),
                );
                match (bio, website, location, date_of_birth) {
                    (Some(bio), Some(website), Some(location), Some(date_of_birth)) => {
                        Some(Patch::Set(ProfileUpdate {
                            bio,
                            website,
                            location,
                            date_of_birth,
                        }))
                    }
                    _ => None,
                }
            }
        };
        let parsed = match (name, avatar, profile) {
            (Some(name), Some(avatar), Some(profile)) => Some(UpdateMe {
                name,
                avatar,
                profile,
            }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// `PUT /users/me`: each field is kept, cleared or set. `profile: null` removes the profile;
/// a profile object changes only the fields it names.
#[derive(Debug, Default)]
pub struct UpdateMe {
    pub name: Patch<String>,
    pub avatar: Patch<String>,
    pub profile: Patch<ProfileUpdate>,
}

#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub bio: Patch<String>,
    pub website: Patch<String>,
    pub location: Patch<String>,
    pub date_of_birth: Patch<NaiveDate>,
}

pub async fn update_me(db: &Db, actor: &Actor, update: UpdateMe) -> Result<User, AppError> {
    let txn = db.begin_write().await?;
    let now = db::now();
    let mut user = users::ActiveModel {
        id: sea_orm::Unchanged(actor.id),
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(name) = update.name.into_update() {
        user.name = Set(name);
    }
    if let Some(avatar) = update.avatar.into_update() {
        user.avatar = Set(avatar);
    }
    let updated = users::Entity::update_many()
        .set(user)
        .filter(users::Column::Id.eq(actor.id))
        .filter(users::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::NotFound("User"));
    }

    match update.profile {
        Patch::Keep => {}
        Patch::Clear => {
            user_profiles::Entity::delete_by_id(actor.id)
                .exec(&txn)
                .await?;
        }
        Patch::Set(profile) => upsert_profile(&txn, actor.id, profile).await?,
    }
    let user = find(&txn, actor.id)
        .await?
        .ok_or(AppError::NotFound("User"))?;
    txn.commit().await?;
    Ok(user)
}

/// Inserts the profile or changes only the named fields of the existing one, in one
/// statement, so two concurrent updates cannot both try to create it.
async fn upsert_profile(
    db: &impl ConnectionTrait,
    user: UserId,
    update: ProfileUpdate,
) -> Result<(), AppError> {
    use user_profiles::Column;
    let mut changed = Vec::new();
    let mut row = user_profiles::ActiveModel {
        user_id: Set(user),
        bio: Set(None),
        website: Set(None),
        location: Set(None),
        date_of_birth: Set(None),
    };
    if let Some(bio) = update.bio.into_update() {
        row.bio = Set(bio);
        changed.push(Column::Bio);
    }
    if let Some(website) = update.website.into_update() {
        row.website = Set(website);
        changed.push(Column::Website);
    }
    if let Some(location) = update.location.into_update() {
        row.location = Set(location);
        changed.push(Column::Location);
    }
    if let Some(date_of_birth) = update.date_of_birth.into_update() {
        row.date_of_birth = Set(date_of_birth);
        changed.push(Column::DateOfBirth);
    }
    let on_conflict = if changed.is_empty() {
        OnConflict::column(Column::UserId).do_nothing().to_owned()
    } else {
        OnConflict::column(Column::UserId)
            .update_columns(changed)
            .to_owned()
    };
    user_profiles::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// `GET /users` filters, already checked.
#[derive(Debug, Default)]
pub struct UserQuery {
    /// Matches name or email, case-insensitively, anywhere in the text.
    pub search: Option<String>,
    pub role: Option<Role>,
    /// Inclusive.
    pub created_after: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_before: Option<DateTime<Utc>>,
}

impl UserQuery {
    /// Checks the filters, recording failures under their parameter names.
    pub fn parse(
        v: &mut Validation,
        search: Option<&str>,
        role: Option<&str>,
        created_after: Option<&str>,
        created_before: Option<&str>,
    ) -> Option<Self> {
        let search = v.field("search", optional_text(search, NAME_MAX_CHARS));
        let role = v.field("role", non_blank(role).map(Role::parse).transpose());
        let created_after = v.field(
            "createdAfter",
            non_blank(created_after).map(timestamp).transpose(),
        );
        let created_before = v.field(
            "createdBefore",
            non_blank(created_before).map(timestamp).transpose(),
        );
        Some(UserQuery {
            search: search?,
            role: role?,
            created_after: created_after?,
            created_before: created_before?,
        })
    }
}

/// Admins only.
///
/// A page is two short statements whatever the filters: the page's ids with the number of
/// matches, then those users with their profiles by id. With filters, the matches are found
/// once, as one set the page and its total both read: a count and a page were two passes
/// over them (a search's trigram scan was most of each), and a window count over the page's
/// query let PostgreSQL 15 plan a walk of every user in list order for a page of a few
/// matches. Without filters the total is the live users' count that triggers keep (migration
/// 12), and the page is a range of the newest-first index.
pub async fn list(
    db: &Db,
    actor: &Actor,
    query: UserQuery,
    page: PageRequest,
) -> Result<(Vec<User>, Pagination), AppError> {
    admin_only(actor)?;
    let UserQuery {
        search,
        role,
        created_after,
        created_before,
    } = query;
    let filtered =
        search.is_some() || role.is_some() || created_after.is_some() || created_before.is_some();
    let mut select = live();
    if let Some(search) = &search {
        select = select.filter(search_condition(db.backend(), search));
    }
    if let Some(role) = role {
        select = select.filter(users::Column::Role.eq(role));
    }
    if let Some(after) = created_after {
        select = select.filter(users::Column::CreatedAt.gte(after));
    }
    if let Some(before) = created_before {
        select = select.filter(users::Column::CreatedAt.lt(before));
    }
    let matches = Alias::new("matches");
    let newest_first = |query: &mut SelectStatement| {
        query
            .order_by(users::Column::CreatedAt, Order::Desc)
            .order_by(users::Column::Id, Order::Desc)
            .limit(page.limit)
            .offset(page.offset());
    };
    let statement = if filtered {
        let mut set = select.clone().select_only().into_query();
        set.column(users::Column::Id)
            .column(users::Column::CreatedAt);
        let mut query = Query::select();
        query
            .column(users::Column::Id)
            .expr(Expr::cust("(SELECT COUNT(*) FROM matches)"))
            .from(matches.clone());
        newest_first(&mut query);
        let set = CommonTableExpression::new()
            .query(set)
            .table_name(matches)
            .materialized(true)
            .to_owned();
        db.backend()
            .build(&WithClause::new().cte(set).to_owned().query(query))
    } else {
        let mut query = select.clone().select_only().into_query();
        query
            .column(users::Column::Id)
            .expr(Expr::cust("(SELECT n FROM user_count)"));
        newest_first(&mut query);
        db.backend().build(&query)
    };
    let ids = db
        .read()
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index::<i64>(1)?)))
        .collect::<Result<Vec<(UserId, i64)>, AppError>>()?;
    let total = match ids.first() {
        Some(&(_, matches)) => u64::try_from(matches).unwrap_or_default(),
        // A page past the last match carries no count.
        None if page.offset() > 0 => select.count(db.read()).await?,
        None => 0,
    };
    if ids.is_empty() {
        return Ok((Vec::new(), Pagination::new(page, total)));
    }
    let mut found: HashMap<UserId, User> = live()
        .filter(users::Column::Id.is_in(ids.iter().map(|&(id, _)| id)))
        .find_also_related(user_profiles::Entity)
        .all(db.read())
        .await?
        .into_iter()
        .map(|(user, profile)| (user.id, User::from_models(user, profile)))
        .collect();
    let users = ids.iter().filter_map(|(id, _)| found.remove(id)).collect();
    Ok((users, Pagination::new(page, total)))
}

/// Users whose name or email contains `search`, whatever the case.
fn search_condition(backend: sea_orm::DbBackend, search: &str) -> Expr {
    if backend == sea_orm::DbBackend::Sqlite && search.chars().count() >= 3 {
        // The trigram table of migration 10 (PostgreSQL's pg_trgm indexes serve the LIKE
        // below): the search as one FTS5 string, so its characters are never syntax.
        return Expr::cust_with_values(
            "users.id IN (SELECT user_id FROM users_trgm WHERE users_trgm MATCH ?)",
            [format!("\"{}\"", search.replace('"', "\"\""))],
        );
    }
    let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
    Expr::expr(Func::lower(Expr::col((users::Entity, users::Column::Name))))
        .like(LikeExpr::new(pattern.clone()).escape('\\'))
        .or(Expr::col((users::Entity, users::Column::Email))
            .like(LikeExpr::new(pattern).escape('\\')))
}

/// `%`, `_` and the escape itself are literal in a search, not wildcards.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStats {
    pub total: u64,
    /// Registered since the start of this calendar month (UTC).
    pub new_this_month: u64,
    /// Wrote a post or comment, or placed an order, today or the 29 days before (UTC), even if deleted.
    pub active_users: u64,
}

const SECS_PER_DAY: i64 = 86_400;
/// How many UTC days, today included, count a user as active.
const ACTIVE_DAYS: i64 = 30;

/// Admins only.
pub async fn stats(db: &Db, actor: &Actor) -> Result<UserStats, AppError> {
    admin_only(actor)?;
    let now = db::now();
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists");
    // The window's days, counted as `activity_days` counts them: whole days since 1970 (UTC),
    // today and the 29 before.
    let first_day = now.timestamp().div_euclid(SECS_PER_DAY) - (ACTIVE_DAYS - 1);
    let row = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            // Every count reads what triggers keep (migration 12): the live users' number;
            // the month's registrations, a range of the live users' index; and the users
            // whose latest activity fell on one of the window's days (30 rows, 16 shards each
            // on PostgreSQL). None reads the orders, posts or comments themselves, so the
            // cost stays the same as the shop grows.
            "SELECT \
               (SELECT n FROM user_count), \
               (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND created_at >= $1), \
               (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM activity_days WHERE day >= $2)",
            [Value::from(month_start), Value::from(first_day)],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("an aggregate returns one row"))?;
    let count = |index: usize| -> Result<u64, AppError> {
        let n: i64 = row.try_get_by_index(index)?;
        Ok(u64::try_from(n).unwrap_or_default())
    };
    Ok(UserStats {
        total: count(0)?,
        new_this_month: count(1)?,
        active_users: count(2)?,
    })
}

/// Admins change others' roles. Changing one's own is refused, so the last admin cannot
/// demote themselves by accident and lock everyone out of administration.
pub async fn set_role(db: &Db, actor: &Actor, id: UserId, role: Role) -> Result<User, AppError> {
    admin_only(actor)?;
    if actor.id == id {
        return Err(AppError::Conflict("You cannot change your own role".into()));
    }
    let updated = users::Entity::update_many()
        .col_expr(users::Column::Role, Expr::value(role))
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::DeletedAt.is_null())
        .exec(db.write())
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::NotFound("User"));
    }
    find(db.read(), id).await?.ok_or(AppError::NotFound("User"))
}

/// Deletes an account with its profile, posts, comments, reviews and sessions. An account
/// with orders is kept for the orders' sake but anonymised: no email, name or password, so it
/// can never log in again and the API no longer shows it.
pub async fn delete(db: &Db, actor: &Actor, id: UserId) -> Result<(), AppError> {
    admin_only(actor)?;
    if actor.id == id {
        return Err(AppError::Conflict(
            "You cannot delete your own account".into(),
        ));
    }
    let txn = db.begin_write().await?;
    let exists = live()
        .filter(users::Column::Id.eq(id))
        .select_only()
        .column(users::Column::Id)
        .into_tuple::<UserId>()
        .one(&txn)
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound("User"));
    }
    for sql in [
        "DELETE FROM comments WHERE author_id = $1",
        "DELETE FROM posts WHERE author_id = $1",
        "DELETE FROM reviews WHERE user_id = $1",
        "DELETE FROM user_profiles WHERE user_id = $1",
        "DELETE FROM refresh_tokens WHERE user_id = $1",
        "DELETE FROM idempotency_keys WHERE user_id = $1",
    ] {
        txn.execute_raw(db::sql(&txn, sql, [id.into()])).await?;
    }
    let deleted = txn
        .execute_raw(db::sql(
            &txn,
            "DELETE FROM users WHERE id = $1 \
             AND NOT EXISTS (SELECT 1 FROM orders WHERE customer_id = $1)",
            [id.into()],
        ))
        .await?;
    if deleted.rows_affected() == 0 {
        let now = db::now();
        users::Entity::update_many()
            .col_expr(
                users::Column::Email,
                Expr::value(format!("deleted-{id}@deleted.invalid")),
            )
            .col_expr(users::Column::PasswordHash, Expr::value("!"))
            .col_expr(users::Column::Name, Expr::value(Option::<String>::None))
            .col_expr(users::Column::Avatar, Expr::value(Option::<String>::None))
            .col_expr(users::Column::DeletedAt, Expr::value(now))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("ann"), "ann");
    }
}
