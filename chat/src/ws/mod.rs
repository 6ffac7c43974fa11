//! WebSocket chat at `/ws/chat/{id}`: the handshake, then each connection's
//! two halves side by side, and the commands clients send.
//!
//! # Layout
//!
//! - this file: [`Gateway`], what connections use, and the handshake.
//! - `connection`: a connection's life: join, greet and replay, serve, close.
//! - `notifications`: `/ws/notifications`, a user's unread figures and mentions.
//! - `inbound`: the receiving half, frame by frame into `commands`.
//! - `outbound`: the sending half, the connection's queue onto the socket.
//! - `session_check`: a socket's session, until it expires or ends.
//! - `socket`: the upgraded socket's type, and how a connection ends.
//! - `commands`: one file per client command.
//! - `wire`: the JSON text of server frames, the one place it is made.

mod commands;
mod connection;
mod inbound;
pub(crate) mod notifications;
mod outbound;
mod session_check;
mod socket;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub(crate) use wire::encoded;

use crate::access::{
    ClientAddr, ConnectionSlot, Origins, Places, query_param, require_member, session_of,
    session_token,
};
use crate::actions::RoomActions;
use crate::auth::{SessionToken, Sessions};
use crate::error::ApiError;
use crate::limits::{AddressGroup, Counted, Limiter, Tally};
use crate::response::Body;
use crate::rooms::{Closer, Rooms, SessionSockets};
use crate::store::{Sealing, Store};

/// What WebSocket connections use.
pub(crate) struct Gateway {
    /// Sessions, looked up in memory first.
    pub(crate) sessions: Arc<Sessions>,
    /// Membership checks, the replay, each room's newest time.
    pub(crate) store: Store,
    /// The live rooms connections join.
    pub(crate) rooms: Arc<Rooms>,
    /// Open sockets per session: logout closes them.
    pub(crate) sockets: Arc<SessionSockets>,
    /// What the client commands do.
    pub(crate) actions: Arc<RoomActions>,
    /// Where browsers may connect from.
    pub(crate) origins: Origins,
    /// Handshakes per client IP.
    pub(crate) handshake_limit: Arc<Limiter<AddressGroup>>,
    /// Open connections per client address (`MAX_CONNECTIONS_PER_IP`); a
    /// socket through a trusted proxy is counted here at its handshake.
    pub(crate) per_address: Arc<Tally<AddressGroup>>,
    /// Open sockets per user (`MAX_SOCKETS_PER_USER`).
    pub(crate) per_user: Arc<Tally<Uuid>>,
    /// Silence after which a socket is closed (pings go out every third of it).
    pub(crate) idle_timeout: Duration,
    /// Cancelled when the server stops: connections close with 1001.
    pub(crate) shutdown: CancellationToken,
    /// Connections, awaited at shutdown.
    pub(crate) tasks: TaskTracker,
    /// Numbers connections.
    pub(crate) next_peer_id: AtomicU64,
}

/// Largest frame or message a client may send; above it the socket closes with 1009.
pub(crate) const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Small buffers: memory per idle connection is what limits how many we hold.
/// Client frames are small; a large one is read in more, smaller steps.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// When a client refused by a cap on open sockets is told to retry.
const RETRY_SOCKET: Duration = Duration::from_secs(5);

/// What an accepted handshake hands to its connection.
struct Accepted {
    user: crate::store::User,
    expires_at: OffsetDateTime,
    room_id: Uuid,
    sealing: Sealing,
    after: Option<Uuid>,
    accept: HeaderValue,
    held: Held,
}

/// The places a socket holds under the caps, given back when it closes.
pub(super) struct Held {
    _connection: Places,
    _address: Option<Counted<AddressGroup>>,
    _user: Counted<Uuid>,
}

/// The start every handshake shares: origin, the handshake rate limit and
/// a session token. The socket is registered under its session before the
/// session is checked, so a logout from here on finds it (and closes it
/// with 1008 once it is served).
struct Opening {
    token: SessionToken,
    session: [u8; 32],
    peer_id: u64,
    closer: Closer,
}

fn open(gateway: &Gateway, request: &Request<Incoming>) -> Result<Opening, ApiError> {
    if !gateway.origins.allow(request.headers()) {
        return Err(ApiError::OriginRejected);
    }
    if let Some(ClientAddr(client)) = request.extensions().get::<ClientAddr>().copied() {
        gateway
            .handshake_limit
            .check(&client.into())
            .map_err(|wait| ApiError::limited("handshakes", wait))?;
    }
    let token = session_token(request.headers()).ok_or(ApiError::Unauthorized)?;
    let session = token.hash();
    let peer_id = gateway.next_peer_id.fetch_add(1, Ordering::Relaxed);
    let closer = Closer::new(&gateway.shutdown);
    gateway.sockets.register(session, peer_id, closer.clone());
    Ok(Opening { token, session, peer_id, closer })
}

/// Checks the handshake (origin, session, room, membership, `?after=`), answers
/// 101 and starts the connection's handler.
pub(crate) async fn upgrade(
    gateway: Arc<Gateway>,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let Opening { token, session, peer_id, closer } = open(&gateway, &request)?;
    let accepted = match check(&gateway, &request, &token, room).await {
        Ok(accepted) => accepted,
        Err(error) => {
            gateway.sockets.deregister(&session, peer_id);
            return Err(error);
        }
    };
    let Accepted { user, expires_at, room_id, sealing, after, accept, held } = accepted;

    let on_upgrade = hyper::upgrade::on(request);
    let tasks = gateway.tasks.clone();
    let connection = connection::Connection {
        gateway,
        room_id,
        sealing,
        user,
        expires_at,
        session,
        peer_id,
        closer,
        after,
        held,
    };
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let config = Some(socket_config());
                let stream = WebSocketStream::from_raw_socket(io, Role::Server, config).await;
                connection.run(stream).await;
            }
            Err(error) => {
                connection.gateway.sockets.deregister(&session, peer_id);
                tracing::debug!(%error, "upgrade failed");
            }
        }
    });

    Ok(switching_protocols(accept))
}

/// 101, accepting the handshake.
fn switching_protocols(accept: HeaderValue) -> Response<Body> {
    let mut response = Response::new(crate::response::Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// The handshake's checks after the origin: session, room, membership,
/// `?after=`, the upgrade headers, and places under the connection caps.
async fn check(
    gateway: &Gateway,
    request: &Request<Incoming>,
    token: &SessionToken,
    room: &str,
) -> Result<Accepted, ApiError> {
    let (user, expires_at) = session_of(&gateway.sessions, token).await?;
    let room_id: Uuid = room.parse().map_err(|_| ApiError::NotFound("chatroom"))?;
    let sealing = require_member(&gateway.store, room_id, user.id).await?;
    let after = query_param(request.uri().query(), "after")
        .map(|text| text.parse::<Uuid>())
        .transpose()
        .map_err(|_| ApiError::Validation("after must be a message id".into()))?;
    let (accept, held) = places(gateway, request, user.id)?;
    Ok(Accepted { user, expires_at, room_id, sealing, after, accept, held })
}

/// A valid upgrade's accept key, and the socket's places under the caps.
fn places(
    gateway: &Gateway,
    request: &Request<Incoming>,
    user: Uuid,
) -> Result<(HeaderValue, Held), ApiError> {
    let accept = accept_key(request.headers()).ok_or(ApiError::UpgradeRequired)?;
    let slot = request.extensions().get::<ConnectionSlot>().ok_or(ApiError::Internal)?;
    let user_place = gateway
        .per_user
        .open(user)
        .ok_or_else(|| ApiError::limited("sockets_per_user", RETRY_SOCKET))?;
    let address_place = match request.extensions().get::<ClientAddr>() {
        Some(ClientAddr(client)) if !slot.is_counted() => Some(
            gateway
                .per_address
                .open((*client).into())
                .ok_or_else(|| ApiError::limited("connections_per_ip", RETRY_SOCKET))?,
        ),
        _ => None,
    };
    // Last: the socket keeps its TCP connection's places under the caps.
    let connection = slot.take().ok_or(ApiError::Internal)?;
    let held = Held { _connection: connection, _address: address_place, _user: user_place };
    Ok((accept, held))
}

/// `Sec-WebSocket-Accept` for a valid version-13 upgrade request, else `None`.
fn accept_key(headers: &HeaderMap) -> Option<HeaderValue> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    let upgrade =
        has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket");
    let version = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    (upgrade && version)
        .then(|| HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok())
        .flatten()
}
