//! What the rooms tell the other instances serving them. The hub defines
//! this interface and `cluster` implements it over RabbitMQ; a single
//! instance needs nothing behind it ([`Alone`]).

use protocol::{Message, Reaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// The other instances, as the hub sees them. Every call returns at once:
/// what cannot be passed on is dropped, and rooms recover stored messages
/// from the database (see `rooms::gaps`).
pub(crate) trait Neighbours: Send + Sync + 'static {
    /// A message this instance stored, after `previous` in its room.
    fn stored(&self, message: Message, previous: Option<OffsetDateTime>);
    /// Someone on this instance is typing in `room`.
    fn typing(&self, room: Uuid, user_id: Uuid, username: String);
    /// A user came online (or went offline) in `room` on this instance.
    fn presence(&self, room: Uuid, username: String, online: bool);
    /// A session was logged out here: its sockets elsewhere close too.
    fn logged_out(&self, session: [u8; 32]);
    /// A message's reactions changed here: its state after change `version`.
    fn reactions(&self, room: Uuid, message_id: Uuid, reactions: Vec<Reaction>, version: i32);
    /// What `user` has not read in `room` changed here (a read, a join).
    fn unread_changed(&self, user: Uuid, username: String, room: Uuid);
}

/// No other instance: nothing to tell.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Alone;

impl Neighbours for Alone {
    fn stored(&self, _: Message, _: Option<OffsetDateTime>) {}
    fn typing(&self, _: Uuid, _: Uuid, _: String) {}
    fn presence(&self, _: Uuid, _: String, _: bool) {}
    fn logged_out(&self, _: [u8; 32]) {}
    fn reactions(&self, _: Uuid, _: Uuid, _: Vec<Reaction>, _: i32) {}
    fn unread_changed(&self, _: Uuid, _: String, _: Uuid) {}
}
