//! A chat room, as REST lists it and `/ws/notifications` announces it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A chat room, as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chatroom {
    /// Its id.
    pub id: Uuid,
    /// Unique regardless of case among public rooms.
    pub name: String,
    /// Its owner: the creator, until they leave.
    pub created_by: Uuid,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Invisible to non-members; members are added, never self-joined.
    pub private: bool,
    /// Messages are sealed by the members' clients.
    pub encrypted: bool,
    /// An encrypted room's current key generation, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// A room, or the direct room of two people.
    pub kind: RoomKind,
    /// For a direct room, the other person's name (one's own, in one's notes
    /// to self).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// What a room is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A room anyone may create, with a name.
    Room,
    /// The one private room of two people, with fixed members.
    Direct,
}

impl RoomKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Room => "room",
            RoomKind::Direct => "direct",
        }
    }

    /// The kind a `kind` column names (anything but `direct` is a room).
    pub fn parse(text: &str) -> Self {
        if text == "direct" { RoomKind::Direct } else { RoomKind::Room }
    }
}
