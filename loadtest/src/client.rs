//! One simulated user: its WebSocket, its sends, and what it receives.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::ServerFrame;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::COOKIE;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_util::sync::CancellationToken;

use crate::delivery::Stream;
use crate::stamp::{Stamp, chat_frame, sealed_frame, unseal};
use crate::stats::{Recorder, Samples};

/// The two fields of a server frame the generator checks; the others are
/// skipped unparsed (a whole `ServerFrame` would parse ids and times nothing
/// here reads, on the machine the measured server runs on).
#[derive(Deserialize)]
struct Received<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    encrypted: Option<ReceivedSealed<'a>>,
}

/// A sealed message's ciphertext: the stamp's bytes (see `stamp::sealed_frame`).
#[derive(Deserialize)]
struct ReceivedSealed<'a> {
    #[serde(borrow)]
    ciphertext: Cow<'a, str>,
}

/// A WebSocket over plain TCP.
pub(crate) type Socket = WebSocketStream<TcpStream>;

/// Longest wait from TCP connect to the `presence` frame.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for a close handshake at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Small buffers: thousands of connections share the generator's memory and
/// cache. tungstenite zeroes the whole read buffer before every socket read,
/// while frames are a few hundred bytes: in a fan-out run `memset` took 4.4%
/// of the machine's CPU samples with 16 KiB and 1.6% with 4 KiB.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(16 * 1024)
}

/// Where one connection goes and how it authenticates.
#[derive(Debug, Clone)]
pub(crate) struct Dial {
    /// The server's address.
    pub(crate) addr: SocketAddr,
    /// `ws://host:port/ws/chat/<room>[?user=…]`.
    pub(crate) url: String,
    /// `session_id=…` for the chat server; none for the baseline.
    pub(crate) cookie: Option<String>,
}

/// Opens the WebSocket and waits for `presence`, which the server sends once
/// the connection is in the room (so nothing sent after it can miss us).
/// Returns the socket and the time it took.
pub(crate) async fn connect(dial: &Dial) -> anyhow::Result<(Socket, Duration)> {
    let started = Instant::now();
    let socket = tokio::time::timeout(CONNECT_TIMEOUT, open(dial))
        .await
        .map_err(|_| anyhow::anyhow!("no presence frame within {CONNECT_TIMEOUT:?}"))??;
    Ok((socket, started.elapsed()))
}

async fn open(dial: &Dial) -> anyhow::Result<Socket> {
    let tcp = TcpStream::connect(dial.addr).await?;
    tcp.set_nodelay(true)?;
    let mut request = dial.url.as_str().into_client_request()?;
    if let Some(cookie) = &dial.cookie {
        request.headers_mut().insert(COOKIE, HeaderValue::from_str(cookie)?);
    }
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, tcp, Some(socket_config()))
            .await
            .map_err(|error| match error {
                tungstenite::Error::Http(response) => {
                    anyhow::anyhow!("handshake refused: {}", response.status())
                }
                other => other.into(),
            })?;
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Text(text))) => {
                if let Ok(ServerFrame::Presence { .. }) = serde_json::from_str(&text) {
                    return Ok(socket);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => anyhow::bail!("closed before presence"),
        }
    }
}

/// What every connection of a run shares.
pub(crate) struct Shared {
    /// Identifies this run's messages.
    pub(crate) nonce: u32,
    /// Bytes of content per message.
    pub(crate) payload: usize,
    /// Users in the run.
    pub(crate) users: u32,
    /// Rooms in the run.
    pub(crate) rooms: u32,
    /// Messages are sent sealed (encrypted rooms).
    pub(crate) sealed: bool,
    /// Intended send times count from here.
    pub(crate) epoch: Instant,
    /// Histograms and live counters.
    pub(crate) recorder: Arc<Recorder>,
    /// Ends every connection (after the drain).
    pub(crate) stop: CancellationToken,
}

/// One connection's place in the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    /// The user index.
    pub(crate) user: u32,
    /// Its room.
    pub(crate) room: u32,
    /// Users of the room (one delivery stream each).
    pub(crate) room_size: u32,
    /// Connected members of the room: each send is due to each of them.
    pub(crate) room_connected: u64,
}

/// What a connection did, returned when it ends.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The user index.
    pub(crate) user: u32,
    /// Messages it wrote.
    pub(crate) sent: u32,
    /// Error frames, resyncs, undecodable or misrouted frames, an early close.
    pub(crate) errors: u64,
    /// Per member of its room (by member index): what it received from them.
    /// Only senders heard from have one: a stream per member of a room of
    /// thousands, for each of its thousands of receivers, is gigabytes.
    pub(crate) streams: HashMap<u32, Stream>,
    /// When it received its last first copy, µs since the epoch.
    pub(crate) last_delivery_us: u64,
    /// Frames other than messages received once the run began (presence
    /// diffs, typing, the presence frames of a room filling up), and their bytes.
    pub(crate) other: (u64, u64),
}

/// Sends what the schedule hands it and checks what it receives, until stopped.
pub(crate) async fn drive(
    mut socket: Socket,
    member: Member,
    shared: Arc<Shared>,
    mut jobs: mpsc::Receiver<u64>,
) -> Outcome {
    let mut user = User {
        member,
        outcome: Outcome {
            user: member.user,
            sent: 0,
            errors: 0,
            streams: HashMap::new(),
            last_delivery_us: 0,
            other: (0, 0),
        },
        samples: Samples::default(),
        shared: Arc::clone(&shared),
    };
    let mut sending = true;
    loop {
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            job = jobs.recv(), if sending => match job {
                Some(intended_us) => {
                    if user.send(&mut socket, intended_us, &mut jobs).await.is_err() {
                        user.outcome.errors += 1;
                        break;
                    }
                }
                None => sending = false,
            },
            frame = socket.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => user.receive(&text),
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => {
                    user.outcome.errors += 1;
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    shared.recorder.record(member.user as usize, &mut user.samples);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
    user.outcome
}

/// The state of one running connection.
struct User {
    member: Member,
    outcome: Outcome,
    /// Latencies not yet in the shared histograms.
    samples: Samples,
    shared: Arc<Shared>,
}

impl User {
    /// Writes the due message and any others already queued, then flushes once.
    async fn send(
        &mut self,
        socket: &mut Socket,
        first: u64,
        jobs: &mut mpsc::Receiver<u64>,
    ) -> Result<(), tungstenite::Error> {
        let shared = &*self.shared;
        let mut next = Some(first);
        while let Some(intended_us) = next {
            let stamp = Stamp { sender: self.member.user, seq: self.outcome.sent, intended_us };
            let (content, client_id) =
                (stamp.content(shared.nonce, shared.payload), stamp.client_id(shared.nonce));
            let frame = if shared.sealed {
                sealed_frame(&content, &client_id)
            } else {
                chat_frame(&content, &client_id)
            };
            socket.feed(WsMessage::Text(frame.into())).await?;
            let lag_us = (shared.epoch.elapsed().as_micros() as u64).saturating_sub(intended_us);
            self.samples.send_lag.push(lag_us);
            self.outcome.sent += 1;
            Recorder::add(&shared.recorder.sent, 1);
            Recorder::add(&shared.recorder.expected, self.member.room_connected);
            next = jobs.try_recv().ok();
        }
        if self.samples.is_full() {
            shared.recorder.record(self.member.user as usize, &mut self.samples);
        }
        socket.flush().await
    }

    /// Checks one received frame.
    fn receive(&mut self, text: &str) {
        match serde_json::from_str::<Received>(text) {
            Ok(frame) => match (frame.kind.as_ref(), frame.content) {
                ("chat_message", _) if frame.encrypted.is_some() => {
                    let sealed = frame.encrypted.map(|s| s.ciphertext).unwrap_or_default();
                    match unseal(&sealed) {
                        Some(content) => self.delivered(&content),
                        None => self.outcome.errors += 1,
                    }
                }
                ("chat_message", Some(content)) => self.delivered(&content),
                ("chat_message", None) | ("error" | "resync", _) => self.outcome.errors += 1,
                _ => {
                    self.outcome.other.0 += 1;
                    self.outcome.other.1 += text.len() as u64;
                }
            },
            Err(_) => self.outcome.errors += 1,
        }
    }

    /// Books a delivered message of this run into its sender's stream.
    fn delivered(&mut self, content: &str) {
        let shared = &*self.shared;
        let Some(stamp) = Stamp::parse(shared.nonce, content) else { return };
        let now_us = shared.epoch.elapsed().as_micros() as u64;
        let member = stamp.sender / shared.rooms;
        let in_room =
            stamp.sender < shared.users && stamp.sender % shared.rooms == self.member.room;
        if !in_room || member >= self.member.room_size {
            self.outcome.errors += 1;
            return;
        }
        let stream = self.outcome.streams.entry(member).or_default();
        if !stream.observe(stamp.seq).is_first() {
            return;
        }
        let latency_us = now_us.saturating_sub(stamp.intended_us);
        self.samples.delivery.push(latency_us);
        Recorder::add(&shared.recorder.delivered, 1);
        if stamp.sender == self.member.user {
            self.samples.ack.push(latency_us);
            Recorder::add(&shared.recorder.acked, 1);
        }
        self.outcome.last_delivery_us = now_us;
        if self.samples.is_full() {
            shared.recorder.record(self.member.user as usize, &mut self.samples);
        }
    }
}
