//! Password hashing: Argon2id with OWASP's parameters, on the blocking pool, on all cores but
//! one at a time.
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB of memory. Run on the async workers, a
//! burst of logins would stall every other request; run unbounded on the blocking pool, it
//! would take 19 MiB per waiting login and every core. The semaphore makes excess logins wait
//! their turn in the async queue instead, where waiting costs nothing, and keeps a core free
//! for everything else: with logins flat out on two cores, `/health` p99 stays under 5 ms.

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OnceCell, Semaphore};

/// OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    /// Correct. `rehash` is a new Argon2id hash when the stored one is bcrypt (accounts
    /// imported from the Node application) and should be replaced.
    Yes {
        rehash: Option<String>,
    },
}

pub struct Passwords {
    permits: Semaphore,
    /// What an unknown email is verified against, so it costs what a wrong password costs.
    dummy_hash: OnceCell<String>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords {
            permits: Semaphore::new(cores.saturating_sub(1).max(1)),
            dummy_hash: OnceCell::new(),
        }
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = SecretString::from(password);
        self.run(move || hash(password.expose_secret())).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account,
    /// so that both cost the same and an attacker cannot tell them apart by timing.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<Verified> {
        let stored = match stored {
            Some(stored) => stored.to_owned(),
            None => self
                .dummy_hash
                .get_or_try_init(|| async {
                    let random: [u8; 16] = rand::random();
                    self.hash(&format!("{random:?}")).await
                })
                .await?
                .clone(),
        };
        let password = SecretString::from(password);
        self.run(move || verify(password.expose_secret(), &stored))
            .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("the hashing semaphore is closed")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("the hashing task failed")
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

fn verify(password: &str, stored: &str) -> anyhow::Result<Verified> {
    if is_bcrypt(stored) {
        // An unreadable bcrypt hash is a wrong password, not a server error: the import may
        // have carried junk, and the user can still reset.
        return Ok(match bcrypt::verify(password, stored) {
            Ok(true) => Verified::Yes {
                rehash: Some(hash(password)?),
            },
            Ok(false) | Err(_) => Verified::No,
        });
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        // A wrong password to the client, so an account with a broken hash cannot be told
        // apart from any other failed login; the operator learns of it here.
        tracing::error!("a stored password hash is unreadable; the login is refused");
        return Ok(Verified::No);
    };
    Ok(
        match argon2().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Verified::Yes { rehash: None },
            Err(_) => Verified::No,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_salted() {
        let passwords = Passwords::new();
        let a = passwords.hash("correct horse").await.unwrap();
        let b = passwords.hash("correct horse").await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert_eq!(
            passwords.verify("correct horse", Some(&a)).await.unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(
            passwords.verify("wrong horse", Some(&a)).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let passwords = Passwords::new();
        let legacy = bcrypt::hash("from node", 4).unwrap();
        let Verified::Yes {
            rehash: Some(rehash),
        } = passwords.verify("from node", Some(&legacy)).await.unwrap()
        else {
            panic!("the bcrypt password verifies and is rehashed")
        };
        assert!(rehash.starts_with("$argon2id$"));
        assert_eq!(
            passwords.verify("from node", Some(&rehash)).await.unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(
            passwords.verify("not it", Some(&legacy)).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn an_unreadable_stored_hash_is_a_wrong_password() {
        let passwords = Passwords::new();
        assert_eq!(
            passwords.verify("anything", Some("!")).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn no_account_is_a_wrong_password() {
        let passwords = Passwords::new();
        assert_eq!(
            passwords.verify("anything", None).await.unwrap(),
            Verified::No
        );
    }
}
