//! `/api/v1/auth`: registration, login, refresh and logout.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, ErrorEnvelope};
use crate::http::body_limits;
use crate::http::envelope::{Created, Data};
use crate::http::extract::Json;
use crate::http::field::Field;
use crate::services::accounts::{self, Login, Register, Session, Tokens};
use crate::services::users::User;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .layer(DefaultBodyLimit::max(body_limits::AUTH))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Trimmed and lower-cased; at most 254 characters.
    #[schema(value_type = String, example = "ann@example.com", format = Email, max_length = 254)]
    pub email: Field<String>,
    /// 8 to 128 characters.
    #[schema(value_type = String, example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: Field<String>,
    /// At most 100 characters; blank means none.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub name: Field<String>,
    /// An http(s) URL of at most 2048 characters; blank means none.
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub avatar: Field<String>,
}

/// Register an account.
///
/// The email is trimmed and lower-cased. Every new account is a `USER`: any other field in
/// the body, `role` included, is ignored. A welcome mail is queued.
#[utoipa::path(post, operation_id = "register", path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = Data<User>),
        (status = 409, description = "The email is already registered", body = ErrorEnvelope),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Json(body): Json<RegisterRequest>,
) -> Result<Created<User>, AppError> {
    let cmd = Register::parse(
        body.email.as_deref().input(),
        body.password.input(),
        body.name.as_deref().input(),
        body.avatar.as_deref().input(),
    )?;
    let user = accounts::register(&state.db, &state.auth, cmd).await?;
    Ok(Data::with_message(user, "User registered successfully").created())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// An email that cannot be an account's gets the same 401 as a wrong password.
    #[schema(value_type = String, example = "ann@example.com", min_length = 1, max_length = 254)]
    pub email: Field<String>,
    /// At most 128 characters, the longest a password can be.
    #[schema(value_type = String, example = "correct horse battery", min_length = 1, max_length = 128)]
    pub password: Field<SecretString>,
}

/// Log in.
///
/// A wrong email and a wrong password get the same 401 `INVALID_CREDENTIALS`, in the same
/// time. After `LOGIN_MAX_FAILURES` attempts for one email within `LOGIN_LOCKOUT_SECS`, the
/// email is locked until that window ends: 429 `ACCOUNT_LOCKED` with `Retry-After`, even for
/// the right password.
#[utoipa::path(post, operation_id = "login", path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = Data<Session>),
        (status = 401, description = "`INVALID_CREDENTIALS`", body = ErrorEnvelope),
        (status = 429, description = "`ACCOUNT_LOCKED` (or `RATE_LIMITED`), with `Retry-After`",
         body = ErrorEnvelope),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> Result<Data<Session>, AppError> {
    let login = Login::parse(body.email.input(), body.password.input())?;
    let session = accounts::login(&state.db, &state.auth, login).await?;
    Ok(Data::with_message(session, "Login successful"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The `refreshToken` of a login or an earlier refresh.
    #[schema(value_type = String, min_length = 1, max_length = 512)]
    pub refresh_token: Field<String>,
}

/// Exchange a refresh token for a new access token and a new refresh token.
///
/// A refresh token works once. Presenting one that was already exchanged revokes every token
/// descended from the same login (it has been copied), so all its holders must log in again.
#[utoipa::path(post, operation_id = "refreshSession", path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = Data<Tokens>),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token",
         body = ErrorEnvelope),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Data<Tokens>, AppError> {
    let tokens = accounts::refresh(
        &state.db,
        &state.auth,
        &accounts::refresh_token(body.refresh_token.input())?,
    )
    .await?;
    Ok(Data::new(tokens))
}

/// Log out: the refresh token stops working.
///
/// Always 204, also for a token that is unknown or already revoked. Access tokens stay valid
/// until they expire (`expiresIn`), as they are not looked up.
#[utoipa::path(post, operation_id = "logout", path = "/api/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "The refresh token is revoked")))]
pub async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, AppError> {
    accounts::logout(
        &state.db,
        &accounts::refresh_token(body.refresh_token.input())?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
