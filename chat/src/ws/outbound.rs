//! A connection's sending half: what the room and the connection's own
//! commands queue for it, written to the socket in bursts, and pings.
//!
//! It runs beside the receiving half and never waits on it, so a command that
//! waits (a stock command for the broker's confirm, a message for room on the
//! writer's queue) delays none of what the user receives.

use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use super::socket::{End, Socket};
use crate::rooms::Outgoing;

/// Frames written before one flush.
const WRITE_BURST: usize = 64;

/// Writes queued frames and pings every `ping_every` until the socket fails.
/// Stored messages up to `replayed_until` were sent by the replay and are skipped.
pub(super) async fn write(
    sink: &mut SplitSink<Socket, WsMessage>,
    mut queue: mpsc::Receiver<Outgoing>,
    replayed_until: Option<OffsetDateTime>,
    ping_every: Duration,
) -> End {
    let start = tokio::time::Instant::now() + ping_every;
    let mut ping = tokio::time::interval_at(start, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let written = tokio::select! {
            biased;
            // Before the ping timer: a queued frame is the usual reason for
            // waking, and the timer is then not polled at all.
            frame = queue.recv() => match frame {
                Some(frame) => write_burst(sink, frame, &mut queue, replayed_until).await,
                None => return End::Gone,
            },
            _ = ping.tick() => sink.send(WsMessage::Ping(Default::default())).await,
        };
        if written.is_err() {
            return End::Gone;
        }
    }
}

/// Writes `first` and whatever else is queued (up to [`WRITE_BURST`]), then
/// flushes once.
async fn write_burst(
    sink: &mut SplitSink<Socket, WsMessage>,
    first: Outgoing,
    queue: &mut mpsc::Receiver<Outgoing>,
    replayed_until: Option<OffsetDateTime>,
) -> Result<(), tungstenite::Error> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(frame) = next {
        let replayed = matches!((frame.at(), replayed_until), (Some(at), Some(last)) if at <= last);
        if !replayed {
            sink.feed(WsMessage::Text(super::wire::encoded(&frame))).await?;
            written += 1;
        }
        next = if written < WRITE_BURST { queue.try_recv().ok() } else { None };
    }
    sink.flush().await
}
