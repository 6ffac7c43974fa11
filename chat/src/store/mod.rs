//! PostgreSQL: the pool, migrations, and one file of queries per table.
//!
//! Every query goes through `prepare_cached`, so each statement is prepared
//! once per pooled connection.

mod messages;
mod migrate;
mod rooms;
mod sessions;
mod users;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub(crate) use messages::{Before, NewMessage, StoredRow};
pub(crate) use rooms::Membership;
pub(crate) use users::User;

/// Connections per chat instance: enough for the room writers and REST at once.
const POOL_SIZE: usize = 16;
/// How long a request waits for, or to open, a connection before it is refused.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had: the database is down or overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
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

    /// True when the query broke a unique constraint.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
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
}

impl Store {
    /// Creates the database if missing, applies migrations, and opens the pool.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        migrate::create_database_if_missing(&config).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self { pool };
        let mut client = store.client().await?;
        migrate::run(&mut client).await?;
        Ok(store)
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
