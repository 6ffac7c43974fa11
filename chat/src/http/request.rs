//! Reading requests: bounded JSON bodies, the session cookie, query strings, origins.

use http::{HeaderMap, Request, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::auth::SessionToken;
use crate::state::App;
use crate::store::User;

/// How long a client may take to send its body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The client's IP address, put in each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) std::net::IpAddr);

/// Largest JSON body accepted; the biggest legitimate one is a registration.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Reads and decodes a JSON body of at most [`MAX_BODY_BYTES`].
pub(crate) async fn read_json<T: DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let collect = Limited::new(request.into_body(), MAX_BODY_BYTES).collect();
    let body = tokio::time::timeout(BODY_TIMEOUT, collect)
        .await
        .map_err(|_| ApiError::RequestTimeout)?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge(MAX_BODY_BYTES)
            } else {
                ApiError::Validation("the request body could not be read".into())
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))
}

/// The `session_id` cookie, if it has the shape of a token.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session_id")
        .and_then(|(_, value)| SessionToken::parse(value.trim()))
}

/// The user of the request's session, or 401.
pub(crate) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
) -> Result<(User, SessionToken), ApiError> {
    let token = session_token(headers).ok_or(ApiError::Unauthorized)?;
    let user = app.sessions.user(&token.hash()).await?.ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok((user, token))
}

/// Counts a login attempt from the request's client IP; 429 when over the limit.
pub(crate) fn check_login_limit(app: &App, request: &Request<Incoming>) -> Result<(), ApiError> {
    let Some(ClientAddr(ip)) = request.extensions().get::<ClientAddr>().copied() else {
        return Ok(());
    };
    app.limits.login.check(&ip).map_err(|wait| {
        metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => "login").increment(1);
        ApiError::RateLimited(wait)
    })
}

/// A query parameter, percent-decoded; the last one wins.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}

/// True when the request has no `Origin` or an allowed one: one of
/// `ALLOWED_ORIGINS`, or else the server's own (`http(s)://` + `Host`).
pub(crate) fn origin_allowed(app: &App, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.to_ascii_lowercase();
    match &app.config.allowed_origins {
        Some(allowed) => allowed.contains(&origin),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let Some(host) = host.map(str::to_ascii_lowercase) else { return false };
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))
                == Some(host.as_str())
        }
    }
}

/// Refuses a state-changing request sent from another site.
pub(crate) fn check_csrf(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site || !origin_allowed(app, headers) {
        return Err(ApiError::CsrfRejected);
    }
    Ok(())
}
