//! Session lookups served from memory.
//!
//! Every REST request and WebSocket handshake names its session; looking each
//! up in PostgreSQL costs a round trip and a query. Sessions found there are
//! kept in a bounded cache with their expiry,
//! so a cached session still ends exactly when it expires. A logout removes
//! the session here and, through the cluster's `Logout` event, on every other
//! instance; as a backstop for an event lost with the broker, an entry is
//! read again from PostgreSQL after [`RECHECK_AFTER`], and open sockets ask
//! [`Sessions::still_valid`] twice a minute, which reads it again once the
//! entry is half that old: a missed logout still closes them within a minute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use time::OffsetDateTime;

use crate::store::{Store, StoreError, User};

/// Sessions kept in memory per instance.
const CAPACITY: u64 = 100_000;
/// The longest a cached session is trusted without asking PostgreSQL again.
const RECHECK_AFTER: Duration = Duration::from_secs(60);
/// How often an open socket asks whether its session still holds, and how
/// old a cached entry may be to answer it: together at most a minute.
pub(crate) const SOCKET_RECHECK: Duration = Duration::from_secs(30);

/// A token hash (SHA-256 of the cookie's token).
type TokenHash = [u8; 32];

#[derive(Clone)]
struct Cached {
    user: User,
    expires_at: OffsetDateTime,
    /// When it was read from PostgreSQL.
    read_at: Instant,
}

/// The sessions of the server: PostgreSQL behind an in-process cache.
pub(crate) struct Sessions {
    store: Store,
    cache: Cache<TokenHash, Cached>,
    /// Counts sessions ended or forgotten: a lookup that saw it change while
    /// it read PostgreSQL does not cache what it read, which may be a session
    /// that has just ended.
    ended: AtomicU64,
    /// How old an entry may be to answer [`Sessions::still_valid`].
    socket_recheck: Duration,
}

impl Sessions {
    /// Sessions stored in `store`.
    pub(crate) fn new(store: Store) -> Self {
        Self::with_socket_recheck(store, SOCKET_RECHECK)
    }

    fn with_socket_recheck(store: Store, socket_recheck: Duration) -> Self {
        let cache = Cache::builder().max_capacity(CAPACITY).time_to_live(RECHECK_AFTER).build();
        Self { store, cache, ended: AtomicU64::new(0), socket_recheck }
    }

    /// The user of an unexpired session, and when the session expires.
    pub(crate) async fn session(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(User, OffsetDateTime)>, StoreError> {
        if let Some(cached) = self.cache.get(token_hash) {
            if cached.expires_at > OffsetDateTime::now_utc() {
                return Ok(Some((cached.user, cached.expires_at)));
            }
            self.cache.invalidate(token_hash);
            return Ok(None);
        }
        self.read(token_hash).await
    }

    /// Whether an open socket's session still holds (not ended, not
    /// expired): from memory when read from PostgreSQL less than
    /// [`SOCKET_RECHECK`] ago, else from PostgreSQL.
    pub(crate) async fn still_valid(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        if let Some(cached) = self.cache.get(token_hash)
            && cached.read_at.elapsed() < self.socket_recheck
        {
            return Ok(cached.expires_at > OffsetDateTime::now_utc());
        }
        Ok(self.read(token_hash).await?.is_some())
    }

    /// Reads a session from PostgreSQL, caching what is found.
    async fn read(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(User, OffsetDateTime)>, StoreError> {
        let ended_before = self.ended.load(Ordering::Acquire);
        let read_at = Instant::now();
        let Some((user, expires_at)) = self.store.session_user(token_hash).await? else {
            self.cache.invalidate(token_hash);
            return Ok(None);
        };
        if self.ended.load(Ordering::Acquire) == ended_before {
            self.cache.insert(*token_hash, Cached { user: user.clone(), expires_at, read_at });
        }
        Ok(Some((user, expires_at)))
    }

    /// Ends a session (logout on this instance).
    pub(crate) async fn end(&self, token_hash: &TokenHash) -> Result<(), StoreError> {
        self.store.delete_session(token_hash).await?;
        // After the delete: a lookup that read the row before it then sees
        // `ended` change and does not cache it.
        self.forget(token_hash);
        Ok(())
    }

    /// Drops a session another instance ended.
    pub(crate) fn forget(&self, token_hash: &TokenHash) {
        self.ended.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(token_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Sessions {
        async fn user(&self, token_hash: &TokenHash) -> Result<Option<User>, StoreError> {
            Ok(self.session(token_hash).await?.map(|(user, _)| user))
        }
    }

    async fn sessions_with_a_user() -> (testkit::database::TestDatabase, Sessions, User) {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let user = store.create_user("ann", None, "hash").await.unwrap();
        (database, Sessions::new(store), user)
    }

    #[tokio::test]
    async fn a_cached_session_ends_exactly_when_it_expires() {
        let (_database, sessions, user) = sessions_with_a_user().await;
        let expires_at = OffsetDateTime::now_utc() + Duration::from_millis(300);
        sessions.store.create_session(&[1; 32], user.id, expires_at).await.unwrap();
        assert_eq!(sessions.user(&[1; 32]).await.unwrap(), Some(user.clone()));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(sessions.user(&[1; 32]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_ended_or_forgotten_session_is_read_again_from_the_database() {
        let (_database, sessions, user) = sessions_with_a_user().await;
        let expires_at = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        sessions.store.create_session(&[1; 32], user.id, expires_at).await.unwrap();
        assert!(sessions.user(&[1; 32]).await.unwrap().is_some());
        sessions.end(&[1; 32]).await.unwrap();
        assert_eq!(sessions.user(&[1; 32]).await.unwrap(), None);

        // Another instance deleted this one's row and told it to forget.
        sessions.store.create_session(&[2; 32], user.id, expires_at).await.unwrap();
        assert!(sessions.user(&[2; 32]).await.unwrap().is_some());
        sessions.store.delete_session(&[2; 32]).await.unwrap();
        assert!(sessions.user(&[2; 32]).await.unwrap().is_some(), "served from memory");
        sessions.forget(&[2; 32]);
        assert_eq!(sessions.user(&[2; 32]).await.unwrap(), None);
    }

    /// A logout this instance never heard of: a socket's check reads the
    /// database once the cached entry is older than [`SOCKET_RECHECK`].
    #[tokio::test]
    async fn a_socket_learns_of_a_missed_logout_from_the_database() {
        let (_database, sessions, user) = sessions_with_a_user().await;
        let fresh_for = Duration::from_millis(300);
        let sessions = Sessions::with_socket_recheck(sessions.store.clone(), fresh_for);
        let expires_at = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        sessions.store.create_session(&[3; 32], user.id, expires_at).await.unwrap();
        assert!(sessions.still_valid(&[3; 32]).await.unwrap());
        sessions.store.delete_session(&[3; 32]).await.unwrap();
        assert!(sessions.still_valid(&[3; 32]).await.unwrap(), "fresh: from memory");
        tokio::time::sleep(fresh_for).await;
        assert!(!sessions.still_valid(&[3; 32]).await.unwrap());
        assert_eq!(sessions.user(&[3; 32]).await.unwrap(), None);
    }
}
