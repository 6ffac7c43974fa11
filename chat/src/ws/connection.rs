//! One WebSocket connection's life: join the room, greet (presence, then the
//! replay of what the client missed), serve both directions at once, leave,
//! close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::ServerFrame;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use super::commands::Context;
use super::session_check::session_ends;
use super::socket::{End, Socket};
use super::wire::text;
use super::{Gateway, Held};
use super::{inbound, outbound};
use crate::rooms::{CloseReason, Closer, Outgoing, Peer};
use crate::store::{Membership, Sealing, User};

/// Frames queued per connection before it counts as too slow (then `resync` + 1013).
const OUTBOX: usize = 512;
/// Most messages replayed on `?after=`; beyond that the client is told to resync.
const MAX_REPLAY: i64 = 500;
/// How long a closing socket waits for the client to hang up.
const LINGER: Duration = Duration::from_secs(2);
/// Most input discarded while lingering.
const LINGER_BYTES: usize = 1024 * 1024;

/// An accepted handshake, ready to serve.
pub(super) struct Connection {
    pub(super) gateway: Arc<Gateway>,
    pub(super) room_id: Uuid,
    /// Whether the room's messages are sealed.
    pub(super) sealing: Sealing,
    pub(super) user: User,
    /// When the session expires: the connection closes then (1008).
    pub(super) expires_at: OffsetDateTime,
    /// The session's token hash: logout closes this connection.
    pub(super) session: [u8; 32],
    /// Numbers the connection; registered under `session` by the handshake.
    pub(super) peer_id: u64,
    /// Closes the connection; logout already holds it.
    pub(super) closer: Closer,
    /// Replay stored messages newer than this one first.
    pub(super) after: Option<Uuid>,
    /// This connection's places under the connection caps.
    pub(super) held: Held,
}

impl Connection {
    /// Serves the socket until either side ends it.
    pub(super) async fn run(self, socket: Socket) {
        let gateway = Arc::clone(&self.gateway);
        let (outbox, queue) = mpsc::channel(OUTBOX);
        let peer = Arc::new(Peer {
            id: self.peer_id,
            user_id: self.user.id,
            username: self.user.username.as_str().into(),
            outbox,
            closer: self.closer.clone(),
        });
        let joined = gateway.rooms.join(self.room_id, Arc::clone(&peer));
        let mut context = Context::new(
            Arc::clone(&gateway.actions),
            self.room_id,
            self.sealing,
            Arc::clone(&peer),
        );
        context.span().in_scope(|| tracing::info!("connected"));

        metrics::gauge!(crate::metrics::WS_ACTIVE).increment(1.0);
        let started = match start_room(&gateway, &context, joined.needs_start).await {
            Ok(()) => still_member(&gateway, &context).await,
            Err(end) => Err(end),
        };
        let (socket, end) = match started {
            Ok(()) => {
                let greeting =
                    Greeting { users: joined.users, online: joined.online, after: self.after };
                let ends = Ends {
                    closer: &self.closer,
                    session: &self.session,
                    session_expires: self.expires_at,
                };
                serve(socket, &gateway, &mut context, queue, ends, greeting).await
            }
            Err(end) => (Some(socket), end),
        };

        gateway.rooms.leave(self.room_id, peer.id);
        gateway.sockets.deregister(&self.session, peer.id);
        if let Some(mut socket) = socket {
            close(&mut socket, end).await;
        }
        metrics::gauge!(crate::metrics::WS_ACTIVE).decrement(1.0);
        drop(self.held);
        context.span().in_scope(|| tracing::info!("disconnected"));
    }
}

/// A room new on this instance learns where its order stands before anyone
/// is replayed to, so replay and live delivery meet without a hole.
async fn start_room(gateway: &Gateway, context: &Context, needs_start: bool) -> Result<(), End> {
    if !needs_start {
        return Ok(());
    }
    match Box::pin(gateway.store.last_message_times(&[context.room_id])).await {
        Ok(rows) => {
            let newest = rows.first().and_then(|(_, newest)| *newest);
            gateway.rooms.start(context.room_id, newest);
            Ok(())
        }
        Err(error) => {
            context
                .span()
                .in_scope(|| tracing::warn!(%error, "reading the room's newest message failed"));
            Err(End::Close(CloseCode::Again, "database unavailable; reconnect"))
        }
    }
}

/// Whether the user is still a member now that the connection is in the
/// room: a removal applied between the handshake's check and the join found
/// no connection here to close, so it is checked once more.
async fn still_member(gateway: &Gateway, context: &Context) -> Result<(), End> {
    let user = context.peer.user_id;
    match Box::pin(gateway.store.membership(context.room_id, user)).await {
        Ok(Membership::Member(_)) => Ok(()),
        Ok(_) => Err(end_for(CloseReason::Removed)),
        Err(error) => {
            context.span().in_scope(|| tracing::warn!(%error, "checking membership failed"));
            Err(End::Close(CloseCode::Again, "database unavailable; reconnect"))
        }
    }
}

/// Greets, then runs the receiving and the sending half side by side until
/// one ends or the connection is asked to close; hands the socket back (if
/// it is still whole) to be closed.
async fn serve(
    mut socket: Socket,
    gateway: &Gateway,
    context: &mut Context,
    queue: mpsc::Receiver<Outgoing>,
    ends: Ends<'_>,
    greeting: Greeting,
) -> (Option<Socket>, End) {
    let replayed_until = match Box::pin(greet(&mut socket, gateway, context, greeting)).await {
        Ok(replayed_until) => replayed_until,
        Err(_) => return (Some(socket), End::Gone),
    };
    let idle_timeout = gateway.idle_timeout;
    let (mut sink, mut stream) = socket.split();
    let peer_id = context.peer.id;
    let end = {
        let sending = outbound::write(&mut sink, queue, replayed_until, idle_timeout / 3);
        let receiving = inbound::read(&mut stream, context, idle_timeout);
        let session = session_ends(&gateway.sessions, ends.session, ends.session_expires, peer_id);
        // The closer is a child of the shutdown token: this one wait also
        // ends the socket on shutdown.
        tokio::select! {
            biased;
            reason = ends.closer.closed() => end_for(reason),
            end = session => end,
            end = sending => end,
            end = receiving => end,
        }
    };
    (sink.reunite(stream).ok(), end)
}

/// What ends a connection besides either side leaving.
struct Ends<'a> {
    /// Logout, a slow reader, shutdown.
    closer: &'a Closer,
    /// The session's token hash, checked while the socket lasts.
    session: &'a [u8; 32],
    /// The session's expiry.
    session_expires: OffsetDateTime,
}

/// What a new connection is told first.
struct Greeting {
    /// Who is online in the room (the first of them, in a big room).
    users: Vec<String>,
    /// How many are online, when more than `users` names.
    online: Option<u32>,
    /// Replay stored messages newer than this one.
    after: Option<Uuid>,
}

/// `presence`, then the replay of what the client missed (messages, edits
/// and deletions); returns the time of the newest entry replayed.
async fn greet(
    socket: &mut Socket,
    gateway: &Gateway,
    context: &Context,
    Greeting { users, online, after }: Greeting,
) -> Result<Option<OffsetDateTime>, tungstenite::Error> {
    socket.feed(text(&ServerFrame::Presence { users, online })).await?;
    let mut replayed_until = None;
    if let Some(after) = after {
        match gateway.store.log_after(context.room_id, after, MAX_REPLAY + 1).await {
            Ok(Some(missed)) if missed.len() as i64 <= MAX_REPLAY => {
                for entry in missed {
                    replayed_until = Some(entry.at());
                    socket.feed(text(&entry.into_frame())).await?;
                }
            }
            Ok(_) => socket.feed(text(&ServerFrame::Resync)).await?,
            Err(error) => {
                context.span().in_scope(|| tracing::warn!(%error, "replay failed"));
                socket.feed(text(&ServerFrame::Resync)).await?;
            }
        }
    }
    socket.flush().await?;
    Ok(replayed_until)
}

pub(super) fn end_for(reason: CloseReason) -> End {
    match reason {
        CloseReason::SlowConsumer => End::Slow,
        CloseReason::LoggedOut => End::Close(CloseCode::Policy, "logged out"),
        CloseReason::ShuttingDown => End::Close(CloseCode::Away, "server shutting down"),
        CloseReason::Removed => End::Close(CloseCode::Library(4403), "no longer a member"),
    }
}

pub(super) async fn close(socket: &mut Socket, end: End) {
    let (code, reason) = match end {
        End::Gone => return,
        End::Close(code, reason) => (code, reason),
        End::Slow => {
            let _ = socket.feed(text(&ServerFrame::Resync)).await;
            (CloseCode::Again, "too slow; reload history")
        }
    };
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = tokio::time::timeout(LINGER, socket.close(Some(frame))).await;
    linger(socket).await;
}

/// After our close frame, read and discard what the client still sends (its
/// close reply, or the rest of an oversized frame) until it hangs up: closing
/// a socket with unread input resets it, and the client would never see our
/// close frame. Bounded in time and bytes.
async fn linger(socket: &mut Socket) {
    use tokio::io::AsyncReadExt;
    let raw = socket.get_mut();
    // On the heap: an array here would sit in every connection's future.
    let mut scratch = vec![0u8; 8 * 1024];
    let mut budget = LINGER_BYTES;
    let drain = async {
        while budget > 0 {
            match raw.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget = budget.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
