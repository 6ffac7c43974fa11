//! One WebSocket connection: replay, then live frames both ways.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use protocol::broker::StockCommand;
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use uuid::Uuid;

use super::command::{Input, classify};
use crate::rooms::{CloseReason, Closer, Outgoing, Peer, Post};
use crate::state::App;
use crate::stock::StockDeskError;
use crate::store::User;

/// Frames queued per connection before it counts as too slow (then `resync` + 1013).
const OUTBOX: usize = 512;
/// Most messages replayed on `?after=`; beyond that the client is told to resync.
const MAX_REPLAY: i64 = 500;
/// How long a closing socket waits for the client to hang up.
const LINGER: Duration = Duration::from_secs(2);
/// Most input discarded while lingering.
const LINGER_BYTES: usize = 1024 * 1024;
/// Frames written before one flush.
const WRITE_BURST: usize = 64;
/// A user's typing frames are passed on at most this often per connection.
const TYPING_INTERVAL: Duration = Duration::from_secs(1);

type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// An accepted handshake, ready to serve.
pub(super) struct Connection {
    pub(super) app: Arc<App>,
    pub(super) room_id: Uuid,
    pub(super) user: User,
    /// The session's token hash: logout closes this connection.
    pub(super) session: [u8; 32],
    /// Numbers the connection; registered under `session` by the handshake.
    pub(super) peer_id: u64,
    /// Closes the connection; logout already holds it.
    pub(super) closer: Closer,
    /// Replay stored messages newer than this one first.
    pub(super) after: Option<Uuid>,
    /// This connection's place under the connection cap.
    pub(super) permit: tokio::sync::OwnedSemaphorePermit,
}

/// Why the loop ended, and so how the socket closes.
enum End {
    /// The client closed or vanished: nothing more to send.
    Gone,
    /// The server closes with this code.
    Close(CloseCode, &'static str),
    /// Too slow: `resync`, then 1013.
    Slow,
}

impl Connection {
    /// Serves the socket until either side ends it.
    pub(super) async fn run(self, mut socket: Socket) {
        let app = Arc::clone(&self.app);
        let (outbox, queue) = mpsc::channel(OUTBOX);
        let closer = self.closer.clone();
        let peer = Arc::new(Peer {
            id: self.peer_id,
            user_id: self.user.id,
            username: self.user.username.as_str().into(),
            outbox,
            closer: closer.clone(),
        });
        let joined = app.rooms.join(self.room_id, Arc::clone(&peer));
        let mut handler = Handler {
            app: Arc::clone(&app),
            room_id: self.room_id,
            peer: Arc::clone(&peer),
            last_replayed: None,
            last_typing: None,
            last_heard: Instant::now(),
        };
        handler.span().in_scope(|| tracing::info!("connected"));

        metrics::gauge!(crate::metrics::WS_ACTIVE).increment(1.0);
        let end = match handler.start_room(joined.needs_start).await {
            Ok(()) => handler.serve(&mut socket, queue, &closer, joined.users, self.after).await,
            Err(end) => end,
        };

        app.rooms.leave(self.room_id, peer.id);
        app.sockets.deregister(&self.session, peer.id);
        close(&mut socket, end).await;
        metrics::gauge!(crate::metrics::WS_ACTIVE).decrement(1.0);
        drop(self.permit);
        handler.span().in_scope(|| tracing::info!("disconnected"));
    }
}

struct Handler {
    app: Arc<App>,
    room_id: Uuid,
    peer: Arc<Peer>,
    /// The time of the newest message sent by replay: live copies up to it are skipped.
    last_replayed: Option<OffsetDateTime>,
    /// When a typing frame was last passed on.
    last_typing: Option<Instant>,
    /// When the client last sent anything (pongs included): silence closes it.
    last_heard: Instant,
}

impl Handler {
    /// A span naming the user, the room and the connection, for its log lines.
    /// Made for each line, never held: a span alive for the connection's life
    /// costs every idle connection about 2 KiB in the log registry.
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "websocket",
            user_id = %self.peer.user_id,
            chatroom_id = %self.room_id,
            peer = self.peer.id,
        )
    }

    /// A room new on this instance learns where its order stands before anyone
    /// is replayed to, so replay and live delivery meet without a hole.
    async fn start_room(&self, needs_start: bool) -> Result<(), End> {
        if !needs_start {
            return Ok(());
        }
        match Box::pin(self.app.store.last_message_times(&[self.room_id])).await {
            Ok(rows) => {
                let newest = rows.first().and_then(|(_, newest)| *newest);
                self.app.rooms.start(self.room_id, newest);
                Ok(())
            }
            Err(error) => {
                self.span().in_scope(
                    || tracing::warn!(%error, "reading the room's newest message failed"),
                );
                Err(End::Close(CloseCode::Again, "database unavailable; reconnect"))
            }
        }
    }

    async fn serve(
        &mut self,
        socket: &mut Socket,
        mut queue: mpsc::Receiver<Outgoing>,
        closer: &Closer,
        users: Vec<String>,
        after: Option<Uuid>,
    ) -> End {
        // Rare or once-only steps are boxed (here and below): an idle connection's
        // future then holds only what waiting needs, not their largest state.
        if Box::pin(self.greet(socket, users, after)).await.is_err() {
            return End::Gone;
        }
        let idle_timeout = self.app.config.ws_idle_timeout;
        let mut ping = tokio::time::interval(idle_timeout / 3);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Made once, not on every turn of the loop (which registered and
        // removed a waiter for each frame sent). The closer is a child of the
        // shutdown token, so this one wait also ends the socket on shutdown.
        let closed = closer.closed();
        tokio::pin!(closed);
        loop {
            let step = tokio::select! {
                biased;
                reason = &mut closed => return end_for(reason),
                // Before the ping timer: a queued frame is the usual reason
                // for waking, and the timer is then not polled at all. The
                // timer waits only while the queue is never empty when the
                // loop comes round (a burst takes up to 64 frames), and a
                // queue that fills is closed (slow consumer).
                frame = queue.recv() => match frame {
                    Some(frame) => self.write_burst(socket, frame, &mut queue).await,
                    None => return End::Gone,
                },
                _ = ping.tick() => {
                    if self.last_heard.elapsed() >= idle_timeout {
                        return End::Close(CloseCode::Away, "idle timeout");
                    }
                    socket.send(WsMessage::Ping(Default::default())).await
                }
                incoming = socket.next() => match incoming {
                    None => return End::Gone,
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        Box::pin(self.on_message(socket, message)).await
                    }
                    Some(Err(tungstenite::Error::Capacity(_))) => {
                        return End::Close(CloseCode::Size, "frame larger than 64 KiB");
                    }
                    Some(Err(error)) => {
                        self.span().in_scope(|| tracing::debug!(%error, "read failed"));
                        return End::Gone;
                    }
                },
            };
            if step.is_err() {
                return End::Gone;
            }
        }
    }

    /// `presence`, then the replay of what the client missed.
    async fn greet(
        &mut self,
        socket: &mut Socket,
        users: Vec<String>,
        after: Option<Uuid>,
    ) -> Result<(), tungstenite::Error> {
        socket.feed(text(&ServerFrame::Presence { users })).await?;
        if let Some(after) = after {
            match self.app.store.messages_after(self.room_id, after, MAX_REPLAY + 1).await {
                Ok(Some(missed)) if missed.len() as i64 <= MAX_REPLAY => {
                    for message in missed {
                        self.last_replayed = Some(message.created_at);
                        socket.feed(text(&ServerFrame::ChatMessage(message))).await?;
                    }
                }
                Ok(_) => socket.feed(text(&ServerFrame::Resync)).await?,
                Err(error) => {
                    self.span().in_scope(|| tracing::warn!(%error, "replay failed"));
                    socket.feed(text(&ServerFrame::Resync)).await?;
                }
            }
        }
        socket.flush().await
    }

    /// Writes `first` and whatever else is queued, then flushes once.
    async fn write_burst(
        &mut self,
        socket: &mut Socket,
        first: Outgoing,
        queue: &mut mpsc::Receiver<Outgoing>,
    ) -> Result<(), tungstenite::Error> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(frame) = next {
            let replayed =
                matches!((frame.at(), self.last_replayed), (Some(at), Some(last)) if at <= last);
            if !replayed {
                socket.feed(WsMessage::Text(frame.text().clone())).await?;
                written += 1;
            }
            next = if written < WRITE_BURST { queue.try_recv().ok() } else { None };
        }
        socket.flush().await
    }

    async fn on_message(
        &mut self,
        socket: &mut Socket,
        message: WsMessage,
    ) -> Result<(), tungstenite::Error> {
        match message {
            WsMessage::Text(frame) => self.on_text(socket, frame.as_str()).await,
            WsMessage::Binary(_) => {
                refuse(socket, ErrorCode::InvalidFrame, "frames are JSON text".into(), None).await
            }
            // Pings are answered by tungstenite; a close is answered on the next read.
            _ => Ok(()),
        }
    }

    async fn on_text(
        &mut self,
        socket: &mut Socket,
        frame: &str,
    ) -> Result<(), tungstenite::Error> {
        let (content, client_id) = match ClientFrame::decode(frame) {
            Err(error) => {
                return refuse(
                    socket,
                    ErrorCode::InvalidFrame,
                    error.message.into(),
                    error.client_id,
                )
                .await;
            }
            Ok(ClientFrame::Typing) => {
                self.typing();
                return Ok(());
            }
            Ok(ClientFrame::ChatMessage { content, client_id }) => (content, client_id),
        };
        match classify(&content) {
            Input::Refused(code, message) => refuse(socket, code, message.into(), client_id).await,
            Input::Stock(code) => {
                if let Err(wait) = self.app.limits.stock.check(&self.peer.user_id) {
                    return rate_limited(socket, "stock", wait, client_id).await;
                }
                let command = StockCommand {
                    command_id: Uuid::now_v7(),
                    chatroom_id: self.room_id,
                    user_id: self.peer.user_id,
                    code: code.to_owned(),
                };
                match Box::pin(self.app.stock.submit(command)).await {
                    Ok(()) => {
                        metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "sent")
                            .increment(1);
                        Ok(())
                    }
                    Err(error) => {
                        metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "unavailable")
                            .increment(1);
                        self.span().in_scope(|| tracing::warn!(%error, "stock command refused"));
                        let message = match error {
                            StockDeskError::NotSent(_) => {
                                "the stock bot cannot be reached right now; please retry"
                            }
                            StockDeskError::Unconfirmed(_) => {
                                "the stock bot could not confirm your request; it may still be answered"
                            }
                        };
                        let message = message.into();
                        refuse(socket, ErrorCode::Unavailable, message, client_id).await
                    }
                }
            }
            Input::Message(text) => {
                if let Err(wait) = self.app.limits.messages.check(&self.peer.user_id) {
                    return rate_limited(socket, "messages", wait, client_id).await;
                }
                // Most messages need no trimming: keep the decoded string then.
                let content = if text.len() == content.len() { content } else { text.to_owned() };
                let post = Post {
                    chatroom_id: self.room_id,
                    content,
                    client_id,
                    sender: Arc::clone(&self.peer),
                };
                if self.app.writer.post(post).await {
                    Ok(())
                } else {
                    refuse(
                        socket,
                        ErrorCode::Unavailable,
                        "the server is shutting down".into(),
                        None,
                    )
                    .await
                }
            }
        }
    }

    /// Passes a typing notice to the rest of the room, at most once per interval.
    fn typing(&mut self) {
        let now = Instant::now();
        if self.last_typing.is_some_and(|last| now.duration_since(last) < TYPING_INTERVAL) {
            return;
        }
        self.last_typing = Some(now);
        self.app.rooms.typing(self.room_id, self.peer.user_id, self.peer.username.to_string());
    }
}

fn end_for(reason: CloseReason) -> End {
    match reason {
        CloseReason::SlowConsumer => End::Slow,
        CloseReason::LoggedOut => End::Close(CloseCode::Policy, "logged out"),
        CloseReason::ShuttingDown => End::Close(CloseCode::Away, "server shutting down"),
    }
}

async fn close(socket: &mut Socket, end: End) {
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

async fn rate_limited(
    socket: &mut Socket,
    limit: &'static str,
    wait: Duration,
    client_id: Option<String>,
) -> Result<(), tungstenite::Error> {
    metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => limit).increment(1);
    let seconds = crate::limits::retry_after_secs(wait);
    let message = format!("too many {limit}; retry in {seconds} s");
    refuse(socket, ErrorCode::RateLimited, message, client_id).await
}

async fn refuse(
    socket: &mut Socket,
    code: ErrorCode,
    message: String,
    client_id: Option<String>,
) -> Result<(), tungstenite::Error> {
    socket.send(text(&ServerFrame::Error { message, code, client_id })).await
}

fn text(frame: &ServerFrame) -> WsMessage {
    WsMessage::Text(frame.to_json().into())
}
