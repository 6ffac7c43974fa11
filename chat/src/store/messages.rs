//! Reading the `messages` table: the history window, replay, gap fills.

use protocol::{Attachment, Message};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};

/// Columns of a [`Message`], in the order `message_from_row` reads them.
pub(super) const MESSAGE_COLUMNS: &str = "id, chatroom_id, user_id, username, content, is_bot, \
     created_at, client_id, attachments, reaction_version, mentions";

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
    }
}

impl Store {
    /// The messages of `rows` (read with [`MESSAGE_COLUMNS`]), with their
    /// reactions.
    async fn messages_from_rows(&self, rows: &[Row]) -> Result<Vec<Message>, StoreError> {
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

    /// Up to `limit` messages of `room` stored after `time` (all of them when
    /// `None`), oldest first.
    pub(crate) async fn messages_since(
        &self,
        room: Uuid,
        time: Option<OffsetDateTime>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND created_at > coalesce($2::timestamptz, '-infinity')
                 ORDER BY created_at LIMIT $3"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &time, &limit]).await?;
        self.messages_from_rows(&rows).await
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
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND user_id = $2 AND client_id = $3"
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
                "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages
                                WHERE chatroom_id = $1 AND created_at < coalesce($3::timestamptz, 'infinity')
                                ORDER BY created_at DESC LIMIT $2) page
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
                     (SELECT {MESSAGE_COLUMNS} FROM messages
                      WHERE chatroom_id = $1 AND created_at < $2
                      ORDER BY created_at DESC LIMIT $3)
                     UNION ALL
                     (SELECT {MESSAGE_COLUMNS} FROM messages
                      WHERE chatroom_id = $1 AND created_at >= $2
                      ORDER BY created_at LIMIT $4)) page
                 ORDER BY created_at"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &at, &older, &newer]).await?;
        Ok(Some(self.messages_from_rows(&rows).await?))
    }

    /// Up to `limit` messages of `room` newer than message `after`, oldest first.
    /// `None` when `after` is not a message of the room.
    pub(crate) async fn messages_after(
        &self,
        room: Uuid,
        after: Uuid,
        limit: i64,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.client().await?;
        let Some(anchor) = self.message_time(&client, room, after).await? else {
            return Ok(None);
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND created_at > $2
                 ORDER BY created_at LIMIT $3"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &anchor, &limit]).await?;
        Ok(Some(self.messages_from_rows(&rows).await?))
    }

    async fn message_time(
        &self,
        client: &deadpool_postgres::Object,
        room: Uuid,
        id: Uuid,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let statement = client
            .prepare_cached("SELECT created_at FROM messages WHERE id = $1 AND chatroom_id = $2")
            .await?;
        Ok(client.query_opt(&statement, &[&id, &room]).await?.map(|row| row.get(0)))
    }
}
