//! Password hashing: Argon2id with OWASP's parameters, on the blocking pool, on all cores but
//! one at a time.
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB of memory. Run on the async workers, a
//! burst of logins would stall every other request; run unbounded on the blocking pool, it
//! would take 19 MiB per waiting login and every core. The semaphore makes excess logins wait
//! their turn in the async queue instead, where waiting costs nothing, and keeps a core free
//! for everything else: with logins flat out on two cores, `/health` p99 stays under 5 ms.
//!
//! Each permit's 19 MiB working area is kept while logins keep coming, so a burst holds one
//! area per permit. Allocated per hash, freed areas stayed resident in whichever allocator
//! arena the blocking thread used, and a burst could hold several. Two seconds after the last
//! hash the areas are freed on an async worker, whose own allocations let the allocator
//! return them to the system a second later (mimalloc purges freed memory after a delay,
//! when the freeing thread next allocates), so a server that saw one login does not carry
//! 19 MiB for the rest of its life.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OnceCell, Semaphore};

/// OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;
/// Bytes of the hash itself, argon2's default.
const OUTPUT_LEN: usize = 32;

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

/// How long working areas are kept after the last hash.
const KEEP_IDLE_AREAS: Duration = Duration::from_secs(2);

pub struct Passwords {
    permits: Semaphore,
    memory: Arc<Mutex<Areas>>,
    /// What an unknown email is verified against, so it costs what a wrong password costs.
    dummy_hash: OnceCell<String>,
}

/// Working areas not in use (never more than there are permits), and how many hashes have
/// returned one, so a release can tell whether a hash came after it was planned.
#[derive(Default)]
struct Areas {
    free: Vec<Box<[Block]>>,
    returned: u64,
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
            memory: Arc::default(),
            dummy_hash: OnceCell::new(),
        }
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = SecretString::from(password);
        self.run(move |memory| hash(password.expose_secret(), memory))
            .await?
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
        self.run(move |memory| verify(password.expose_secret(), &stored, memory))
            .await?
    }

    /// Runs `work` on the blocking pool with a permit and a working area, which it returns.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("the hashing semaphore is closed")?;
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
            .pop()
            .unwrap_or_else(|| vec![Block::default(); params().block_count()].into_boxed_slice());
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .context("the hashing task failed")?;
        let returned = {
            let mut areas = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            areas.free.push(memory);
            areas.returned += 1;
            areas.returned
        };
        let areas = Arc::clone(&self.memory);
        tokio::spawn(async move {
            tokio::time::sleep(KEEP_IDLE_AREAS).await;
            let idle = {
                let mut areas = areas.lock().unwrap_or_else(PoisonError::into_inner);
                if areas.returned == returned {
                    std::mem::take(&mut areas.free)
                } else {
                    Vec::new()
                }
            };
            drop(idle);
        });
        Ok(result)
    }
}

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, LANES, Some(OUTPUT_LEN)).expect("valid Argon2 parameters")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), computed in `memory`.
fn hash(password: &str, memory: &mut [Block]) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))?;
    let argon2 = argon2();
    let mut output = [0; OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut output, memory)
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|e| anyhow::anyhow!("cannot encode the Argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| anyhow::anyhow!("bad hash output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` gives `stored`'s Argon2 hash, computed in `memory`, or in memory of its
/// own when `stored` asks for more (a hash made with larger parameters than today's). `None`
/// when `stored` is not an Argon2 hash that can be computed.
fn matches_argon2(password: &str, stored: &PasswordHash<'_>, memory: &mut [Block]) -> Option<bool> {
    let version = match stored.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    let argon2 = Argon2::new(
        Algorithm::try_from(stored.algorithm).ok()?,
        version,
        Params::try_from(stored).ok()?,
    );
    let expected = stored.hash?;
    let mut salt = [0; 64];
    let salt = stored.salt?.decode_b64(&mut salt).ok()?;
    let mut output = [0; Output::MAX_LENGTH];
    let output = output.get_mut(..expected.len())?;
    let blocks = argon2.params().block_count();
    let mut own = Vec::new();
    let memory = match memory.get_mut(..blocks) {
        Some(memory) => memory,
        None => {
            own.resize(blocks, Block::default());
            &mut own[..]
        }
    };
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, output, memory)
        .ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(output).ok()? == expected)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

fn verify(password: &str, stored: &str, memory: &mut [Block]) -> anyhow::Result<Verified> {
    if is_bcrypt(stored) {
        // An unreadable bcrypt hash is a wrong password, not a server error: the import may
        // have carried junk, and the user can still reset.
        return Ok(match bcrypt::verify(password, stored) {
            Ok(true) => Verified::Yes {
                rehash: Some(hash(password, memory)?),
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
        if matches_argon2(password, &parsed, memory).unwrap_or(false) {
            Verified::Yes { rehash: None }
        } else {
            Verified::No
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

    #[tokio::test(start_paused = true)]
    async fn working_areas_are_kept_through_a_burst_and_freed_when_it_ends() {
        let passwords = Passwords::new();
        let kept = || {
            passwords
                .memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .free
                .len()
        };
        passwords.hash("one").await.unwrap();
        assert_eq!(kept(), 1);
        tokio::time::sleep(KEEP_IDLE_AREAS / 2).await;
        passwords.hash("two").await.unwrap();
        tokio::time::sleep(KEEP_IDLE_AREAS * 3 / 4).await;
        assert_eq!(
            kept(),
            1,
            "a hash in the window keeps the area for the next"
        );
        tokio::time::sleep(KEEP_IDLE_AREAS / 2).await;
        assert_eq!(kept(), 0, "idle for the whole window: freed");
        passwords.hash("three").await.unwrap();
        assert_eq!(kept(), 1, "and made again when needed");
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
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};

        let passwords = Passwords::new();
        let ours = passwords.hash("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());

        // Made by the crate's own allocating API, with smaller and with larger memory than ours.
        for memory_kib in [8 * 1024, 32 * 1024] {
            let params = Params::new(memory_kib, 1, 1, None).unwrap();
            let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string();
            assert_eq!(
                passwords
                    .verify("correct horse", Some(&theirs))
                    .await
                    .unwrap(),
                Verified::Yes { rehash: None },
                "{theirs}"
            );
            assert_eq!(
                passwords
                    .verify("wrong horse", Some(&theirs))
                    .await
                    .unwrap(),
                Verified::No
            );
        }
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
