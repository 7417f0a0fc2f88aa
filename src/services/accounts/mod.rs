//! Registration, login, refresh-token rotation, logout, password changes and the bearer check
//! behind every authenticated request.

mod lockout;
mod passwords;
mod tokens;

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    Unchanged,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

pub use self::lockout::{Attempt, Budget, LockoutPolicy};
pub use self::passwords::{Passwords, Verified};
pub use self::tokens::{AccessTokens, Claims};
use crate::config::Config;
use crate::db::entities::{refresh_tokens, user_profiles, users};
use crate::db::{self, Db, outbox, queue};
use crate::domain::{
    Actor, DomainEvent, Email, FieldError, Input, Invalid, Job, Password, RefreshTokenId, Role,
    TokenFamilyId, UserId, Validation, optional_text,
};
use crate::error::AppError;
use crate::services::users::{NAME_MAX_CHARS, User, find as find_user, optional_url};

/// What the account use cases need besides the database: keys, lifetimes and the hasher.
pub struct Auth {
    pub passwords: Passwords,
    pub access_tokens: AccessTokens,
    pub refresh_ttl: Duration,
    pub lockout: LockoutPolicy,
}

impl Auth {
    pub fn from_config(config: &Config) -> Self {
        Auth {
            passwords: Passwords::new(),
            access_tokens: AccessTokens::new(&config.jwt_secret, config.access_token_ttl),
            refresh_ttl: config.refresh_token_ttl,
            lockout: LockoutPolicy::new(config.login_max_failures, config.login_lockout),
        }
    }
}

/// `POST /auth/register`, parsed. Any other field of the body (`role`!) never gets this far.
#[derive(Debug)]
pub struct Register {
    pub email: Email,
    pub password: Password,
    pub name: Option<String>,
    pub avatar: Option<String>,
}

impl Register {
    /// Checks every field at once: `email` valid, `password` 8..=128 characters, `name` at most
    /// 100 characters, `avatar` an http(s) URL. Blank optional fields mean "none".
    pub fn parse(
        email: Input<&str>,
        password: Input<String>,
        name: Input<&str>,
        avatar: Input<&str>,
    ) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let email = v.required("email", email, Email::parse);
        let password = v.required("password", password, Password::parse);
        let name = v.optional("name", name, |name| {
            optional_text(Some(name), NAME_MAX_CHARS)
        });
        let avatar = v.optional("avatar", avatar, |avatar| optional_url(Some(avatar)));
        let parsed = match (email, password, name, avatar) {
            (Some(email), Some(password), Some(name), Some(avatar)) => Some(Register {
                email,
                password,
                name: name.flatten(),
                avatar: avatar.flatten(),
            }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// Creates a USER, with its `user.registered` event and the welcome mail in the same
/// transaction, so there is never a user without either, nor either without a user.
pub async fn register(db: &Db, auth: &Auth, cmd: Register) -> Result<User, AppError> {
    let hash = auth.passwords.hash(cmd.password.expose()).await?;
    let now = db::now();
    let id = UserId::generate();
    let txn = db.begin_write().await?;
    let inserted = users::ActiveModel {
        id: Set(id),
        email: Set(cmd.email.into_string()),
        password_hash: Set(hash),
        name: Set(cmd.name),
        avatar: Set(cmd.avatar),
        role: Set(Role::User),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(error) if db::is_unique_violation(&error) => {
            return Err(AppError::Conflict("Email is already registered".into()));
        }
        Err(error) => return Err(error.into()),
    };
    let email = user.email.clone();
    outbox::append(&txn, DomainEvent::UserRegistered { user_id: id, email }).await?;
    queue::enqueue(
        &txn,
        &Job::WelcomeMail { user_id: id },
        db.job_max_attempts(),
    )
    .await?;
    txn.commit().await?;
    db.wake().outbox();
    db.wake().jobs();
    tracing::info!(user.id = %id, "user registered");
    Ok(User::from_models(user, None))
}

/// `POST /auth/login`, checked only for presence and length: the email is not validated here,
/// because an email that cannot be an account must get the same answer as a wrong password.
#[derive(Debug)]
pub struct Login {
    pub email: String,
    pub password: SecretString,
}

impl Login {
    pub fn parse(email: Input<String>, password: Input<SecretString>) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let email = v.required("email", email, Ok);
        let password = v.required("password", password, current_password);
        let parsed = match (email, password) {
            (Some(email), Some(password)) => Some(Login { email, password }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// A password being checked, not set: any length a password can have. A longer one is refused
/// before it is hashed, since hashing megabytes costs every other login its turn.
pub fn current_password(password: SecretString) -> Result<SecretString, Invalid> {
    let chars = password.expose_secret().chars().count();
    if chars == 0 {
        return Err(Invalid::new("must not be empty"));
    }
    if chars > crate::domain::PASSWORD_MAX_CHARS {
        return Err(Invalid::new(format!(
            "must be at most {} characters",
            crate::domain::PASSWORD_MAX_CHARS
        )));
    }
    Ok(password)
}

/// A successful login or refresh: a short-lived access token and the next refresh token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// Access token (JWT) for `Authorization: Bearer …`.
    pub token: String,
    /// Opaque; send it to `/auth/refresh` for the next pair. It works once.
    pub refresh_token: String,
    /// Seconds until `token` expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: User,
    #[serde(flatten)]
    pub tokens: Tokens,
}

/// Checks the password (a dummy hash stands in for an unknown email, so both take as long and
/// answer the same) within the email's lockout budget, then starts a new refresh-token family.
pub async fn login(db: &Db, auth: &Auth, cmd: Login) -> Result<Session, AppError> {
    // No account has an email that does not parse: answer without a write or a hash.
    let Ok(email) = Email::parse(&cmd.email) else {
        return Err(AppError::InvalidCredentials);
    };
    let attempt = auth
        .lockout
        .begin(db, &Budget::Login(email.as_str().to_owned()))
        .await?;
    // With the profile, so the session's user needs no second query.
    let found = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .filter(users::Column::DeletedAt.is_null())
        .find_also_related(user_profiles::Entity)
        .one(db.read())
        .await?;
    let verified = auth
        .passwords
        .verify(
            cmd.password.expose_secret(),
            found.as_ref().map(|(u, _)| u.password_hash.as_str()),
        )
        .await?;
    let ((user, profile), rehash) = match (found, verified) {
        (Some(found), Verified::Yes { rehash }) => (found, rehash),
        _ => {
            auth.lockout.failed(db, attempt).await?;
            return Err(AppError::InvalidCredentials);
        }
    };

    let txn = db.begin_write().await?;
    auth.lockout.succeeded(&txn, attempt).await?;
    if let Some(rehash) = rehash {
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(rehash))
            .filter(users::Column::Id.eq(user.id))
            .exec(&txn)
            .await?;
        tracing::info!(user.id = %user.id, "bcrypt hash replaced by Argon2id");
    }
    let refresh_token = start_refresh_token(&txn, auth, user.id, TokenFamilyId::generate()).await?;
    txn.commit().await?;

    let user = User::from_models(user, profile);
    let access = auth.access_tokens.issue(user.id, user.role)?;
    Ok(Session {
        user,
        tokens: tokens(auth, access, refresh_token),
    })
}

fn tokens(auth: &Auth, access: String, refresh_token: String) -> Tokens {
    Tokens {
        token: access,
        refresh_token,
        expires_in: auth.access_tokens.ttl().as_secs(),
    }
}

async fn start_refresh_token(
    db: &impl ConnectionTrait,
    auth: &Auth,
    user: UserId,
    family: TokenFamilyId,
) -> Result<String, AppError> {
    let (token, hash) = tokens::new_refresh_token();
    let now = db::now();
    refresh_tokens::ActiveModel {
        id: Set(RefreshTokenId::generate()),
        user_id: Set(user),
        family_id: Set(family),
        token_hash: Set(hash),
        expires_at: Set(now + auth.refresh_ttl),
        rotated_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Exchanges a refresh token for a new pair. The old token is marked rotated by a conditional
/// update, so of concurrent refreshes exactly one wins. Presenting a token that was already
/// rotated means two parties hold it — one of them a thief — so the whole family is revoked
/// and both must log in again.
pub async fn refresh(db: &Db, auth: &Auth, token: &str) -> Result<Tokens, AppError> {
    let hash = tokens::hash_refresh_token(token);
    let now = db::now();
    let txn = db.begin_write().await?;
    let rotated = txn
        .query_one_raw(db::sql(
            &txn,
            "UPDATE refresh_tokens SET rotated_at = $2 \
             WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL \
               AND expires_at > $2 \
             RETURNING user_id, family_id",
            [hash.clone().into(), now.into()],
        ))
        .await?;

    let Some(row) = rotated else {
        let reused = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash))
            .filter(refresh_tokens::Column::RotatedAt.is_not_null())
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .one(&txn)
            .await?;
        if let Some(reused) = reused {
            revoke_where(&txn, refresh_tokens::Column::FamilyId.eq(reused.family_id)).await?;
            txn.commit().await?;
            tracing::warn!(
                user.id = %reused.user_id,
                "a rotated refresh token was presented again; its family is revoked"
            );
        }
        return Err(AppError::Unauthorized);
    };
    let user_id: UserId = row.try_get("", "user_id")?;
    let family: TokenFamilyId = row.try_get("", "family_id")?;
    let role = users::Entity::find_by_id(user_id)
        .filter(users::Column::DeletedAt.is_null())
        .select_only()
        .column(users::Column::Role)
        .into_tuple::<Role>()
        .one(&txn)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let refresh_token = start_refresh_token(&txn, auth, user_id, family).await?;
    txn.commit().await?;
    Ok(tokens(
        auth,
        auth.access_tokens.issue(user_id, role)?,
        refresh_token,
    ))
}

/// Refresh tokens are 43 characters; this bound only keeps junk from being hashed.
const MAX_REFRESH_TOKEN_BYTES: usize = 512;

/// The refresh token of a refresh or logout request, checked for presence and size.
pub fn refresh_token(input: Input<String>) -> Result<String, AppError> {
    let mut v = Validation::default();
    let token = v.required("refreshToken", input, |token| {
        if token.len() > MAX_REFRESH_TOKEN_BYTES {
            return Err(Invalid::new(format!(
                "must be at most {MAX_REFRESH_TOKEN_BYTES} characters"
            )));
        }
        Ok(token)
    });
    Ok(v.finish(token)?)
}

/// Revokes one refresh token. Unknown and already revoked tokens are not an error: the caller
/// wanted the token dead, and it is.
pub async fn logout(db: &Db, token: &str) -> Result<(), AppError> {
    revoke_where(
        db.write(),
        refresh_tokens::Column::TokenHash.eq(tokens::hash_refresh_token(token)),
    )
    .await
}

async fn revoke_where(
    db: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<(), AppError> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(db::now()))
        .filter(condition)
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// `PUT /users/me/password`, checked: the current password within the length any password
/// has, the new one within the rules for new passwords.
#[derive(Debug)]
pub struct ChangePassword {
    pub current: SecretString,
    pub new: Password,
}

impl ChangePassword {
    pub fn parse(current: Input<SecretString>, new: Input<String>) -> Result<Self, AppError> {
        let mut v = Validation::default();
        let current = v.required("currentPassword", current, current_password);
        let new = v.required("newPassword", new, Password::parse);
        let parsed = match (current, new) {
            (Some(current), Some(new)) => Some(ChangePassword { current, new }),
            _ => None,
        };
        Ok(v.finish(parsed)?)
    }
}

/// Changes the password after checking the current one, signs the user out everywhere, and
/// queues the notification mail. The check has a budget of its own, keyed by the user rather
/// than the email, so a stolen access token cannot be used to guess the password and someone
/// locking the email out of logins cannot lock its owner's session out of this.
pub async fn change_password(
    db: &Db,
    auth: &Auth,
    actor: &Actor,
    cmd: ChangePassword,
) -> Result<(), AppError> {
    let user = users::Entity::find_by_id(actor.id)
        .filter(users::Column::DeletedAt.is_null())
        .one(db.read())
        .await?
        .ok_or(AppError::Unauthorized)?;
    let attempt = auth.lockout.begin(db, &Budget::Password(actor.id)).await?;
    let verified = auth
        .passwords
        .verify(cmd.current.expose_secret(), Some(&user.password_hash))
        .await?;
    if verified == Verified::No {
        auth.lockout.failed(db, attempt).await?;
        return Err(AppError::Validation(vec![FieldError::new(
            "currentPassword",
            "is incorrect",
        )]));
    }
    let hash = auth.passwords.hash(cmd.new.expose()).await?;

    let txn = db.begin_write().await?;
    auth.lockout.succeeded(&txn, attempt).await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(db::now()))
        .filter(users::Column::Id.eq(actor.id))
        .exec(&txn)
        .await?;
    revoke_where(&txn, refresh_tokens::Column::UserId.eq(actor.id)).await?;
    queue::enqueue(
        &txn,
        &Job::PasswordChangedMail { user_id: actor.id },
        db.job_max_attempts(),
    )
    .await?;
    txn.commit().await?;
    db.wake().jobs();
    tracing::info!(user.id = %actor.id, "password changed; every session revoked");
    Ok(())
}

/// The check behind every authenticated request: a valid access token for a user who still
/// exists. The role comes from the database, not the token, so a role change applies at once.
pub async fn authenticate(db: &Db, auth: &Auth, bearer: &str) -> Result<Actor, AppError> {
    let claims = auth.access_tokens.verify(bearer)?;
    let role = users::Entity::find_by_id(claims.sub)
        .filter(users::Column::DeletedAt.is_null())
        .select_only()
        .column(users::Column::Role)
        .into_tuple::<Role>()
        .one(db.read())
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Actor {
        id: claims.sub,
        role,
    })
}

/// `ecommerce-api create-admin`: creates an ADMIN, or promotes an existing account and sets its
/// password. Either way its old sessions end.
pub async fn create_admin(
    db: &Db,
    auth: &Auth,
    email: Email,
    password: Password,
    name: Option<String>,
) -> Result<User, AppError> {
    let hash = auth.passwords.hash(password.expose()).await?;
    let now = db::now();
    let email_key = email.as_str().to_owned();
    let txn = db.begin_write().await?;
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .filter(users::Column::DeletedAt.is_null())
        .one(&txn)
        .await?;
    let id = match existing {
        Some(user) => {
            let mut promoted = users::ActiveModel {
                id: Unchanged(user.id),
                role: Set(Role::Admin),
                password_hash: Set(hash),
                updated_at: Set(now),
                ..Default::default()
            };
            if name.is_some() {
                promoted.name = Set(name);
            }
            promoted.update(&txn).await?;
            revoke_where(&txn, refresh_tokens::Column::UserId.eq(user.id)).await?;
            user.id
        }
        None => {
            let id = UserId::generate();
            users::ActiveModel {
                id: Set(id),
                email: Set(email.into_string()),
                password_hash: Set(hash),
                name: Set(name),
                avatar: Set(None),
                role: Set(Role::Admin),
                deleted_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            id
        }
    };
    // An operator resetting an account means it to be usable at once.
    auth.lockout.unlock(&txn, &Budget::Login(email_key)).await?;
    let user = find_user(&txn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the admin just written is missing"))?;
    txn.commit().await?;
    Ok(user)
}

/// `ecommerce-api unlock`: ends the login lockout of an email at once (also when there is none).
pub async fn unlock(db: &Db, auth: &Auth, email: &Email) -> Result<(), AppError> {
    auth.lockout
        .unlock(db.write(), &Budget::Login(email.as_str().to_owned()))
        .await
}
