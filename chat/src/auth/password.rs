//! Argon2id password hashing on a few dedicated threads, off the async runtime.
//!
//! Hashes run on `workers` threads of their own (one per core) fed by a bounded
//! queue: that bounds the hashes in flight (each needs a 19 MiB working buffer
//! and a core for tens of milliseconds), and further callers wait in the queue.
//! Giving the buffers back to the system is the allocator's job (see `main.rs`).

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::{mpsc, oneshot};

/// OWASP's Argon2id settings: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Hashes waiting for a worker; further callers wait for room (backpressure).
const QUEUE: usize = 256;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and checks passwords without blocking the runtime.
#[derive(Clone)]
pub(crate) struct Passwords {
    argon: Argon2<'static>,
    /// Feeds the hashing threads; they stop when every handle is dropped.
    jobs: mpsc::Sender<Job>,
    /// Checked when the user does not exist, so that costs as much as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub(crate) fn new(workers: usize) -> Self {
        // These constant parameters are valid; Params::new only rejects out-of-range values.
        let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_blocking(&argon, "not the password of anyone").unwrap_or_default();
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            let spawned =
                std::thread::Builder::new().name(format!("argon2-{index}")).spawn(move || {
                    loop {
                        let job =
                            queue.lock().unwrap_or_else(PoisonError::into_inner).blocking_recv();
                        match job {
                            Some(job) => job(),
                            None => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { argon, jobs, dummy_hash: dummy_hash.into() }
    }

    /// The PHC string of a new salted hash of `password`.
    pub(crate) async fn hash(&self, password: String) -> Option<String> {
        let argon = self.argon.clone();
        self.run(move || hash_blocking(&argon, &password)).await.flatten()
    }

    /// True when `password` matches `hash`. With no hash (unknown user) a dummy
    /// hash is checked instead and the answer is false.
    pub(crate) async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let argon = self.argon.clone();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move || {
                // An unusable stored hash (the bot's "!") still costs one real check.
                let parsed = PasswordHash::new(&hash);
                match parsed {
                    Ok(parsed) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
                    Err(_) => {
                        let _ = hash_blocking(&argon, &password);
                        false
                    }
                }
            })
            .await
            .unwrap_or(false);
        known && matches
    }

    /// Runs `work` on a hashing thread; `None` if the threads are gone.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).await.ok()?;
        result.await.ok()
    }
}

fn hash_blocking(argon: &Argon2<'_>, password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).ok()?;
    let salt = SaltString::encode_b64(&salt).ok()?;
    argon.hash_password(password.as_bytes(), &salt).ok().map(|h| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::Passwords;

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let passwords = Passwords::new(2);
        let hash = passwords.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(passwords.verify("correct horse".into(), Some(hash.clone())).await);
        assert!(!passwords.verify("wrong horse".into(), Some(hash)).await);
        assert!(!passwords.verify("correct horse".into(), None).await);
        assert!(!passwords.verify("anything".into(), Some("!".into())).await);
    }
}
