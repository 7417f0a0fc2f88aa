//! Access tokens (JWT, HS256, short-lived) and refresh tokens (random, stored only as a hash).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Role, UserId};
use crate::error::AppError;

/// Clock skew tolerated between instances when checking `exp` (API.md §4: at most 2 s).
const LEEWAY_SECS: u64 = 2;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    /// The role when the token was issued. Authorization uses the role in the database, so a
    /// demotion takes effect at once rather than when the token expires.
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: uuid::Uuid,
}

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl AccessTokens {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let secret = secret.expose_secret().as_bytes();
        // Only HS256: a token naming `none` or any other algorithm fails verification, which
        // closes the classic algorithm-confusion attacks.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        AccessTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: UserId, role: Role) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            role,
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::now_v7(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot sign a token: {e}")))
    }

    /// Any failure — malformed, tampered, wrong algorithm, expired — is the same 401.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| AppError::Unauthorized)
    }
}

/// A new refresh token (256 random bits, URL-safe) and the hash to store for it.
pub fn new_refresh_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// SHA-256, hex. A fast hash is right here, unlike for passwords: the input has 256 bits of
/// entropy, so there is nothing to brute-force, and lookups by hash stay a unique-index probe.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> AccessTokens {
        AccessTokens::new(&SecretString::from(secret), Duration::from_secs(900))
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let tokens = tokens(&"s".repeat(32));
        let user = UserId::generate();
        let claims = tokens
            .verify(&tokens.issue(user, Role::Admin).unwrap())
            .unwrap();
        assert_eq!((claims.sub, claims.role), (user, Role::Admin));
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let ours = tokens(&"a".repeat(32));
        let theirs = tokens(&"b".repeat(32));
        let token = theirs.issue(UserId::generate(), Role::User).unwrap();
        assert!(matches!(ours.verify(&token), Err(AppError::Unauthorized)));
    }

    #[test]
    fn refresh_tokens_are_random_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in unpadded base64url");
        assert_eq!(hash_a, hash_refresh_token(&a));
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a));
    }
}
