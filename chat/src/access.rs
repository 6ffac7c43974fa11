//! What both edges (REST and WebSocket) check of a request: the session
//! cookie and its user, the `Origin`, membership of a room; and what the
//! accept loop attaches to each request (the client's address, the
//! connection's place under the connection cap).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, header};
use ipnet::IpNet;
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use crate::auth::{SessionToken, Sessions};
use crate::error::ApiError;
use crate::limits::{AddressGroup, Counted};
use crate::store::{Membership, Sealing, Store, User};

/// The client's IP address, in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// A TCP connection's place under the connection caps, in each request's
/// extensions: held by the HTTP connection and handed to the WebSocket that
/// upgrades it.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(Arc<Mutex<Option<Places>>>);

/// The places a connection holds.
pub(crate) struct Places {
    /// Under `MAX_CONNECTIONS` (held, never read).
    pub(crate) _permit: OwnedSemaphorePermit,
    /// Under `MAX_CONNECTIONS_PER_IP`, counted by the socket's address; `None`
    /// for a trusted proxy's connection (its clients' sockets are counted at
    /// the handshake, by the address the proxy names).
    pub(crate) address: Option<Counted<AddressGroup>>,
}

impl ConnectionSlot {
    /// The slot of a connection holding `places`.
    pub(crate) fn new(places: Places) -> Self {
        Self(Arc::new(Mutex::new(Some(places))))
    }

    /// Whether the connection is counted under `MAX_CONNECTIONS_PER_IP`
    /// already (it is not when it comes from a trusted proxy).
    pub(crate) fn is_counted(&self) -> bool {
        let places = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        places.as_ref().is_some_and(|places| places.address.is_some())
    }

    /// Takes the places (once) to keep them beyond the HTTP connection.
    pub(crate) fn take(&self) -> Option<Places> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies(Arc<[IpNet]>);

impl Proxies {
    /// Trusts `networks`.
    pub(crate) fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    /// Whether `address` is a trusted proxy.
    pub(crate) fn trust(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of a request that came from `peer`: `peer` itself unless it
    /// is a trusted proxy; then `X-Forwarded-For` is read from the right
    /// (each proxy appends the address it heard from), past every trusted
    /// hop, to the first address that is not one. A malformed entry ends the
    /// walk at the hop before it, so a client cannot name itself anyone.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trust(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.into_iter().rev() {
            let Ok(address) = hop.trim().parse::<IpAddr>() else { break };
            client = address.to_canonical();
            if !self.trust(client) {
                break;
            }
        }
        client
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
    let (user, _) = session_of(sessions, &token).await?;
    Ok((user, token))
}

/// The user of `token`'s unexpired session and its expiry, or 401.
pub(crate) async fn session_of(
    sessions: &Sessions,
    token: &SessionToken,
) -> Result<(User, OffsetDateTime), ApiError> {
    let (user, expires_at) =
        sessions.session(&token.hash()).await?.ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok((user, expires_at))
}

/// Whether `room` is encrypted, when `user` is a member of it; 404 when
/// the room does not exist (or is private and the user not in it), 403
/// `NOT_A_MEMBER` when the user has not joined it.
pub(crate) async fn require_member(
    store: &Store,
    room: Uuid,
    user: Uuid,
) -> Result<Sealing, ApiError> {
    tracing::Span::current().record("chatroom_id", tracing::field::display(room));
    match store.membership(room, user).await? {
        Membership::NoRoom => Err(ApiError::NotFound("chatroom")),
        Membership::Outsider => Err(ApiError::NotAMember),
        Membership::Member(sealing) => Ok(sealing),
    }
}

/// A query parameter, percent-decoded; the last one wins.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn the_client_is_the_socket_unless_a_trusted_proxy_names_it() {
        let proxies = Proxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // A direct client cannot claim another address.
        assert_eq!(proxies.client(ip("203.0.113.9"), &forwarded("1.2.3.4")), ip("203.0.113.9"));
        // Behind two trusted proxies: the first untrusted hop from the right.
        let chain = forwarded("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(proxies.client(ip("10.0.0.1"), &chain), ip("198.51.100.7"));
        // A trusted proxy that names no one: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Garbage ends the walk at the last hop believed.
        assert_eq!(proxies.client(ip("10.0.0.1"), &forwarded("1.2.3.4, bogus")), ip("10.0.0.1"));
        // IPv4 seen through an IPv6 socket is the same address.
        assert_eq!(proxies.client(ip("::ffff:10.0.0.1"), &forwarded("192.0.2.1")), ip("192.0.2.1"));
        // Nothing trusted: headers are ignored.
        let none = Proxies::default();
        assert_eq!(none.client(ip("10.0.0.1"), &forwarded("192.0.2.1")), ip("10.0.0.1"));
    }
}
