//! HTTP: one service function with its middleware, a small router, and one file
//! per group of endpoints.
//!
//! Middleware, outermost first: a request id (taken from `x-request-id` when
//! sane, else made), one tracing span per request, panic recovery (a panicking
//! handler answers 500 and the server lives on), and security headers on every
//! response.

mod assets;
mod auth;
mod health;
mod messages;
mod request;
mod rooms;
mod router;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use tracing::Instrument;

pub(crate) use request::{ClientAddr, authenticate, origin_allowed, query_param, session_token};

use crate::ApiError;
use crate::state::App;

/// Every response body: small, fully buffered.
pub(crate) type Body = Full<Bytes>;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `Content-Security-Policy` of every response: scripts and styles only from
/// files of this origin, no inline code, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Serves one request: the entry point hyper calls.
pub(crate) async fn serve(
    app: Arc<App>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let method = request.method().clone();
    let route = router::route_label(request.uri().path());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.uri().path(),
        %peer,
        user_id = tracing::field::Empty,
        chatroom_id = tracing::field::Empty,
    );
    request.extensions_mut().insert(ClientAddr(peer.ip()));
    let outcome =
        AssertUnwindSafe(router::route(app, request)).catch_unwind().instrument(span.clone()).await;
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
    let method = method.to_string();
    metrics::histogram!(crate::metrics::HTTP_DURATION, "method" => method.clone(), "route" => route)
        .record(elapsed.as_secs_f64());
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "method" => method, "route" => route, "status" => status.to_string())
        .increment(1);
    add_security_headers(&mut response, &request_id);
    response
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
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
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

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
