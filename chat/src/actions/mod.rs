//! Room actions: one method per thing a user does in a room, whichever edge
//! it arrives by. Each validates, persists (a message always through the
//! room writer, so it takes its place in the room's order and is delivered
//! like any other) and publishes the room event; `http` and `ws` only parse
//! the request or frame, call the action and encode its answer. Membership
//! is checked by the edges first (`access`).
//!
//! # Layout
//!
//! - `post`: a typed message (or a reply), or a `/stock=` command for the bot.
//! - `change`: editing and deleting a message.
//! - `react`: an emoji on a message.
//! - `upload`: a file, then its message.
//! - `reading`: joining a room, and moving a member's read marker.
//! - `members`: creating rooms, adding and removing members, direct rooms.

mod change;
mod members;
mod post;
mod react;
mod reading;
mod upload;

use std::sync::Arc;

use protocol::Sealed;
use uuid::Uuid;

pub(crate) use self::members::Made;
pub(crate) use self::upload::{FileUpload, Posted};
use crate::limits::Limiter;
use crate::rooms::{RoomWriter, Rooms};
use crate::stock::StockDesk;
use crate::store::{Store, User};

/// What the actions act on, shared by both edges.
pub(crate) struct RoomActions {
    /// Stores messages, then broadcasts them.
    pub(crate) writer: RoomWriter,
    /// Where events are published.
    pub(crate) rooms: Arc<Rooms>,
    /// Where `/stock=` commands go.
    pub(crate) stock: Arc<dyn StockDesk>,
    /// Reactions, files, read markers, memberships.
    pub(crate) store: Store,
    /// Chat messages (and reactions) per user.
    pub(crate) message_limit: Arc<Limiter<Uuid>>,
    /// Stock commands per user.
    pub(crate) stock_limit: Arc<Limiter<Uuid>>,
    /// Uploads per user.
    pub(crate) upload_limit: Arc<Limiter<Uuid>>,
    /// `MAX_USER_STORAGE_BYTES`.
    pub(crate) storage_quota: u64,
}

/// What a message (or an edit) says: text the server reads, or, in an
/// encrypted room, the text sealed by the sender's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MessageBody {
    /// Text, trimmed and checked by the edge (or untrimmed, for an edit).
    Text(String),
    /// Sealed at an epoch of the room's key, with the encrypted uploads it
    /// shows (never for an edit).
    Sealed {
        /// The sealed text.
        sealed: Box<Sealed>,
        /// Encrypted uploads of the sender's in this room.
        attachment_ids: Vec<Uuid>,
    },
}

/// Who acts: the user as their messages name them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor<'a> {
    /// The user's id.
    pub(crate) id: Uuid,
    /// Their name, as stored.
    pub(crate) username: &'a str,
}

impl<'a> From<&'a User> for Actor<'a> {
    fn from(user: &'a User) -> Self {
        Actor { id: user.id, username: &user.username }
    }
}
