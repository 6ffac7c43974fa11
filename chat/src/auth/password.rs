//! Argon2id password hashing on a few dedicated threads, off the async runtime.
//!
//! Hashes run on `workers` threads of their own (one per core): that bounds
//! the hashes in flight (each needs a 19 MiB working buffer and a core for
//! tens of milliseconds). Giving the buffers back to the system is the
//! allocator's job (see `main.rs`).
//!
//! Two lanes share the threads. Registrations may use at most half of them
//! (at least one), so logins of existing users always have threads of their
//! own and never queue behind a flood of registrations. Each lane admits a
//! bounded number of waiting callers; beyond that a caller is refused at once
//! ([`HashError::Busy`]: the server answers 503 and the client retries)
//! instead of waiting without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, oneshot};

/// OWASP's Argon2id settings: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Registrations waiting for their lane; more are refused.
const REGISTRATIONS_WAITING: usize = 8;
/// Logins waiting for a thread; more are refused.
const LOGINS_WAITING: usize = 256;

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HashError {
    /// Too many callers are waiting already: retry shortly.
    #[error("password hashing is busy")]
    Busy,
    /// Hashing failed (no randomness, or the threads are gone).
    #[error("password hashing failed")]
    Failed,
}

/// A bounded wait for a semaphore: at most `max` callers wait at once.
struct Lane {
    permits: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Lane {
    fn new(permits: usize, max_waiting: usize) -> Self {
        Self { permits: Semaphore::new(permits), waiting: AtomicUsize::new(0), max_waiting }
    }

    /// A permit, at once or after waiting in line; `Busy` when the line is full.
    async fn enter(&self) -> Result<SemaphorePermit<'_>, HashError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        // Leaves the line even when the caller gives up waiting.
        struct InLine<'a>(&'a AtomicUsize);
        impl Drop for InLine<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _in_line = InLine(&self.waiting);
        self.permits.acquire().await.map_err(|_| HashError::Failed)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and checks passwords without blocking the runtime.
pub(crate) struct Passwords {
    argon: Argon2<'static>,
    /// Feeds the hashing threads; they stop when every handle is dropped.
    jobs: mpsc::Sender<Job>,
    /// One permit per hashing thread; logins wait here.
    threads: Lane,
    /// Registrations wait here before they wait for a thread.
    registrations: Lane,
    /// Checked when the user does not exist, so that costs as much as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub(crate) fn new(workers: usize) -> Self {
        // These constant parameters are valid; Params::new only rejects out-of-range values.
        let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_blocking(&argon, "not the password of anyone").unwrap_or_default();
        let workers = workers.max(1);
        // Never full: no more jobs are admitted than there are threads.
        let (jobs, queue) = mpsc::channel::<Job>(workers);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers {
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
        Self {
            argon,
            jobs,
            threads: Lane::new(workers, LOGINS_WAITING),
            registrations: Lane::new((workers / 2).max(1), REGISTRATIONS_WAITING),
            dummy_hash: dummy_hash.into(),
        }
    }

    /// The PHC string of a new salted hash of `password`, for a registration.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        let _lane = self.registrations.enter().await?;
        let _thread = self.threads.permits.acquire().await.map_err(|_| HashError::Failed)?;
        let argon = self.argon.clone();
        self.run(move || hash_blocking(&argon, &password)).await.flatten().ok_or(HashError::Failed)
    }

    /// True when `password` matches `hash`, for a login. With no hash
    /// (unknown user) a dummy hash is checked instead and the answer is false.
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        let _thread = self.threads.enter().await?;
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
            .ok_or(HashError::Failed)?;
        Ok(known && matches)
    }

    /// Runs `work` on a hashing thread (the caller holds a thread's permit);
    /// `None` if the threads are gone.
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
    use super::{HashError, Passwords};

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let passwords = Passwords::new(2);
        let hash = passwords.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let verify = |password: &str, hash: Option<&str>| {
            passwords.verify(password.into(), hash.map(str::to_owned))
        };
        assert_eq!(verify("correct horse", Some(&hash)).await, Ok(true));
        assert_eq!(verify("wrong horse", Some(&hash)).await, Ok(false));
        assert_eq!(verify("correct horse", None).await, Ok(false));
        assert_eq!(verify("anything", Some("!")).await, Ok(false));
    }

    /// A flood of registrations fills its lane and is refused beyond it,
    /// while a login still finds a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registrations_beyond_their_lane_are_refused_and_logins_pass() {
        let passwords = std::sync::Arc::new(Passwords::new(2));
        let flood: Vec<_> = (0..40)
            .map(|_| {
                let passwords = std::sync::Arc::clone(&passwords);
                tokio::spawn(async move { passwords.hash("pw".into()).await })
            })
            .collect();
        // Every registration is queued or refused before the login is asked.
        while passwords.registrations.waiting.load(std::sync::atomic::Ordering::Acquire)
            < super::REGISTRATIONS_WAITING
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(passwords.verify("pw".into(), None).await, Ok(false));
        let pending = flood.iter().filter(|task| !task.is_finished()).count();
        assert!(pending > 0, "the login did not wait for the registrations");
        let mut outcomes = Vec::new();
        for task in flood {
            outcomes.push(task.await.unwrap());
        }
        let busy = outcomes.iter().filter(|o| **o == Err(HashError::Busy)).count();
        let hashed = outcomes.iter().filter(|o| o.is_ok()).count();
        assert!(busy > 0, "the lane never filled");
        assert_eq!(busy + hashed, 40, "{outcomes:?}");
    }
}
