//! A room's delivery order, the same on every instance.
//!
//! PostgreSQL gives each stored message a time that increases strictly in the
//! room's commit order, and tells the writer the time of the message before it.
//! A room delivers a message only when its predecessor is the last message it
//! delivered: messages that arrive early (another instance's event can be
//! overtaken by a local commit) wait, repeats are dropped, and a gap that does
//! not close by itself is filled from the database.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::Outgoing;
use crate::store::LogEntry;

/// Early messages a room holds; beyond that they are read back from the
/// database when the gap is filled.
const MAX_HELD: usize = 4096;

/// A stored entry of a room's log (a message, an edit, a deletion) on its
/// way to the room's connections.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    /// Its time: the room's order.
    pub(crate) at: OffsetDateTime,
    /// The time of the room's entry before it (`None` for the room's first).
    pub(crate) previous: Option<OffsetDateTime>,
    /// Its frame.
    pub(crate) frame: Outgoing,
}

impl Stored {
    /// `entry`, which follows the entry at `previous`.
    pub(crate) fn new(entry: LogEntry, previous: Option<OffsetDateTime>) -> Self {
        Self { at: entry.at(), previous, frame: Outgoing::stored(entry) }
    }
}

/// Where a room's delivery stands.
#[derive(Debug, Default)]
pub(crate) struct RoomOrder {
    /// The time of the last message delivered: the outer `None` until the
    /// room's newest stored time is known ([`RoomOrder::start_after`]).
    last: Option<Option<OffsetDateTime>>,
    /// Messages that arrived before their predecessor, by time.
    held: BTreeMap<OffsetDateTime, Stored>,
}

impl RoomOrder {
    /// Whether the room still needs to learn where its order stands.
    pub(crate) fn is_started(&self) -> bool {
        self.last.is_some()
    }

    /// The time of the last message delivered, once started.
    pub(crate) fn last(&self) -> Option<Option<OffsetDateTime>> {
        self.last
    }

    /// Starts delivering after `newest`, the room's newest stored time (ignored
    /// when already started); pushes what is now deliverable onto `ready`.
    pub(crate) fn start_after(
        &mut self,
        newest: Option<OffsetDateTime>,
        ready: &mut Vec<Outgoing>,
    ) {
        if self.last.is_none() {
            self.last = Some(newest);
            self.release(ready);
        }
    }

    /// Takes a stored message; pushes onto `ready`, in order, every message
    /// that can now be delivered.
    pub(crate) fn offer(&mut self, message: Stored, ready: &mut Vec<Outgoing>) {
        match self.last {
            Some(last) if last.is_some_and(|last| message.at <= last) => {}
            Some(last) if message.previous == last => {
                self.last = Some(Some(message.at));
                ready.push(message.frame);
                self.release(ready);
            }
            _ if self.held.len() < MAX_HELD => {
                self.held.insert(message.at, message);
            }
            _ => {}
        }
    }

    /// True when started with messages held: one before them is missing and
    /// must be read from the database. (Messages dropped beyond [`MAX_HELD`]
    /// are found by the periodic check of each room's newest time.)
    pub(crate) fn has_gap(&self) -> bool {
        self.last.is_some() && !self.held.is_empty()
    }

    fn release(&mut self, ready: &mut Vec<Outgoing>) {
        let Some(mut last) = self.last else { return };
        while let Some(entry) = self.held.first_entry() {
            let next = entry.get();
            if last.is_some_and(|last| next.at <= last) {
                entry.remove();
            } else if next.previous == last {
                let next = entry.remove();
                last = Some(next.at);
                ready.push(next.frame);
            } else {
                break;
            }
        }
        self.last = Some(last);
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    fn at(n: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(n)
    }

    /// Message `n` of a room whose messages are at 1, 2, 3, …
    fn message(n: i64) -> Stored {
        let previous = (n > 1).then(|| at(n - 1));
        let frame = Outgoing::notice(protocol::ServerFrame::Typing { username: n.to_string() });
        Stored { at: at(n), previous, frame }
    }

    fn texts(ready: &[Outgoing]) -> Vec<&str> {
        ready
            .iter()
            .map(|frame| match frame.frame() {
                protocol::ServerFrame::Typing { username } => username.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn in_order_messages_pass_at_once() {
        let mut order = RoomOrder::default();
        let mut ready = Vec::new();
        order.start_after(None, &mut ready);
        for n in 1..=3 {
            order.offer(message(n), &mut ready);
        }
        assert_eq!(texts(&ready), ["1", "2", "3"]);
        assert!(!order.has_gap());
    }

    #[test]
    fn an_early_message_waits_for_its_predecessor() {
        let mut order = RoomOrder::default();
        let mut ready = Vec::new();
        order.start_after(Some(at(1)), &mut ready);
        order.offer(message(3), &mut ready);
        assert!(ready.is_empty());
        assert!(order.has_gap());
        order.offer(message(2), &mut ready);
        assert_eq!(texts(&ready), ["2", "3"]);
        assert!(!order.has_gap());
    }

    #[test]
    fn repeats_and_messages_before_the_start_are_dropped() {
        let mut order = RoomOrder::default();
        let mut ready = Vec::new();
        order.start_after(Some(at(2)), &mut ready);
        order.offer(message(2), &mut ready);
        order.offer(message(3), &mut ready);
        order.offer(message(3), &mut ready);
        assert_eq!(texts(&ready), ["3"]);
        assert!(!order.has_gap());
    }

    #[test]
    fn messages_wait_until_the_room_knows_where_it_starts() {
        let mut order = RoomOrder::default();
        let mut ready = Vec::new();
        order.offer(message(4), &mut ready);
        order.offer(message(3), &mut ready);
        assert!(ready.is_empty());
        assert!(!order.has_gap(), "not started: no gap to fill yet");
        order.start_after(Some(at(3)), &mut ready);
        assert_eq!(texts(&ready), ["4"]);
        assert_eq!(order.last(), Some(Some(at(4))));
    }

    #[test]
    fn held_messages_are_bounded() {
        let mut order = RoomOrder::default();
        let mut ready = Vec::new();
        order.start_after(Some(at(1)), &mut ready);
        for n in 3..(3 + MAX_HELD as i64 + 10) {
            order.offer(message(n), &mut ready);
        }
        assert_eq!(order.held.len(), MAX_HELD);
        order.offer(message(2), &mut ready);
        assert_eq!(ready.len(), MAX_HELD + 1, "delivered up to the first dropped message");
        assert!(!order.has_gap(), "what was dropped is found by the next fill's tail check");
    }
}
