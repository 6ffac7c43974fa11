//! The room's own delivery path, for the criterion benches in `benches/`:
//! a live room of connections and stored messages handed to it exactly as
//! the room writer hands them (`Rooms::publish`). Not part of the API.

use std::sync::Arc;

use protocol::Message;
use time::{Duration, OffsetDateTime};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::rooms::{Alone, Closer, Outgoing, Peer, RoomEvent, Rooms};

/// A connection's queue bound, as in `ws`.
const QUEUE: usize = 512;

/// One live room of `connections` peers on a single instance.
pub struct BenchRoom {
    rooms: Rooms,
    room: Uuid,
    queues: Vec<mpsc::Receiver<Outgoing>>,
    previous: Option<OffsetDateTime>,
    _shutdown: CancellationToken,
}

impl BenchRoom {
    /// A started room with `connections` peers, one user each, on an instance
    /// with no other.
    pub fn new(connections: usize) -> Self {
        let (gaps, _) = mpsc::unbounded_channel();
        let rooms = Rooms::new(Arc::new(Alone), gaps);
        let room = Uuid::now_v7();
        let shutdown = CancellationToken::new();
        let mut queues = Vec::with_capacity(connections);
        for n in 0..connections {
            let (outbox, queue) = mpsc::channel(QUEUE);
            let peer = Peer {
                id: n as u64,
                user_id: Uuid::from_u128(n as u128),
                username: format!("user{n}").into(),
                outbox,
                closer: Closer::new(&shutdown),
            };
            rooms.join(room, Arc::new(peer));
            queues.push(queue);
        }
        rooms.start(room, None);
        let mut bench = Self { rooms, room, queues, previous: None, _shutdown: shutdown };
        bench.drain();
        bench
    }

    /// Stores nothing: hands `message`, placed after the room's last one,
    /// to the room as a stored message, then takes every queued frame off the
    /// connections' queues in their wire form, as their sockets' sending
    /// halves do (the first encodes it, the rest share it), returning how many.
    pub fn deliver(&mut self, mut message: Message) -> usize {
        let at = self.previous.map_or(message.created_at, |p| p + Duration::microseconds(1));
        message.chatroom_id = self.room;
        message.created_at = at;
        self.rooms.publish(RoomEvent::Stored { message, previous: self.previous });
        self.previous = Some(at);
        self.drain()
    }

    fn drain(&mut self) -> usize {
        let mut taken = 0;
        for queue in &mut self.queues {
            while let Ok(frame) = queue.try_recv() {
                std::hint::black_box(crate::ws::encoded(&frame));
                taken += 1;
            }
        }
        taken
    }
}
