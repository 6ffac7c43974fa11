//! Several chat instances serving the same rooms, through RabbitMQ.
//!
//! Every instance publishes what the others need on the `chat.events` fanout
//! exchange: its room events (each stored message with its place in the
//! room's order, reactions, typing, presence; see `rooms::RoomEvent`), and
//! what concerns the instances themselves (presence reports, logouts, read
//! markers). A room event received is handed to `Rooms::apply`, as the
//! instance that made it applied it. Each instance consumes them through its own queue,
//! named after its random instance id and deleted by the broker a minute after
//! the instance is gone, and ignores its own events.
//!
//! Events are fast, not authoritative: PostgreSQL is. Rooms deliver messages
//! in the order PostgreSQL assigned, wait for a missing one, and read it back
//! from the database when its event is late or lost (see `rooms::order`), so
//! losing events (a full outbox, a broker restart) delays messages but never
//! drops, repeats or reorders them.
//!
//! # Layout
//!
//! - `event`: the events and their JSON form.
//! - [`Outbox`]: where events wait to be published; as the rooms'
//!   [`Neighbours`], it is how the hub tells the other instances.
//! - `link`: publishing and consuming on a RabbitMQ connection; the presence report.

mod event;
mod link;

use std::sync::{Arc, Mutex, PoisonError};

use service::amqp::lapin::Channel;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::rooms::{Neighbours, RoomEvent};

pub(crate) use event::Event;
pub(crate) use link::{Receivers, consume, report_presence};

/// Events waiting to be published; when full, new ones are dropped (counted).
const OUTBOX: usize = 65_536;

/// Hands events to the publisher task without waiting.
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: mpsc::Sender<Event>,
    /// This process's id in the cluster.
    pub(crate) instance: Uuid,
}

impl Outbox {
    /// Queues `event` for the other instances; dropped when the queue is full.
    pub(crate) fn send(&self, event: Event) {
        if self.queue.try_send(event).is_err() {
            metrics::counter!(crate::metrics::CLUSTER_EVENTS, "direction" => "out", "outcome" => "dropped")
                .increment(1);
        }
    }
}

impl Neighbours for Outbox {
    fn publish(&self, event: &RoomEvent) {
        self.send(Event::Room(Box::new(event.clone())));
    }

    fn logged_out(&self, session: [u8; 32]) {
        self.send(Event::Logout { session });
    }

    fn unread_changed(&self, user: Uuid, username: String, room: Uuid) {
        self.send(Event::Unread { user_id: user, username, chatroom_id: room });
    }
}

/// The channel events are published on, while connected.
#[derive(Clone, Default)]
pub(crate) struct PublishChannel(Arc<Mutex<Option<Channel>>>);

impl PublishChannel {
    /// Replaces the channel (`None` while disconnected).
    pub(crate) fn set(&self, channel: Option<Channel>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = channel;
    }

    fn get(&self) -> Option<Channel> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().filter(|c| c.status().connected()).cloned()
    }
}

/// Creates the outbox of a new instance and the task that publishes it on
/// whatever channel `channel` holds; the task ends when every [`Outbox`] is
/// dropped, after the writer's last messages.
pub(crate) fn outbox(channel: PublishChannel) -> Outbox {
    let (queue, events) = mpsc::channel(OUTBOX);
    let instance = Uuid::new_v4();
    tokio::spawn(link::publish(events, channel, instance));
    Outbox { queue, instance }
}
