//! Wiring the parts together, and the shutdown sequence.
//!
//! # Layout
//!
//! - this file: [`run`]: each part built and handed what it uses.
//! - `accept`: the accept loop and the connection caps.
//! - `head_deadline`: a first request head within 10 s of accept.
//! - `upkeep`: background sweeps (metrics, rate-limit keys, sessions).

mod accept;
mod head_deadline;
mod upkeep;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{Origins, Proxies};
use crate::auth::{Passwords, Sessions};
use crate::broker::{Broker, BrokerLink};
use crate::cluster::{self, PublishChannel};
use crate::config::Config;
use crate::http::{Api, MAX_UPLOADS_PER_USER, Uploads};
use crate::limits::{Limits, Tally};
use crate::rooms::{RoomWriter, Rooms, SessionSockets, fill_gaps};
use crate::store::{Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// PostgreSQL could not be reached or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `METRICS_ADDR` could not be bound.
    #[error("cannot listen on METRICS_ADDR {addr}: {error}")]
    MetricsAddr {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}
use crate::actions::RoomActions;
use crate::ws::Gateway;

/// How long shutdown waits for sockets and the room writer to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connects to PostgreSQL (creating and migrating the database), starts the
/// room writer and the RabbitMQ link, then serves `listener` until `shutdown`
/// completes. Then, for `SHUTDOWN_GRACE`, readiness answers 503 while
/// everything is still served (load balancers move new clients away); then
/// it stops accepting, closes WebSockets with 1001, stores what the writer
/// holds, and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let metrics_listener = match config.metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|error| StartError::MetricsAddr { addr, error })?,
        ),
        None => None,
    };
    let store = Store::connect(&config.database_url).await?;
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let writer_tasks = TaskTracker::new();
    let events = PublishChannel::default();
    let (gaps, gap_requests) = mpsc::unbounded_channel();
    let outbox = cluster::outbox(events.clone());
    let rooms = Arc::new(Rooms::new(Arc::new(outbox.clone()), gaps));
    let sockets = Arc::new(SessionSockets::new(Arc::new(outbox.clone())));
    let sessions = Arc::new(Sessions::new(store.clone()));
    let writer = RoomWriter::start(&store, Arc::clone(&rooms), config.room_writers, &writer_tasks)?;
    let link = BrokerLink {
        writer: writer.clone(),
        receivers: cluster::Receivers {
            outbox: outbox.clone(),
            rooms: Arc::clone(&rooms),
            sockets: Arc::clone(&sockets),
            sessions: Arc::clone(&sessions),
            store: store.clone(),
        },
        events,
    };
    let broker = Broker::start(config.rabbitmq_url.clone(), link, stop.clone(), &tasks);
    tasks.spawn(fill_gaps(store.clone(), Arc::clone(&rooms), gap_requests, stop.clone()));
    tasks.spawn(cluster::report_presence(Arc::clone(&rooms), outbox, stop.clone()));
    tasks.spawn(upkeep::presence_diffs(Arc::clone(&rooms), stop.clone()));
    let stock: Arc<dyn crate::stock::StockDesk> = Arc::new(broker);
    let stopping = CancellationToken::new();
    let limits = Limits::new(&config.rate_limits);
    let origins = Origins::new(config.allowed_origins.clone());
    let proxies = Proxies::new(config.trusted_proxies.clone());
    let per_address = Tally::new(config.max_connections_per_ip);
    let actions = Arc::new(RoomActions {
        store: store.clone(),
        writer,
        rooms: Arc::clone(&rooms),
        stock: Arc::clone(&stock),
        message_limit: Arc::clone(&limits.messages),
        stock_limit: Arc::clone(&limits.stock),
        upload_limit: Arc::clone(&limits.uploads),
        storage_quota: config.max_user_storage_bytes,
    });
    let chat = Arc::new(Gateway {
        sessions: Arc::clone(&sessions),
        store: store.clone(),
        rooms: Arc::clone(&rooms),
        sockets: Arc::clone(&sockets),
        actions: Arc::clone(&actions),
        origins: origins.clone(),
        handshake_limit: Arc::clone(&limits.handshakes),
        per_address: Arc::clone(&per_address),
        per_user: Tally::new(config.max_sockets_per_user),
        idle_timeout: config.ws_idle_timeout,
        shutdown: stop.clone(),
        tasks: tasks.clone(),
        next_peer_id: AtomicU64::new(1),
    });
    let api = Arc::new(Api {
        store: store.clone(),
        sessions,
        passwords: Passwords::new(hash_concurrency()),
        login_limit: Arc::clone(&limits.login),
        register_limit: Arc::clone(&limits.register),
        room_limit: Arc::clone(&limits.rooms),
        sockets,
        origins,
        proxies: proxies.clone(),
        cookie_secure: config.cookie_secure,
        stock,
        chat,
        stopping: stopping.clone(),
        metrics_here: metrics_listener.is_none(),
        actions,
        uploads: Uploads {
            max_bytes: config.max_upload_bytes,
            slots: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            per_user: Tally::new(NonZeroUsize::new(MAX_UPLOADS_PER_USER)),
            deadline: config.upload_timeout,
        },
    });
    if let Some(listener) = metrics_listener {
        let exposition = service::metrics_endpoint::Exposition {
            render: || crate::metrics::handle().render(),
            // `upkeep::metrics_upkeep` folds the histograms already.
            upkeep: || {},
        };
        tasks.spawn(service::metrics_endpoint::serve(listener, exposition, stop.clone()));
    }
    tasks.spawn(upkeep::sweep_unlinked_files(store.clone(), stop.clone()));
    tasks.spawn(upkeep::sweep_sessions(store, stop.clone()));
    tasks.spawn(upkeep::sweep_limits(limits, stop.clone()));
    tasks.spawn(upkeep::metrics_upkeep(stop.clone()));
    crate::metrics::handle();
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");

    let caps = accept::Caps {
        connections: Arc::new(Semaphore::new(config.max_connections)),
        per_address,
        proxies,
    };
    let grace = config.shutdown_grace;
    let draining = async {
        shutdown.await;
        tracing::info!(?grace, "stopping: readiness fails while connections drain away");
        stopping.cancel();
        tokio::time::sleep(grace).await;
    };
    accept::accept(&listener, &api, &caps, draining).await;

    tracing::info!("shutting down");
    drop(listener);
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await;
    // Every connection is gone: dropping the last handles lets the writer drain and stop.
    drop(api);
    writer_tasks.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer_tasks.wait()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Password hashing threads: one per core of the machine.
fn hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
