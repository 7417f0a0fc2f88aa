//! `/api/v1/users`: the caller's own account, and account administration.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{DEFAULT_LIMIT, PageRequest, Role, UserId, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Data, Message, Paginated};
use crate::http::extract::{Admin, AuthUser, Json, Path, Query, RequireRole};
use crate::http::field::Field;
use crate::services::accounts::{self, ChangePassword};
use crate::services::users::{
    self, ProfileInput, UpdateMe, UpdateMeInput, User, UserQuery, UserStats,
};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(list))
        .routes(routes!(stats))
        .routes(routes!(get, delete))
        .routes(routes!(set_role))
}

/// The caller's account.
#[utoipa::path(get, operation_id = "getMe", path = "/api/v1/users/me", tag = "users",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The caller", body = Data<User>)))]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
) -> Result<Data<User>, AppError> {
    Ok(Data::new(users::get(&state.db, &actor, actor.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMeRequest {
    /// At most 100 characters; `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub name: Field<String>,
    /// An http(s) URL of at most 2048 characters, stored in normal form; `null` or blank
    /// clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub avatar: Field<String>,
    /// Changes only the fields it names; `null` removes the profile.
    #[serde(default)]
    #[schema(value_type = Option<ProfileRequest>)]
    pub profile: Field<ProfileRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRequest {
    /// At most 2000 characters; may span lines.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub bio: Field<String>,
    /// An http(s) URL of at most 2048 characters, stored in normal form.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub website: Field<String>,
    /// At most 200 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub location: Field<String>,
    /// `YYYY-MM-DD`, from 1900-01-01 to today.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Field<String>,
}

/// Update the caller's name, avatar and profile.
///
/// A field left out is unchanged; `null` clears it. `email`, `role` and `id` in the body are
/// ignored: email and role do not change here.
#[utoipa::path(put, operation_id = "updateMe", path = "/api/v1/users/me", tag = "users",
    security(("bearerAuth" = [])),
    request_body = UpdateMeRequest,
    responses((status = 200, description = "The updated caller", body = Data<User>)))]
pub async fn update_me(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Json(body): Json<UpdateMeRequest>,
) -> Result<Data<User>, AppError> {
    let update = UpdateMe::parse(UpdateMeInput {
        name: body.name.patch(),
        avatar: body.avatar.patch(),
        profile: body.profile.patch().map(|profile| {
            profile.map(|p| ProfileInput {
                bio: p.bio.patch(),
                website: p.website.patch(),
                location: p.location.patch(),
                date_of_birth: p.date_of_birth.patch(),
            })
        }),
    })?;
    let user = users::update_me(&state.db, &actor, update).await?;
    Ok(Data::with_message(user, "Profile updated"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub current_password: Field<SecretString>,
    /// 8 to 128 characters.
    #[schema(value_type = String, min_length = 8, max_length = 128)]
    pub new_password: Field<String>,
}

/// Change the caller's password.
///
/// A wrong `currentPassword` is a 400 naming that field, and counts against the same lockout
/// budget as logins. On success every refresh token of the user is revoked (all sessions
/// end) and a notification mail is queued.
#[utoipa::path(put, operation_id = "changePassword", path = "/api/v1/users/me/password", tag = "users",
    security(("bearerAuth" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every session is signed out"),
        (status = 429, description = "`ACCOUNT_LOCKED`, with `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<StatusCode, AppError> {
    let cmd = ChangePassword::parse(body.current_password.input(), body.new_password.input())?;
    accounts::change_password(&state.db, &state.auth, &actor, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Part of the name or email, case-insensitive.
    #[param(max_length = 100)]
    pub search: Option<String>,
    /// `USER`, `MODERATOR` or `ADMIN`.
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Created at or after: RFC 3339, or `YYYY-MM-DD` for that day's midnight UTC.
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_after: Option<String>,
    /// Created before (exclusive): RFC 3339 or `YYYY-MM-DD`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_before: Option<String>,
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    /// 1 to 100; default 10.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// List users, newest first (admins only).
#[utoipa::path(get, operation_id = "listUsers", path = "/api/v1/users", tag = "users",
    security(("bearerAuth" = [])),
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = Paginated<User>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Query(query): Query<UserListQuery>,
) -> Result<Paginated<User>, AppError> {
    let mut v = Validation::default();
    let filters = UserQuery::parse(
        &mut v,
        query.search.as_deref(),
        query.role.as_deref(),
        query.created_after.as_deref(),
        query.created_before.as_deref(),
    );
    let page = PageRequest::parse(
        &mut v,
        query.page.as_deref(),
        query.limit.as_deref(),
        DEFAULT_LIMIT,
    );
    let (Some(filters), Some(page)) = (filters, page) else {
        return Err(v.into());
    };
    let (users, pagination) = users::list(&state.db, &admin, filters, page).await?;
    Ok(Paginated::new(users, pagination))
}

/// Account statistics (admins only).
#[utoipa::path(get, operation_id = "getUserStats", path = "/api/v1/users/stats", tag = "users",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Counts over live accounts", body = Data<UserStats>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn stats(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
) -> Result<Data<UserStats>, AppError> {
    Ok(Data::new(users::stats(&state.db, &admin).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The user's id.
    #[param(value_type = String, format = Uuid)]
    pub id: UserId,
}

/// A user: admins may read anyone, users only themselves (anyone else is 404).
#[utoipa::path(get, operation_id = "getUser", path = "/api/v1/users/{id}", tag = "users",
    security(("bearerAuth" = [])),
    params(UserPath),
    responses(
        (status = 200, description = "The user", body = Data<User>),
        (status = 404, description = "No such user, or not yours to see", body = ErrorEnvelope),
    ))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(path): Path<UserPath>,
) -> Result<Data<User>, AppError> {
    Ok(Data::new(users::get(&state.db, &actor, path.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetRoleRequest {
    #[schema(value_type = Role)]
    pub role: Field<String>,
}

/// Change a user's role (admins only; not one's own).
#[utoipa::path(patch, operation_id = "setUserRole", path = "/api/v1/users/{id}/role", tag = "users",
    security(("bearerAuth" = [])),
    params(UserPath),
    request_body = SetRoleRequest,
    responses(
        (status = 200, description = "The user with the new role", body = Data<User>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 409, description = "An admin cannot change their own role", body = ErrorEnvelope),
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<UserPath>,
    Json(body): Json<SetRoleRequest>,
) -> Result<Data<User>, AppError> {
    let mut v = Validation::default();
    let role = v.required("role", body.role.as_deref().input(), Role::parse);
    let role = v.finish(role)?;
    let user = users::set_role(&state.db, &admin, path.id, role).await?;
    Ok(Data::with_message(user, "Role updated"))
}

/// Delete a user (admins only; not oneself).
///
/// Their profile, posts, comments, reviews and sessions go with them. A user with orders is
/// kept for the orders' sake but anonymised: the account disappears from the API and can no
/// longer log in.
#[utoipa::path(delete, operation_id = "deleteUser", path = "/api/v1/users/{id}", tag = "users",
    security(("bearerAuth" = [])),
    params(UserPath),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 409, description = "An admin cannot delete themselves", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<UserPath>,
) -> Result<Message, AppError> {
    users::delete(&state.db, &admin, path.id).await?;
    Ok(Message::new("User deleted"))
}
