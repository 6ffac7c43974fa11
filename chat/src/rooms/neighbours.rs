//! What the rooms tell the other instances serving them. The hub defines
//! this interface and `cluster` implements it over RabbitMQ; a single
//! instance needs nothing behind it ([`Alone`]).

use uuid::Uuid;

use super::RoomEvent;

/// The other instances, as the hub sees them. Every call returns at once:
/// what cannot be passed on is dropped, and rooms recover stored messages
/// from the database (see `rooms::gaps`).
pub(crate) trait Neighbours: Send + Sync + 'static {
    /// Something happened in a room on this instance; the others apply it too.
    fn publish(&self, event: &RoomEvent);
    /// A session was logged out here: its sockets elsewhere close too.
    fn logged_out(&self, session: [u8; 32]);
    /// What `user` has not read in `room` changed here (a read, a join).
    fn unread_changed(&self, user: Uuid, username: String, room: Uuid);
}

/// No other instance: nothing to tell.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Alone;

impl Neighbours for Alone {
    fn publish(&self, _: &RoomEvent) {}
    fn logged_out(&self, _: [u8; 32]) {}
    fn unread_changed(&self, _: Uuid, _: String, _: Uuid) {}
}
