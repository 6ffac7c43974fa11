//! The baseline: a bare tokio-tungstenite fan-out server speaking the chat's
//! frames, with no auth, storage or limits: the ceiling of this stack on this
//! machine, measured with the same workload as the real server.
//!
//! `GET /ws/chat/<room uuid>?user=<name>` joins a room (any id; no REST).
//! It sends `presence` first, like the server; a `chat_message` is given an
//! id and a time, encoded once as the server's `chat_message` frame and
//! queued to every connection of the room (the sender's copy is its ack).
//! Queues are bounded like the server's: a connection that overflows is sent
//! `resync` and closed with 1013. With `--database-url` the baseline is
//! durable: messages are committed to PostgreSQL before they are fanned out
//! (see [`durable`]).

mod durable;

use std::collections::HashMap;
use std::future::Future;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use protocol::message::MAX_CONTENT_CHARS;
use protocol::{ClientFrame, ErrorCode, Message, ServerFrame};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Frames queued per connection before it counts as too slow (the server's figure).
const OUTBOX: usize = 512;
/// Frames written before one flush (the server's figure).
const WRITE_BURST: usize = 64;
/// What `serve-baseline` prints first on stdout, followed by the address.
pub(crate) const LISTENING: &str = "listening on ";

/// The server's socket sizes.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

/// One connection as its room sees it.
struct Peer {
    id: u64,
    outbox: mpsc::Sender<Utf8Bytes>,
    slow: CancellationToken,
}

/// The connections of one room.
type Room = Arc<Mutex<Vec<Arc<Peer>>>>;

/// Every room; entries stay (the baseline lives for one test).
#[derive(Default)]
struct Rooms {
    map: Mutex<HashMap<Uuid, Room>>,
    next_peer: AtomicU64,
}

impl Rooms {
    fn room(&self, id: Uuid) -> Room {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(id).or_default())
    }
}

fn broadcast(room: &Room, frame: &Utf8Bytes) {
    for peer in room.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        if let Err(mpsc::error::TrySendError::Full(_)) = peer.outbox.try_send(frame.clone()) {
            peer.slow.cancel();
        }
    }
}

/// Serves until `shutdown` completes; durable when `database_url` is given.
pub(crate) async fn serve(
    listener: TcpListener,
    database_url: Option<&str>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let committer = match database_url {
        Some(url) => Some(durable::Committer::start(url).await?),
        None => None,
    };
    let rooms = Arc::new(Rooms::default());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    tokio::spawn(handle(tcp, Arc::clone(&rooms), committer.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, go on.
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// Who connected where, from the handshake's path and query.
fn route(path: &str, query: Option<&str>) -> Option<(Uuid, String)> {
    let room = path.strip_prefix("/ws/chat/")?.parse().ok()?;
    let user = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("user="))
        .unwrap_or("anonymous");
    Some((room, user.to_owned()))
}

async fn handle(tcp: TcpStream, rooms: Arc<Rooms>, committer: Option<durable::Committer>) {
    let _ = tcp.set_nodelay(true);
    let mut routed = None;
    #[expect(clippy::result_large_err, reason = "the signature tungstenite's callbacks must have")]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        routed = route(request.uri().path(), request.uri().query());
        if routed.is_some() {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(Some("no such route".into()));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    let accepted =
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(socket_config())).await;
    let (Ok(mut socket), Some((room_id, username))) = (accepted, routed) else { return };

    let room = rooms.room(room_id);
    let (outbox, mut queue) = mpsc::channel(OUTBOX);
    let peer = Arc::new(Peer {
        id: rooms.next_peer.fetch_add(1, Ordering::Relaxed),
        outbox,
        slow: CancellationToken::new(),
    });
    room.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&peer));
    let me = Sender { room_id, user_id: Uuid::new_v4(), username, committer };
    let presence =
        ServerFrame::Presence { users: vec![me.username.clone()], online: None }.to_json();

    let mut result = socket.send(WsMessage::text(presence)).await;
    while result.is_ok() {
        result = tokio::select! {
            biased;
            () = peer.slow.cancelled() => break,
            frame = queue.recv() => match frame {
                Some(frame) => write_burst(&mut socket, frame, &mut queue).await,
                None => break,
            },
            incoming = socket.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => me.on_text(&text, &room, &mut socket).await,
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
        };
    }
    room.lock().unwrap_or_else(PoisonError::into_inner).retain(|p| p.id != peer.id);
    if peer.slow.is_cancelled() {
        let _ = socket.feed(WsMessage::text(ServerFrame::Resync.to_json())).await;
        let close = CloseFrame { code: CloseCode::Again, reason: "too slow".into() };
        let _ = socket.close(Some(close)).await;
    }
}

async fn write_burst<S>(
    socket: &mut S,
    first: Utf8Bytes,
    queue: &mut mpsc::Receiver<Utf8Bytes>,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: SinkExt<WsMessage, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let mut next = Some(first);
    let mut written = 0;
    while let Some(frame) = next {
        socket.feed(WsMessage::Text(frame)).await?;
        written += 1;
        next = if written < WRITE_BURST { queue.try_recv().ok() } else { None };
    }
    socket.flush().await
}

/// The identity a connection posts under.
struct Sender {
    room_id: Uuid,
    user_id: Uuid,
    username: String,
    /// Set when the baseline is durable.
    committer: Option<durable::Committer>,
}

impl Sender {
    /// A client frame: a valid message is stamped, encoded once and fanned
    /// out; anything else is answered with an error frame to the sender.
    async fn on_text<S>(
        &self,
        text: &str,
        room: &Room,
        socket: &mut S,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error>
    where
        S: SinkExt<WsMessage, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    {
        let refusal = match ClientFrame::decode(text) {
            Ok(ClientFrame::ChatMessage { content, client_id, .. }) => {
                let content = content.trim();
                let chars = content.chars().count();
                if chars == 0 || chars > MAX_CONTENT_CHARS || content.starts_with('/') {
                    Some((ErrorCode::InvalidFrame, client_id))
                } else {
                    let message = Message {
                        id: Uuid::now_v7(),
                        chatroom_id: self.room_id,
                        user_id: self.user_id,
                        username: self.username.clone(),
                        content: content.to_owned(),
                        is_bot: false,
                        created_at: OffsetDateTime::now_utc(),
                        client_id,
                        attachments: Vec::new(),
                        reactions: Vec::new(),
                        mentions: Vec::new(),
                        edited_at: None,
                        deleted: false,
                        reply_to: None,
                        encrypted: None,
                    };
                    let frame = ServerFrame::ChatMessage(message).to_json().into();
                    match &self.committer {
                        Some(committer) => committer.append(durable::Pending {
                            room: Arc::clone(room),
                            room_id: self.room_id,
                            content: content.to_owned(),
                            frame,
                        }),
                        None => broadcast(room, &frame),
                    }
                    None
                }
            }
            Ok(ClientFrame::Typing) => None,
            Ok(
                ClientFrame::Reaction { .. }
                | ClientFrame::Edit { .. }
                | ClientFrame::Delete { .. },
            ) => Some((ErrorCode::InvalidFrame, None)),
            Err(error) => Some((ErrorCode::InvalidFrame, error.client_id)),
        };
        match refusal {
            Some((code, client_id)) => {
                let message = "refused by the baseline".to_owned();
                socket
                    .send(WsMessage::text(
                        ServerFrame::Error { message, code, client_id }.to_json(),
                    ))
                    .await
            }
            None => Ok(()),
        }
    }
}

/// A baseline started by this tool as a child process (so its CPU and memory
/// are its own in `/proc`); killed when dropped.
pub(crate) struct BaselineProcess {
    child: Child,
    /// Where it listens.
    pub(crate) addr: std::net::SocketAddr,
}

impl BaselineProcess {
    /// Starts `loadtest serve-baseline --addr 127.0.0.1:0` (with
    /// `--database-url` when given) and reads its address.
    pub(crate) async fn spawn(database_url: Option<&str>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the loadtest binary")?;
        let mut command = Command::new(exe);
        command.args(["serve-baseline", "--addr", "127.0.0.1:0"]);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the baseline")?;
        let stdout = child.stdout.take().context("baseline stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let addr = line
            .trim()
            .strip_prefix(LISTENING)
            .and_then(|addr| addr.parse().ok())
            .with_context(|| format!("baseline printed {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_room_and_user() {
        let room = Uuid::from_u128(7);
        assert_eq!(
            route(&format!("/ws/chat/{room}"), Some("x=1&user=lt_a_3")),
            Some((room, "lt_a_3".into()))
        );
        assert_eq!(route(&format!("/ws/chat/{room}"), None), Some((room, "anonymous".into())));
        assert_eq!(route("/ws/chat/not-a-uuid", None), None);
        assert_eq!(route("/other", None), None);
    }
}
