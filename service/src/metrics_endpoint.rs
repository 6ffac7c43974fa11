//! A metrics endpoint of its own: a small HTTP/1.1 server answering
//! `GET /metrics` (Prometheus text, with the `process_*` metrics) and
//! `GET /health`, on an address apart from the public one.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Connections served at once; a scraper or two is the expected load. Past
/// the cap, new connections are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// A client has this long to send a request head (also the keep-alive idle limit).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How often histogram samples are folded in, so that they do not pile up
/// in memory when nobody scrapes.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);
/// Wait after a failed `accept` (out of file descriptors, say) before the next.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON: &str = "application/json";

/// What the endpoint serves: the recorder's text, and its upkeep.
#[derive(Clone, Copy)]
pub struct Exposition {
    /// The Prometheus text of every metric.
    pub render: fn() -> String,
    /// Folds recorded histogram samples into their buckets.
    pub upkeep: fn(),
}

/// Serves `listener` until `shutdown` is cancelled, then lets requests in
/// progress finish for at most [`SHUTDOWN_GRACE`].
pub async fn serve(listener: TcpListener, exposition: Exposition, shutdown: CancellationToken) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut upkeep = tokio::time::interval(UPKEEP_PERIOD);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics");
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = upkeep.tick() => (exposition.upkeep)(),
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "cannot accept a metrics connection");
                        tokio::time::sleep(ACCEPT_PAUSE).await;
                        continue;
                    }
                };
                if connections.len() >= MAX_CONNECTIONS {
                    tracing::debug!(%peer, "too many metrics connections; closing this one");
                    continue;
                }
                let service = service_fn(move |request| respond(request, exposition.render));
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "metrics connection failed");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::debug!(left = connections.len(), "closing metrics connections still open");
    }
    connections.abort_all();
}

/// Routes one request.
async fn respond(
    request: Request<Incoming>,
    render: fn() -> String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let response = match (request.method(), path) {
        (&Method::GET, "/metrics") => {
            crate::collect_process_metrics();
            reply(StatusCode::OK, PROMETHEUS_TEXT, render())
        }
        (&Method::GET, "/health") => reply(StatusCode::OK, JSON, r#"{"status":"ok"}"#.to_owned()),
        (_, "/metrics" | "/health") => {
            let body = r#"{"error":"only GET is allowed here","code":"METHOD_NOT_ALLOWED"}"#;
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, JSON, body.to_owned());
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
            response
        }
        _ => {
            let body =
                r#"{"error":"no such endpoint: try /metrics or /health","code":"NOT_FOUND"}"#;
            reply(StatusCode::NOT_FOUND, JSON, body.to_owned())
        }
    };
    Ok(response)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
