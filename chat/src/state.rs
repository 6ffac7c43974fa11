//! What every request and connection shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Passwords, Sessions};
use crate::config::Config;
use crate::limits::Limits;
use crate::rooms::{RoomWriter, Rooms, SessionSockets};
use crate::stock::StockDesk;
use crate::store::Store;

/// Password hashing threads: one per core of the machine.
fn hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The server's shared state.
pub(crate) struct App {
    /// Validated configuration.
    pub(crate) config: Config,
    /// PostgreSQL.
    pub(crate) store: Store,
    /// Argon2id, bounded.
    pub(crate) passwords: Passwords,
    /// Sessions, looked up in memory first.
    pub(crate) sessions: Arc<Sessions>,
    /// Live rooms and presence.
    pub(crate) rooms: Arc<Rooms>,
    /// The room writer (persist, then broadcast).
    pub(crate) writer: RoomWriter,
    /// Open sockets per session, for logout.
    pub(crate) sockets: Arc<SessionSockets>,
    /// Where `/stock=` commands go.
    pub(crate) stock: Arc<dyn StockDesk>,
    /// Cancelled when the server stops: connections close with 1001.
    pub(crate) shutdown: CancellationToken,
    /// WebSocket connections and background tasks, awaited at shutdown.
    pub(crate) tasks: TaskTracker,
    /// Rate limits.
    pub(crate) limits: Limits,
    /// One permit per open connection (HTTP or WebSocket): the connection cap.
    pub(crate) connections: Arc<Semaphore>,
    /// Numbers connections.
    pub(crate) next_peer_id: AtomicU64,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: Config,
        store: Store,
        sessions: Arc<Sessions>,
        rooms: Arc<Rooms>,
        writer: RoomWriter,
        sockets: Arc<SessionSockets>,
        stock: Arc<dyn StockDesk>,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            limits: Limits::new(&config.rate_limits),
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config,
            store,
            sessions,
            passwords: Passwords::new(hash_concurrency()),
            rooms,
            writer,
            sockets,
            stock,
            shutdown,
            tasks,
            next_peer_id: AtomicU64::new(1),
        }
    }
}
