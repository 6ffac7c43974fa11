//! The room events: everything a room's members see happen, whichever
//! instance it happened on.
//!
//! An event made here is published ([`Rooms::publish`]): handed to the
//! other instances and applied locally; one from another instance is only
//! applied. [`Rooms::apply`] is the one place an event becomes frames for a
//! room's sockets, so a new kind of event is a variant here, an arm there,
//! and nothing else (its form between instances is this enum's serde form).
//!
//! [`Rooms::publish`]: super::Rooms::publish
//! [`Rooms::apply`]: super::Rooms::apply

use protocol::{Chatroom, Message, Reaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::LogEntry;

/// Something that happened in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RoomEvent {
    /// A message was stored, after `previous` in its room's order.
    #[serde(rename = "message")]
    Stored {
        /// The message, with its room and its time (the room's order).
        message: Message,
        /// The time of the room's entry before it (`None` for the first).
        #[serde(with = "time::serde::rfc3339::option")]
        previous: Option<OffsetDateTime>,
    },
    /// A message was edited or deleted: an entry of the room's log after
    /// `previous` in its order, like a message.
    Changed {
        /// The edit or deletion, with its room and its time.
        entry: LogEntry,
        /// The time of the room's entry before it (`None` for the first).
        #[serde(with = "time::serde::rfc3339::option")]
        previous: Option<OffsetDateTime>,
    },
    /// A message's reactions changed: its whole state after change `version`.
    Reactions {
        /// The message's room.
        chatroom_id: Uuid,
        /// The message.
        message_id: Uuid,
        /// Emoji in order of first use.
        reactions: Vec<Reaction>,
        /// Higher is newer.
        version: i32,
    },
    /// Someone is typing.
    Typing {
        /// The room.
        chatroom_id: Uuid,
        /// Who (their own sockets are not told).
        user_id: Uuid,
        /// Their name.
        username: String,
    },
    /// Someone became a member of the room.
    MemberAdded {
        /// The room, as the new member sees it.
        chatroom: Chatroom,
        /// The new member.
        user_id: Uuid,
        /// Their name.
        username: String,
        /// Who added them.
        by: String,
    },
    /// Someone is no longer a member: they left, or the owner removed them.
    MemberRemoved {
        /// The room.
        chatroom_id: Uuid,
        /// The former member.
        user_id: Uuid,
        /// Their name.
        username: String,
        /// Who removed them (themself, when they left).
        by: String,
    },
    /// A user came online (or went offline) in a room on the instance where
    /// the event happened.
    Presence {
        /// The room.
        chatroom_id: Uuid,
        /// Who.
        username: String,
        /// Online now.
        online: bool,
    },
}

/// Where an event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// On this instance.
    Here,
    /// On the instance with this id.
    Instance(Uuid),
}

impl RoomEvent {
    /// The room it happened in.
    pub(crate) fn room(&self) -> Uuid {
        match self {
            RoomEvent::Stored { message, .. } => message.chatroom_id,
            RoomEvent::Changed { entry, .. } => entry.room(),
            RoomEvent::MemberAdded { chatroom, .. } => chatroom.id,
            RoomEvent::Reactions { chatroom_id, .. }
            | RoomEvent::MemberRemoved { chatroom_id, .. }
            | RoomEvent::Typing { chatroom_id, .. }
            | RoomEvent::Presence { chatroom_id, .. } => *chatroom_id,
        }
    }

    /// Whether only instances already heard from need it. A stored entry
    /// is read back from PostgreSQL by an instance that starts later, and
    /// typing is momentary; a reaction state, a membership or a presence
    /// change is never read back, so it goes out even before any other
    /// instance is known.
    pub(crate) fn only_for_known_instances(&self) -> bool {
        matches!(
            self,
            RoomEvent::Stored { .. } | RoomEvent::Changed { .. } | RoomEvent::Typing { .. }
        )
    }
}
