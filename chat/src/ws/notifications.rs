//! `/ws/notifications`: one socket per signed-in user (a user may open a few,
//! like tabs), which receives `unread` frames for each of the user's rooms on
//! connecting and whenever those figures change, and a `mention` frame for
//! each new message that mentions the user. It only sends: what the client
//! writes is read (to notice a close) and ignored.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use super::connection::{close, end_for};
use super::session_check::session_ends;
use super::socket::{End, Socket};
use super::{Gateway, Held, Opening, open, places, socket_config, switching_protocols};
use crate::access::session_of;
use crate::error::ApiError;
use crate::response::Body;
use crate::rooms::{CloseReason, Closer, WatchSocket};
use crate::store::{Unread, User};
use protocol::NotificationFrame;

/// Frames queued per socket before it counts as too slow and is closed.
const OUTBOX: usize = 256;

/// Checks the handshake (origin, session, caps), answers 101 and starts
/// the socket.
pub(crate) async fn upgrade(
    gateway: Arc<Gateway>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let Opening { token, session, peer_id, closer } = open(&gateway, &request)?;
    let checked = async {
        let (user, expires_at) = session_of(&gateway.sessions, &token).await?;
        let (accept, held) = places(&gateway, &request, user.id)?;
        let rooms = gateway.store.rooms_for(user.id, &user.username).await?;
        let counts: Vec<(uuid::Uuid, Unread)> = rooms
            .into_iter()
            .filter(|listing| listing.is_member)
            .map(|listing| {
                let unread = listing.unread.unwrap_or(0);
                let mentions = listing.mentions.unwrap_or(0);
                (listing.room.id, Unread { unread, mentions })
            })
            .collect();
        Ok::<_, ApiError>((user, expires_at, accept, held, counts))
    };
    let (user, expires_at, accept, held, counts) = match checked.await {
        Ok(checked) => checked,
        Err(error) => {
            gateway.sockets.deregister(&session, peer_id);
            return Err(error);
        }
    };
    let on_upgrade = hyper::upgrade::on(request);
    let tasks = gateway.tasks.clone();
    let watch = Watch { gateway, user, expires_at, session, peer_id, closer, held };
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let stream =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(socket_config())).await;
                watch.run(stream, counts).await;
            }
            Err(error) => {
                watch.gateway.sockets.deregister(&watch.session, watch.peer_id);
                tracing::debug!(%error, "upgrade failed");
            }
        }
    });
    Ok(switching_protocols(accept))
}

/// An accepted notifications socket.
struct Watch {
    gateway: Arc<Gateway>,
    user: User,
    expires_at: OffsetDateTime,
    session: [u8; 32],
    peer_id: u64,
    closer: Closer,
    held: Held,
}

impl Watch {
    async fn run(self, socket: Socket, counts: Vec<(uuid::Uuid, Unread)>) {
        let (outbox, queue) = mpsc::channel(OUTBOX);
        let watchers = self.gateway.rooms.watchers();
        let socket_entry = WatchSocket { id: self.peer_id, outbox, closer: self.closer.clone() };
        let greeting = watchers.watch(self.user.id, &self.user.username, socket_entry, counts);
        let (socket, end) = self.serve(socket, greeting, queue).await;
        watchers.unwatch(self.user.id, self.peer_id);
        self.gateway.sockets.deregister(&self.session, self.peer_id);
        if let Some(mut socket) = socket {
            close(&mut socket, end).await;
        }
        drop(self.held);
    }

    /// Sends what is queued, pings while quiet, and watches the client, the
    /// closer and the session's expiry.
    async fn serve(
        &self,
        mut socket: Socket,
        greeting: Vec<NotificationFrame>,
        mut queue: mpsc::Receiver<Arc<str>>,
    ) -> (Option<Socket>, End) {
        for frame in greeting {
            if socket.feed(WsMessage::text(frame.to_json())).await.is_err() {
                return (Some(socket), End::Gone);
            }
        }
        if socket.flush().await.is_err() {
            return (Some(socket), End::Gone);
        }
        let idle = self.gateway.idle_timeout;
        let (mut sink, mut stream) = socket.split();
        let mut ping = tokio::time::interval(idle / 3);
        ping.reset();
        let mut heard = tokio::time::Instant::now();
        let session =
            session_ends(&self.gateway.sessions, &self.session, self.expires_at, self.peer_id);
        tokio::pin!(session);
        let end = loop {
            tokio::select! {
                queued = queue.recv() => {
                    let Some(text) = queued else { break End::Gone };
                    if sink.send(WsMessage::text(text.to_string())).await.is_err() {
                        break End::Gone;
                    }
                }
                incoming = stream.next() => match incoming {
                    Some(Err(tungstenite::Error::Utf8(_))) => {
                        break End::Close(CloseCode::Invalid, "text frame is not UTF-8");
                    }
                    None | Some(Err(_) | Ok(WsMessage::Close(_))) => break End::Gone,
                    Some(Ok(_)) => heard = tokio::time::Instant::now(),
                },
                reason = self.closer.closed() => break match reason {
                    // No history to reload here: just too slow.
                    CloseReason::SlowConsumer => End::Close(CloseCode::Again, "too slow"),
                    other => end_for(other),
                },
                end = &mut session => break end,
                _ = ping.tick() => {
                    if heard.elapsed() > idle {
                        break End::Close(CloseCode::Away, "idle");
                    }
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        break End::Gone;
                    }
                }
            }
        };
        (sink.reunite(stream).ok(), end)
    }
}
