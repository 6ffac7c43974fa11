//! PostgreSQL: the pool, migrations, the room writer's insert (`append`),
//! a room's log of messages and changes (`log`, `changes`), search
//! (`search`, with its indexing task), encrypted rooms' keys (`room_keys`),
//! and one file of queries per table.
//!
//! Every query goes through `prepare_cached`, so each statement is prepared
//! once per pooled connection.

mod append;
mod attachments;
mod changes;
mod keys;
mod log;
mod members;
mod messages;
mod migrate;
mod reactions;
mod reading;
mod room_keys;
mod rooms;
mod search;
mod sessions;
mod tls;
mod users;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

pub(crate) use append::{Appended, NewMessage, RoomHeads, StoredRow};
pub(crate) use attachments::{CHUNK_BYTES, NewFile, SEALED_CONTENT_TYPE, StoredFile, UploadError};
pub(crate) use changes::{Change, Changed, NewChange};
pub(crate) use keys::{IdentityKey, KeyBackup, PublicKeyOf};
pub(crate) use log::LogEntry;
pub(crate) use members::{Added, DirectRoom, Removed};
pub(crate) use messages::Before;
pub(crate) use reactions::{Toggle, Toggled};
pub(crate) use reading::{MAX_UNREAD, Marked, Unread};
pub(crate) use room_keys::{Accepting, Envelope, NewEnvelope, STALE_EPOCH, Shared};
pub(crate) use rooms::{Membership, Sealing};
pub(crate) use search::{MAX_QUERY_CHARS, Search, SearchIndex};
pub(crate) use tls::{Connection, parse as parse_database_url};
pub(crate) use users::User;

/// Connections per chat instance for everything but the room writer's tasks
/// (each has a pool of its own).
const POOL_SIZE: usize = 16;
/// A room writer task's connection: generic plans only, and no sequential scans
/// (see [`Store::writer_pool`]).
const WRITER_OPTIONS: &str = "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off";
/// How long a request waits for, or to open, a connection before it is refused.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had: the database is down or overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
}

impl StoreError {
    /// True when retrying later may succeed (connection trouble, not a bad query).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Postgres(e) => match e.code() {
                None => true,
                Some(code) => {
                    code.code().starts_with("08")
                        || *code == SqlState::ADMIN_SHUTDOWN
                        || *code == SqlState::CANNOT_CONNECT_NOW
                        || *code == SqlState::CRASH_SHUTDOWN
                }
            },
        }
    }

    /// True when PostgreSQL refused the statement for the data it was given
    /// (a data exception, class 22, or a broken constraint, class 23), not
    /// for a concurrent writer (a unique index) or its own trouble: the same
    /// rows would be refused again.
    pub(crate) fn is_data_fault(&self) -> bool {
        let StoreError::Postgres(error) = self else { return false };
        error.code().is_some_and(|code| {
            matches!(code.code().get(..2), Some("22" | "23")) && *code != SqlState::UNIQUE_VIOLATION
        })
    }

    /// True when the query broke a unique constraint.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
    }

    /// True when a row named one that does not exist.
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION))
    }
}

/// A PostgreSQL error with the server's own message, when it sent one
/// (`tokio_postgres::Error` displays only "db error" for those).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// The handle to the database every part of the server shares.
#[derive(Clone)]
pub(crate) struct Store {
    pool: Pool,
    /// Where `pool` connects: [`Store::writer_pool`] opens another there.
    connection: Connection,
}

impl Store {
    /// Creates the database if missing, applies migrations, and opens the pool.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut connection = tls::parse(url).map_err(StoreError::Unavailable)?;
        if connection.config.get_application_name().is_none() {
            connection.config.application_name("chat");
        }
        migrate::create_database_if_missing(&connection).await?;
        let store = Self { pool: pool(&connection, POOL_SIZE)?, connection };
        let mut client = store.client().await?;
        migrate::run(&mut client).await?;
        Ok(store)
    }

    /// A room writer task's store: a pool of its own, of one connection to the
    /// same database, so its inserts never wait for a connection behind the
    /// rest of the server's queries.
    ///
    /// Its statements always run generic plans: the group-commit insert was
    /// otherwise planned afresh on every call (costing PostgreSQL more CPU
    /// than running it does for a few rows), and the generic
    /// plan runs as fast for batches of hundreds of rows. A generic plan is
    /// made once per connection, though, and one made while `messages` is
    /// empty would scan the whole table for each room's newest message for as
    /// long as the connection lives; so these connections also plan without
    /// sequential scans (every statement they run is a key lookup).
    ///
    /// `role` names the connection to PostgreSQL (its `application_name`),
    /// so an operator can tell the writers' load from the search index's.
    pub(crate) fn writer_pool(&self, role: &str) -> Result<Self, StoreError> {
        let mut connection = self.connection.clone();
        connection.config.application_name(role);
        let options = match connection.config.get_options() {
            Some(options) => format!("{options} {WRITER_OPTIONS}"),
            None => WRITER_OPTIONS.to_owned(),
        };
        connection.config.options(&options);
        Ok(Self { pool: pool(&connection, 1)?, connection })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Answers when PostgreSQL answers a trivial query.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}

/// A pool of at most `size` connections, opened when first needed.
fn pool(connection: &Connection, size: usize) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        connection.config.clone(),
        connection.tls.clone(),
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}
