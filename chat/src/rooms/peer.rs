//! One WebSocket connection as the rest of the server sees it.

use std::sync::{Arc, OnceLock};

use protocol::ServerFrame;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::LogEntry;

/// A frame queued for connections: made once and shared by every recipient.
///
/// The hub carries frames as values; the edge that sends them owns their
/// encoding ([`Outgoing::encoded`]), which is done once, by the first
/// connection that sends the frame, and shared by the rest.
///
/// One pointer wide, so each connection's queue (whose first block of slots
/// is allocated up front) stays small while the connection is idle.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing(Arc<Frame>);

#[derive(Debug)]
struct Frame {
    frame: ServerFrame,
    at: Option<OffsetDateTime>,
    encoded: OnceLock<Utf8Bytes>,
}

impl Outgoing {
    /// An entry of a room's log (a message, an edit, a deletion), at its
    /// time in the room's order.
    pub(crate) fn stored(entry: LogEntry) -> Self {
        let at = Some(entry.at());
        Self(Arc::new(Frame { frame: entry.into_frame(), at, encoded: OnceLock::new() }))
    }

    /// A frame that is not an entry in the room's order (presence,
    /// typing, an error, a stored copy sent again to its sender alone).
    pub(crate) fn notice(frame: ServerFrame) -> Self {
        Self(Arc::new(Frame { frame, at: None, encoded: OnceLock::new() }))
    }

    /// The frame.
    #[cfg(test)]
    pub(crate) fn frame(&self) -> &ServerFrame {
        &self.0.frame
    }

    /// A log entry's time, so a resuming connection can skip what it replayed.
    pub(crate) fn at(&self) -> Option<OffsetDateTime> {
        self.0.at
    }

    /// The frame's wire form: made by `encode` for the first caller, shared after.
    pub(crate) fn encoded(&self, encode: impl FnOnce(&ServerFrame) -> Utf8Bytes) -> Utf8Bytes {
        self.0.encoded.get_or_init(|| encode(&self.0.frame)).clone()
    }
}

/// Why the server ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Its queue overflowed: it is sent `resync` and closed with 1013.
    SlowConsumer,
    /// Its session was logged out: closed with 1008.
    LoggedOut,
    /// The server is stopping: closed with 1001.
    ShuttingDown,
    /// Its user is no longer a member of its room: closed with 4403.
    Removed,
}

/// Asks a connection to close; the first reason given wins, and the server's
/// shutdown asks every connection at once.
#[derive(Debug, Clone)]
pub(crate) struct Closer {
    reason: Arc<OnceLock<CloseReason>>,
    token: CancellationToken,
}

impl Closer {
    /// A closer that `shutdown` also closes (as [`CloseReason::ShuttingDown`]).
    pub(crate) fn new(shutdown: &CancellationToken) -> Self {
        Self { reason: Arc::default(), token: shutdown.child_token() }
    }

    /// Asks the connection to close for `reason` (ignored if already asked).
    pub(crate) fn close(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Resolves once the connection was asked to close, with the reason.
    pub(crate) async fn closed(&self) -> CloseReason {
        self.token.cancelled().await;
        self.reason.get().copied().unwrap_or(CloseReason::ShuttingDown)
    }
}

/// A connection's identity and its bounded queue.
#[derive(Debug)]
pub(crate) struct Peer {
    /// Unique per process; tells two connections of one user apart.
    pub(crate) id: u64,
    /// The authenticated user.
    pub(crate) user_id: Uuid,
    /// Their name, for presence and typing frames.
    pub(crate) username: Arc<str>,
    /// Bounded: when full the peer is too slow and is closed, never waited for.
    pub(crate) outbox: mpsc::Sender<Outgoing>,
    /// Ends the connection.
    pub(crate) closer: Closer,
}

impl Peer {
    /// Queues `frame` without waiting; a full queue closes the peer as too slow.
    pub(crate) fn deliver(&self, frame: &Outgoing) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(frame.clone()) {
            tracing::warn!(peer = self.id, user_id = %self.user_id, "slow consumer: closing");
            self.closer.close(CloseReason::SlowConsumer);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_frame_is_encoded_once_for_all_its_recipients() {
        let outgoing = Outgoing::notice(ServerFrame::Resync);
        let copy = outgoing.clone();
        let calls = Cell::new(0);
        let encode = |frame: &ServerFrame| {
            calls.set(calls.get() + 1);
            Utf8Bytes::from(frame.to_json())
        };
        let first = outgoing.encoded(encode);
        assert_eq!(copy.encoded(encode), first);
        assert_eq!(calls.get(), 1);
    }
}
