//! A room's log: its messages and the changes made to them (edits and
//! deletions), one chain in the room's order. Replay and gap fills read it
//! whole, so a client that resumes learns of every change it missed,
//! whatever the age of the message changed.

use protocol::{Message, MessageDeletion, MessageEdit, Sealed, ServerFrame};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::messages::{MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS, MESSAGES};
use super::{Store, StoreError};

/// One entry of a room's log, at its place in the room's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LogEntry {
    /// A message was stored (its `created_at` is its place).
    Message(Box<Message>),
    /// A message was edited (its `edited_at` is the edit's place).
    Edited(MessageEdit),
    /// A message was deleted, at `at`.
    Deleted {
        /// The message.
        deletion: MessageDeletion,
        /// The deletion's place in the room's order.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl LogEntry {
    /// Its place in the room's order.
    pub(crate) fn at(&self) -> OffsetDateTime {
        match self {
            LogEntry::Message(message) => message.created_at,
            LogEntry::Edited(edit) => edit.edited_at,
            LogEntry::Deleted { at, .. } => *at,
        }
    }

    /// The room whose log it is in.
    pub(crate) fn room(&self) -> Uuid {
        match self {
            LogEntry::Message(message) => message.chatroom_id,
            LogEntry::Edited(edit) => edit.chatroom_id,
            LogEntry::Deleted { deletion, .. } => deletion.chatroom_id,
        }
    }

    /// The frame that tells a room's members.
    pub(crate) fn into_frame(self) -> ServerFrame {
        match self {
            LogEntry::Message(message) => ServerFrame::ChatMessage(*message),
            LogEntry::Edited(edit) => ServerFrame::MessageEdited(edit),
            LogEntry::Deleted { deletion, .. } => ServerFrame::MessageDeleted(deletion),
        }
    }
}

/// The log's columns: a message's, then the change's kind and target, and
/// the target as it is now (`t`).
fn log_query(after: &str) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS}, m.kind, m.target_id, t.content, t.mentions, t.deleted,
                t.encrypted
         FROM {MESSAGES} LEFT JOIN messages t ON t.id = m.target_id
         WHERE m.chatroom_id = $1 AND m.created_at > {after}
         ORDER BY m.created_at LIMIT $3"
    )
}

impl Store {
    /// Up to `limit` entries of `room`'s log after `time` (all of them when
    /// `None`), oldest first.
    pub(crate) async fn log_since(
        &self,
        room: Uuid,
        time: Option<OffsetDateTime>,
        limit: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let client = self.client().await?;
        let statement =
            client.prepare_cached(&log_query("coalesce($2::timestamptz, '-infinity')")).await?;
        let rows = client.query(&statement, &[&room, &time, &limit]).await?;
        self.entries_from_rows(&rows).await
    }

    /// Up to `limit` entries of `room`'s log after message `after`, oldest
    /// first. `None` when `after` is not a message of the room.
    pub(crate) async fn log_after(
        &self,
        room: Uuid,
        after: Uuid,
        limit: i64,
    ) -> Result<Option<Vec<LogEntry>>, StoreError> {
        let client = self.client().await?;
        let Some(anchor) = self.message_time(&client, room, after).await? else {
            return Ok(None);
        };
        let statement = client.prepare_cached(&log_query("$2")).await?;
        let rows = client.query(&statement, &[&room, &anchor, &limit]).await?;
        Ok(Some(self.entries_from_rows(&rows).await?))
    }

    async fn entries_from_rows(&self, rows: &[Row]) -> Result<Vec<LogEntry>, StoreError> {
        let messages = self.messages_from_rows(rows).await?;
        Ok(rows.iter().zip(messages).map(|(row, message)| entry_of(row, message)).collect())
    }
}

/// The entry a log row is: `message` read from its message columns.
fn entry_of(row: &Row, message: Message) -> LogEntry {
    let column = |n: usize| MESSAGE_COLUMN_COUNT + n;
    let kind: &str = row.get(column(0));
    let target: Option<Uuid> = row.get(column(1));
    let (Some(target), "edit" | "delete") = (target, kind) else {
        return LogEntry::Message(Box::new(message));
    };
    let at = message.created_at;
    let deletion = MessageDeletion { message_id: target, chatroom_id: message.chatroom_id };
    // An edit row holds no text: it tells what the message says now. One
    // whose message was deleted since tells that, as the deletion after it will.
    let target_deleted = row.get::<_, Option<bool>>(column(4)).unwrap_or(true);
    if kind == "delete" || target_deleted {
        return LogEntry::Deleted { deletion, at };
    }
    LogEntry::Edited(MessageEdit {
        message_id: target,
        chatroom_id: message.chatroom_id,
        content: row.get::<_, Option<String>>(column(2)).unwrap_or_default(),
        mentions: row.get::<_, Option<Vec<String>>>(column(3)).unwrap_or_default(),
        edited_at: at,
        encrypted: row
            .get::<_, Option<Json<Sealed>>>(column(5))
            .map(|Json(sealed)| Box::new(sealed)),
    })
}
