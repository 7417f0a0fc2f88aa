//! `/api/v1/auth`: registration, login, refresh and logout.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Created, Data};
use crate::http::extract::Json;
use crate::services::accounts::{self, Login, Register, Session, Tokens};
use crate::services::users::User;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// An http(s) URL.
    pub avatar: Option<String>,
}

/// Register an account.
///
/// The email is trimmed and lower-cased. Every new account is a `USER`: any other field in
/// the body, `role` included, is ignored. A welcome mail is queued.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
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
        &body.email,
        body.password,
        body.name.as_deref(),
        body.avatar.as_deref(),
    )?;
    let user = accounts::register(&state.db, &state.auth, cmd).await?;
    Ok(Data::with_message(user, "User registered successfully").created())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    #[schema(value_type = String, example = "correct horse battery")]
    pub password: SecretString,
}

/// Log in.
///
/// A wrong email and a wrong password get the same 401 `INVALID_CREDENTIALS`, in the same
/// time. After `LOGIN_MAX_FAILURES` attempts for one email within `LOGIN_LOCKOUT_SECS`, the
/// email is locked until that window ends: 429 `ACCOUNT_LOCKED` with `Retry-After`, even for
/// the right password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
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
    let session = accounts::login(
        &state.db,
        &state.auth,
        Login {
            email: body.email,
            password: body.password,
        },
    )
    .await?;
    Ok(Data::with_message(session, "Login successful"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new access token and a new refresh token.
///
/// A refresh token works once. Presenting one that was already exchanged revokes every token
/// descended from the same login (it has been copied), so all its holders must log in again.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
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
    let tokens = accounts::refresh(&state.db, &state.auth, &body.refresh_token).await?;
    Ok(Data::new(tokens))
}

/// Log out: the refresh token stops working.
///
/// Always 204, also for a token that is unknown or already revoked. Access tokens stay valid
/// until they expire (`expiresIn`), as they are not looked up.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "The refresh token is revoked")))]
pub async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, AppError> {
    accounts::logout(&state.db, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
