//! The accept loop and the shutdown sequence.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{ConnectionSlot, Origins};
use crate::auth::{Passwords, Sessions};
use crate::broker::{Broker, BrokerLink};
use crate::cluster::{self, PublishChannel};
use crate::config::Config;
use crate::http::Api;
use crate::limits::Limits;
use crate::rooms::{RoomWriter, Rooms, SessionSockets, fill_gaps};
use crate::store::{Store, StoreError};
use crate::ws::{Commands, Gateway};

/// A client has this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests, sockets and the room writer to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often histogram samples are folded into buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// How often idle rate-limit keys are forgotten.
const LIMITS_SWEEP: Duration = Duration::from_secs(30);
/// How often expired sessions are deleted.
const SESSION_SWEEP: Duration = Duration::from_secs(3600);

/// Connects to PostgreSQL (creating and migrating the database), starts the
/// room writer and the RabbitMQ link, then serves `listener` until `shutdown`
/// completes; then stops accepting, closes WebSockets with 1001, stores what
/// the writer holds, and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StoreError> {
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
        },
        events,
    };
    let broker = Broker::start(config.rabbitmq_url.clone(), link, stop.clone(), &tasks);
    tasks.spawn(fill_gaps(store.clone(), Arc::clone(&rooms), gap_requests, stop.clone()));
    tasks.spawn(cluster::report_presence(Arc::clone(&rooms), outbox, stop.clone()));
    let stock: Arc<dyn crate::stock::StockDesk> = Arc::new(broker);
    let limits = Limits::new(&config.rate_limits);
    let origins = Origins::new(config.allowed_origins.clone());
    let chat = Arc::new(Gateway {
        sessions: Arc::clone(&sessions),
        store: store.clone(),
        rooms: Arc::clone(&rooms),
        sockets: Arc::clone(&sockets),
        commands: Arc::new(Commands {
            writer,
            rooms,
            stock: Arc::clone(&stock),
            message_limit: Arc::clone(&limits.messages),
            stock_limit: Arc::clone(&limits.stock),
        }),
        origins: origins.clone(),
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
        sockets,
        origins,
        cookie_secure: config.cookie_secure,
        stock,
        chat,
    });
    tasks.spawn(sweep_sessions(store, stop.clone()));
    tasks.spawn(sweep_limits(limits, stop.clone()));
    tasks.spawn(metrics_upkeep(stop.clone()));
    crate::metrics::handle();
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");

    let connections = Arc::new(Semaphore::new(config.max_connections));
    accept(&listener, &api, &connections, shutdown).await;

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

async fn accept(
    listener: &TcpListener,
    api: &Arc<Api>,
    connections: &Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new clients wait in the listen backlog.
        let permit = tokio::select! {
            permit = Arc::clone(connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(api);
        let slot = ConnectionSlot::new(permit);
        let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let api = Arc::clone(&api);
            request.extensions_mut().insert(slot.clone());
            async move {
                Ok::<_, std::convert::Infallible>(crate::http::serve(api, request, peer).await)
            }
        });
        let connection =
            builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Folds recorded histogram samples into their buckets: without it they pile
/// up between scrapes (or forever, when nobody scrapes).
async fn metrics_upkeep(shutdown: CancellationToken) {
    let handle = crate::metrics::handle();
    loop {
        tokio::select! {
            () = tokio::time::sleep(METRICS_UPKEEP) => handle.run_upkeep(),
            () = shutdown.cancelled() => return,
        }
    }
}

/// Forgets rate-limit state of quiet keys, so limiter memory stays bounded.
async fn sweep_limits(limits: Limits, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LIMITS_SWEEP) => limits.forget_idle(),
            () = shutdown.cancelled() => return,
        }
    }
}

async fn sweep_sessions(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(SESSION_SWEEP) => {}
            () = shutdown.cancelled() => return,
        }
        match store.delete_expired_sessions().await {
            Ok(count) => tracing::info!(count, "deleted expired sessions"),
            Err(error) => tracing::warn!(%error, "deleting expired sessions failed"),
        }
    }
}
