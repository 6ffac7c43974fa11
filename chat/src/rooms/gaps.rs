//! Reading back from PostgreSQL what the rooms need: the log entries a
//! room is waiting for, and unread figures after a deletion.
//!
//! A room asks for a fill when a message arrives before its predecessor (see
//! `rooms::order`); the fill waits a moment for the missing event, then reads
//! everything the room has not delivered yet. A periodic check compares each
//! live room with its newest stored time, which finds the messages whose events
//! were lost with nothing arriving after them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Rooms;
use crate::store::Store;

/// What a room asks to read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadBack {
    /// The entries the room misses.
    Fill(Uuid),
    /// The unread figures of its watching members: a message was deleted.
    Recount(Uuid),
}

/// How long a gap may close by itself (the other instance's event arriving)
/// before the database is asked.
const GAP_WAIT: Duration = Duration::from_millis(200);
/// How often live rooms are compared with the database.
const TAIL_CHECK: Duration = Duration::from_secs(2);
/// Most messages read back at once.
const FILL_BATCH: i64 = 500;
/// Pause before retrying a fill the database refused.
const RETRY: Duration = Duration::from_secs(1);

/// Serves fill requests and checks room tails until `shutdown`.
pub(crate) async fn run(
    store: Store,
    rooms: Arc<Rooms>,
    mut requests: mpsc::UnboundedReceiver<ReadBack>,
    shutdown: CancellationToken,
) {
    let mut tails = tokio::time::interval(TAIL_CHECK);
    tails.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(ReadBack::Fill(room)) => {
                    tokio::spawn(fill(store.clone(), Arc::clone(&rooms), room));
                }
                Some(ReadBack::Recount(room)) => {
                    let (store, rooms) = (store.clone(), Arc::clone(&rooms));
                    tokio::spawn(async move { rooms.watchers().recount_room(&store, room).await });
                }
                None => return,
            },
            _ = tails.tick() => check_tails(&store, &rooms).await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// Waits for the gap to close by itself, then reads what `room` misses (a gap
/// that remains, beyond [`FILL_BATCH`], makes the room ask again).
async fn fill(store: Store, rooms: Arc<Rooms>, room: Uuid) {
    tokio::time::sleep(GAP_WAIT).await;
    loop {
        let Some(after) = rooms.last_delivered(room) else { return };
        match store.log_since(room, after, FILL_BATCH).await {
            Ok(entries) => {
                metrics::counter!(crate::metrics::GAP_FILLED).increment(entries.len() as u64);
                rooms.filled(room, after, entries);
                return;
            }
            Err(error) => {
                tracing::warn!(%error, %room, "reading missed messages failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Asks for a fill of every live room that is behind its newest stored time.
async fn check_tails(store: &Store, rooms: &Rooms) {
    let live: Vec<Uuid> = rooms.started().into_iter().map(|(room, _)| room).collect();
    if live.is_empty() {
        return;
    }
    match store.last_message_times(&live).await {
        Ok(newest) => {
            for (room, newest) in newest {
                // Read after the query: a room is behind only if it still is.
                if rooms.last_delivered(room).is_some_and(|last| last < newest) {
                    rooms.request_fill(room);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "checking rooms against the database failed"),
    }
}
