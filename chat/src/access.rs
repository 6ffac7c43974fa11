//! What both edges (REST and WebSocket) check of a request: the session
//! cookie and its user, the `Origin`, membership of a room; and what the
//! accept loop attaches to each request (the client's address, the
//! connection's place under the connection cap).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, header};
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use crate::ApiError;
use crate::auth::{SessionToken, Sessions};
use crate::store::{Membership, Store, User};

/// The client's IP address, in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// A TCP connection's place under the connection cap, in each request's
/// extensions: held by the HTTP connection and handed to the WebSocket that
/// upgrades it.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl ConnectionSlot {
    /// The slot of a connection holding `permit`.
    pub(crate) fn new(permit: OwnedSemaphorePermit) -> Self {
        Self(Arc::new(Mutex::new(Some(permit))))
    }

    /// Takes the permit (once) to keep it beyond the HTTP connection.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The origins a browser may send requests from: `ALLOWED_ORIGINS`, or
/// else the server's own (`http(s)://` + `Host`).
#[derive(Debug, Clone)]
pub(crate) struct Origins(Option<Arc<[String]>>);

impl Origins {
    /// `allowed` (lower-case), or the server's own origin when `None`.
    pub(crate) fn new(allowed: Option<Vec<String>>) -> Self {
        Self(allowed.map(Into::into))
    }

    /// True when the request has no `Origin` or an allowed one.
    pub(crate) fn allow(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.to_ascii_lowercase();
        match &self.0 {
            Some(allowed) => allowed.contains(&origin),
            None => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                let Some(host) = host.map(str::to_ascii_lowercase) else { return false };
                origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))
                    == Some(host.as_str())
            }
        }
    }
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
    sessions: &Sessions,
    headers: &HeaderMap,
) -> Result<(User, SessionToken), ApiError> {
    let token = session_token(headers).ok_or(ApiError::Unauthorized)?;
    let user = sessions.user(&token.hash()).await?.ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok((user, token))
}

/// `Ok` when `user` is a member of `room`; 404 when the room does not
/// exist, 403 `NOT_A_MEMBER` when the user has not joined it.
pub(crate) async fn require_member(store: &Store, room: Uuid, user: Uuid) -> Result<(), ApiError> {
    tracing::Span::current().record("chatroom_id", tracing::field::display(room));
    match store.membership(room, user).await? {
        Membership::NoRoom => Err(ApiError::NotFound("chatroom")),
        Membership::Outsider => Err(ApiError::NotAMember),
        Membership::Member => Ok(()),
    }
}

/// A query parameter, percent-decoded; the last one wins.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}
