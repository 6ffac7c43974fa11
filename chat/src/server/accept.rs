//! The accept loop: the connection caps, then one hyper connection per
//! TCP connection, each request handed to `http::serve`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::head_deadline::HeadDeadline;
use crate::access::{ConnectionSlot, Places, Proxies};
use crate::error::ApiError;
use crate::http::Api;
use crate::limits::{AddressGroup, Tally};

/// A client has this long to send its request headers: the first request's
/// counted from accept, later ones' from their first byte.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// When a client over `MAX_CONNECTIONS_PER_IP` is told to retry.
const RETRY_CONNECTION: Duration = Duration::from_secs(5);

/// What decides whether a new connection is served.
pub(super) struct Caps {
    /// `MAX_CONNECTIONS`: at the cap, new clients wait in the listen backlog.
    pub(super) connections: Arc<Semaphore>,
    /// `MAX_CONNECTIONS_PER_IP`, by the socket's address.
    pub(super) per_address: Arc<Tally<AddressGroup>>,
    /// Connections from these are not counted per address.
    pub(super) proxies: Proxies,
}

/// Serves `listener` until `shutdown` completes, then lets the requests in
/// progress finish (for at most a grace period).
pub(super) async fn accept(
    listener: &TcpListener,
    api: &Arc<Api>,
    caps: &Caps,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new clients wait in the listen backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&caps.connections).acquire_owned() => match permit {
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
        let address = peer.ip().to_canonical();
        let address = if caps.proxies.trust(address) {
            None
        } else if let Some(counted) = caps.per_address.open(address.into()) {
            Some(counted)
        } else {
            crate::limits::count_refusal("connections_per_ip");
            tokio::spawn(refuse(stream));
            continue;
        };
        let api = Arc::clone(api);
        let slot = ConnectionSlot::new(Places { _permit: permit, address });
        let (stream, head) = HeadDeadline::new(stream, HEADER_TIMEOUT);
        let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            head.arrived();
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

/// Answers every request of a connection over `MAX_CONNECTIONS_PER_IP` with
/// 429 `RATE_LIMITED`, then closes it.
async fn refuse(stream: TcpStream) {
    let service = service_fn(|_request: hyper::Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(ApiError::RateLimited(RETRY_CONNECTION).into_response())
    });
    let (stream, _head) = HeadDeadline::new(stream, HEADER_TIMEOUT);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "refused connection ended with an error");
    }
}
