//! HTTP: one service function with its middleware, a small router, and one file
//! per group of endpoints.
//!
//! Middleware, outermost first: a request id (taken from `x-request-id` when
//! sane, else made), one tracing span per request, panic recovery (a panicking
//! handler answers 500 and the server lives on), and security headers on every
//! response.
//!
//! # Layout
//!
//! - this file: [`Api`], what the handlers use, and the middleware ([`serve`]).
//! - `router`: the route table, once: each method and path template's handler;
//!   the template is the metric label.
//! - `request`: bounded JSON bodies, the login limit, cross-site writes.
//! - `auth`, `keys`, `room_keys`, `rooms`, `members`, `messages`, `edits`, `search`,
//!   `health`, `assets`, `attachments`: the endpoints.
//! - `range`: the `Range` header of a download.

mod assets;
mod attachments;
mod auth;
mod edits;
mod health;
mod keys;
mod members;
mod messages;
pub(crate) mod range;
mod request;
mod room_keys;
mod rooms;
mod router;
mod search;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use http::{HeaderName, HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use tracing::Instrument;

pub(crate) use self::attachments::{MAX_UPLOADS_PER_USER, Uploads};
use crate::access::{ClientAddr, Origins, Proxies};
use crate::actions::RoomActions;
use crate::auth::{Passwords, Sessions};
use crate::error::ApiError;
use crate::limits::{AddressGroup, Limiter};
use crate::response::Body;
use crate::rooms::SessionSockets;
use crate::stock::StockDesk;
use crate::store::Store;
use crate::ws::Gateway;

/// What the REST handlers use, and the WebSocket gateway they hand upgrades to.
pub(crate) struct Api {
    /// PostgreSQL.
    pub(crate) store: Store,
    /// Sessions, looked up in memory first.
    pub(crate) sessions: Arc<Sessions>,
    /// Argon2id, bounded.
    pub(crate) passwords: Passwords,
    /// Login attempts per client IP.
    pub(crate) login_limit: Arc<Limiter<AddressGroup>>,
    /// Registrations per client IP.
    pub(crate) register_limit: Arc<Limiter<AddressGroup>>,
    /// Rooms created per user.
    pub(crate) room_limit: Arc<Limiter<uuid::Uuid>>,
    /// Open sockets per session: logout closes them.
    pub(crate) sockets: Arc<SessionSockets>,
    /// Where browsers may write from.
    pub(crate) origins: Origins,
    /// Whose `X-Forwarded-For` names the client.
    pub(crate) proxies: Proxies,
    /// Whether the session cookie is `Secure`.
    pub(crate) cookie_secure: bool,
    /// The stock desk, whose link readiness reports.
    pub(crate) stock: Arc<dyn StockDesk>,
    /// `/ws/chat/{id}`.
    pub(crate) chat: Arc<Gateway>,
    /// Whether `/metrics` is served here (not on `METRICS_ADDR`).
    pub(crate) metrics_here: bool,
    /// Cancelled when the server starts stopping: readiness fails from then.
    pub(crate) stopping: tokio_util::sync::CancellationToken,
    /// What users do in rooms: uploads, joins, reads.
    pub(crate) actions: Arc<RoomActions>,
    /// The limits of uploads.
    pub(crate) uploads: Uploads,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `Content-Security-Policy` of every response: scripts and styles only from
/// files of this origin, no inline code, never framed. Images may also be
/// `blob:` URLs: an encrypted room's images, decrypted in the page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Serves one request: the entry point hyper calls.
pub(crate) async fn serve(
    api: Arc<Api>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let method = request.method().clone();
    let matched = router::Matched::of(request.uri().path());
    let label = matched.as_ref().map_or("unmatched", router::Matched::label);
    let client = api.proxies.client(peer.ip(), request.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.uri().path(),
        %peer,
        %client,
        user_id = tracing::field::Empty,
        chatroom_id = tracing::field::Empty,
    );
    request.extensions_mut().insert(ClientAddr(client));
    let handled = router::handle(api, matched, request);
    let outcome = AssertUnwindSafe(handled).catch_unwind().instrument(span.clone()).await;
    let mut response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error.into_response(),
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            ApiError::Internal.into_response()
        }
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "served"));
    let method = method_label(&method);
    metrics::histogram!(crate::metrics::HTTP_DURATION, "method" => method, "route" => label)
        .record(elapsed.as_secs_f64());
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "method" => method, "route" => label, "status" => status.to_string())
        .increment(1);
    add_security_headers(&mut response, &request_id);
    response
}

/// The metric label of `method`: one of the methods HTTP defines, or
/// `other`, so that no request can add a series.
fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|known| *known == method).map_or("other", Method::as_str)
}

fn request_id(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

fn add_security_headers(response: &mut Response<Body>, request_id: &str) {
    let headers = response.headers_mut();
    // A served file brings a stricter policy of its own.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID.clone(), value);
    }
}
