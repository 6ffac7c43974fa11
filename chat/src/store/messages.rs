//! Reading the `messages` table: the history window, a message and its
//! neighbours, resends.

use protocol::{Attachment, Message, ReplyTo, Sealed};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};

/// Columns of a [`Message`] `m` (and of `r`, the message it replies to),
/// in the order `message_from_row` reads them; read from [`MESSAGES`].
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.chatroom_id, m.user_id, m.username, m.content, \
     m.is_bot, m.created_at, m.client_id, m.attachments, m.reaction_version, m.mentions, \
     m.edited_at, m.deleted, m.reply_to, r.username AS reply_username, \
     CASE WHEN r.deleted THEN '' ELSE left(r.content, 100) END AS reply_excerpt, m.encrypted";
/// How many columns [`MESSAGE_COLUMNS`] names.
pub(super) const MESSAGE_COLUMN_COUNT: usize = 17;
/// Messages `m`, each with the message it replies to (`r`).
pub(super) const MESSAGES: &str = "messages m LEFT JOIN messages r ON r.id = m.reply_to";

/// Where a page of history ends (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Before {
    /// Older than this message of the room.
    Message(Uuid),
    /// Strictly older than this time.
    Time(OffsetDateTime),
}

pub(super) fn message_from_row(row: &Row) -> Message {
    Message {
        id: row.get(0),
        chatroom_id: row.get(1),
        user_id: row.get(2),
        username: row.get(3),
        content: row.get(4),
        is_bot: row.get(5),
        created_at: row.get(6),
        client_id: row.get(7),
        attachments: row
            .get::<_, Option<Json<Vec<Attachment>>>>(8)
            .map(|Json(attachments)| attachments)
            .unwrap_or_default(),
        reactions: Vec::new(),
        mentions: row.get::<_, Option<Vec<String>>>(10).unwrap_or_default(),
        edited_at: row.get(11),
        deleted: row.get(12),
        reply_to: row.get::<_, Option<Uuid>>(13).map(|id| {
            Box::new(ReplyTo {
                id,
                username: row.get::<_, Option<String>>(14).unwrap_or_default(),
                excerpt: row.get::<_, Option<String>>(15).unwrap_or_default(),
            })
        }),
        encrypted: row.get::<_, Option<Json<Sealed>>>(16).map(|Json(sealed)| Box::new(sealed)),
    }
}

impl Store {
    /// The messages of `rows` (read with [`MESSAGE_COLUMNS`]), with their
    /// reactions.
    pub(super) async fn messages_from_rows(
        &self,
        rows: &[Row],
    ) -> Result<Vec<Message>, StoreError> {
        let mut messages: Vec<Message> = rows.iter().map(message_from_row).collect();
        let reacted: Vec<bool> = rows.iter().map(|row| row.get::<_, i32>(9) > 0).collect();
        self.fill_reactions(&mut messages, &reacted).await?;
        Ok(messages)
    }

    /// The time of the newest message of each of `rooms` that exist (`None`
    /// for a room with no message yet).
    pub(crate) async fn last_message_times(
        &self,
        rooms: &[Uuid],
    ) -> Result<Vec<(Uuid, Option<OffsetDateTime>)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT c.id, (SELECT max(m.created_at) FROM messages m WHERE m.chatroom_id = c.id)
                 FROM chatrooms c WHERE c.id = ANY($1)",
            )
            .await?;
        let rows = client.query(&statement, &[&rooms]).await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// The stored message a user already sent with `client_id` in `room`.
    pub(crate) async fn message_by_client_id(
        &self,
        room: Uuid,
        user: Uuid,
        client_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                 WHERE m.chatroom_id = $1 AND m.user_id = $2 AND m.client_id = $3"
            ))
            .await?;
        Ok(client
            .query_opt(&statement, &[&room, &user, &client_id])
            .await?
            .as_ref()
            .map(message_from_row))
    }

    /// The newest `limit` messages of `room` older than `before`, oldest first.
    /// `None` when `before` names a message that is not in the room.
    pub(crate) async fn recent_messages(
        &self,
        room: Uuid,
        limit: i64,
        before: Option<Before>,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.client().await?;
        // Times are unique within a room, so a message anchors a page by its time.
        let end = match before {
            None => None,
            Some(Before::Time(time)) => Some(time),
            Some(Before::Message(id)) => match self.message_time(&client, room, id).await? {
                Some(time) => Some(time),
                None => return Ok(None),
            },
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                                WHERE m.chatroom_id = $1 AND m.kind = 'message'
                                  AND m.created_at < coalesce($3::timestamptz, 'infinity')
                                ORDER BY m.created_at DESC LIMIT $2) page
                 ORDER BY created_at"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &limit, &end]).await?;
        Ok(Some(self.messages_from_rows(&rows).await?))
    }

    /// The messages of `room` around message `anchor`, oldest first: up to
    /// `older` before it, then it and up to `newer - 1` after it. `None` when
    /// `anchor` is not a message of the room.
    pub(crate) async fn messages_around(
        &self,
        room: Uuid,
        anchor: Uuid,
        older: i64,
        newer: i64,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.client().await?;
        let Some(at) = self.message_time(&client, room, anchor).await? else {
            return Ok(None);
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT * FROM (
                     (SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                      WHERE m.chatroom_id = $1 AND m.kind = 'message' AND m.created_at < $2
                      ORDER BY m.created_at DESC LIMIT $3)
                     UNION ALL
                     (SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                      WHERE m.chatroom_id = $1 AND m.kind = 'message' AND m.created_at >= $2
                      ORDER BY m.created_at LIMIT $4)) page
                 ORDER BY created_at"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &at, &older, &newer]).await?;
        Ok(Some(self.messages_from_rows(&rows).await?))
    }

    /// One message of `room` (a tombstone when deleted).
    pub(crate) async fn message_in(
        &self,
        room: Uuid,
        id: Uuid,
    ) -> Result<Option<Message>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES}
                 WHERE m.id = $1 AND m.chatroom_id = $2 AND m.kind = 'message'"
            ))
            .await?;
        let rows = client.query(&statement, &[&id, &room]).await?;
        Ok(self.messages_from_rows(&rows).await?.pop())
    }

    /// The time of message `id` of `room`: where it is in the room's order.
    pub(super) async fn message_time(
        &self,
        client: &deadpool_postgres::Object,
        room: Uuid,
        id: Uuid,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let statement = client
            .prepare_cached(
                "SELECT created_at FROM messages WHERE id = $1 AND chatroom_id = $2 AND kind = 'message'",
            )
            .await?;
        Ok(client.query_opt(&statement, &[&id, &room]).await?.map(|row| row.get(0)))
    }
}
