//! A stored chat message.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Sealed;

/// Most characters of a message's content (or a file's caption), after trimming.
pub const MAX_CONTENT_CHARS: usize = 1000;

/// The name every bot reply carries; reserved, nobody can register it.
pub const BOT_USERNAME: &str = "StockBot";

/// A message as stored in PostgreSQL and shown over REST and WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// UUIDv7, chosen by the chat instance that stored it.
    pub id: Uuid,
    /// The room the message belongs to.
    pub chatroom_id: Uuid,
    /// The author (the bot's own user for bot replies).
    pub user_id: Uuid,
    /// The author's name at the time of writing.
    pub username: String,
    /// The trimmed text.
    pub content: String,
    /// True for stock bot replies.
    pub is_bot: bool,
    /// When it was stored; strictly increasing in a room's commit order, so
    /// `(created_at, id)` orders a room.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The sender's idempotency key, echoed back so it can match its acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Files posted with the message (`[]` for a plain message).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Who reacted with what, emoji in order of first use (`[]` for none).
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The users `@username` names (whole word, any case), as their names
    /// are stored; `[]` for none.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// When it was last edited (`null` until it is).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub edited_at: Option<OffsetDateTime>,
    /// A tombstone: the message was deleted, and its text, files, mentions
    /// and reactions with it.
    #[serde(default)]
    pub deleted: bool,
    /// The message of the same room this one answers, as it reads now.
    #[serde(default)]
    pub reply_to: Option<Box<ReplyTo>>,
    /// In an encrypted room, the message as its sender sealed it (`content`
    /// is then `""`); `null` in other rooms.
    #[serde(default)]
    pub encrypted: Option<Box<Sealed>>,
}

/// Most characters of the original a reply quotes.
pub const REPLY_EXCERPT_CHARS: usize = 100;

/// The message a reply answers, quoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The original message.
    pub id: Uuid,
    /// Its author.
    pub username: String,
    /// Its first [`REPLY_EXCERPT_CHARS`] characters as it reads now (`""`
    /// once deleted).
    pub excerpt: String,
}

/// A message's new text, after its author edited it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdit {
    /// The message.
    pub message_id: Uuid,
    /// Its room.
    pub chatroom_id: Uuid,
    /// The new text (`""` in an encrypted room).
    pub content: String,
    /// The users the new text mentions.
    pub mentions: Vec<String>,
    /// When it was edited: its place in the room's order.
    #[serde(with = "time::serde::rfc3339")]
    pub edited_at: OffsetDateTime,
    /// In an encrypted room, the new text as its author sealed it.
    #[serde(default)]
    pub encrypted: Option<Box<Sealed>>,
}

/// A message that was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeletion {
    /// The message.
    pub message_id: Uuid,
    /// Its room.
    pub chatroom_id: Uuid,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// One emoji grapheme.
    pub emoji: String,
    /// How many users reacted with it (`users.len()`).
    pub count: u32,
    /// Who, in the order they reacted.
    pub users: Vec<String>,
}

/// A file posted in a room, as its message describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Names the file in `url`.
    pub id: Uuid,
    /// The name it was uploaded with (no path, no control characters).
    pub filename: String,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp` when the bytes
    /// really are that image (then shown inline); otherwise the type the
    /// uploader claimed, and the file is only ever downloaded.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Where members download it: `/api/v1/attachments/{id}`.
    pub url: String,
}

impl Attachment {
    /// The download path of attachment `id`.
    pub fn url_of(id: Uuid) -> String {
        format!("/api/v1/attachments/{id}")
    }
}
