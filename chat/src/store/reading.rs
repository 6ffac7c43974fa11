//! Read markers, and what each member has not read: unread messages by
//! others after the marker (at most [`MAX_UNREAD`]) and how many of those
//! mention them.

use protocol::Chatroom;
use serde::Serialize;
use uuid::Uuid;

use super::rooms::{ROOM_COLUMNS, room_columns, room_from_row};
use super::{Store, StoreError};

/// Unread counts stop here: "999+" is all a badge needs, and counting stops
/// early in a room someone has not opened for a long time.
pub(crate) const MAX_UNREAD: i64 = 999;

/// A room as `GET /chatrooms` shows it to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RoomListing {
    /// The room.
    #[serde(flatten)]
    pub(crate) room: Chatroom,
    /// Whether the user has joined it.
    pub(crate) is_member: bool,
    /// Messages by others after the user's marker (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unread: Option<i64>,
    /// How many of those mention the user (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mentions: Option<i64>,
}

/// What one member has not read in one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unread {
    /// Messages by others after the marker, at most [`MAX_UNREAD`].
    pub(crate) unread: i64,
    /// How many of those mention the member.
    pub(crate) mentions: i64,
}

/// The unread figures of member `$1` (named `$2`) in room `c.id`, after
/// marker `r.read_at`: two columns, unread and mentions.
fn unread_query() -> String {
    format!(
        "SELECT count(*), count(*) FILTER (WHERE $2 = ANY(s.mentions))
         FROM (SELECT x.mentions FROM messages x
               WHERE x.chatroom_id = c.id AND x.created_at > coalesce(r.read_at, '-infinity')
                 AND x.user_id <> $1 AND x.kind = 'message' AND NOT x.deleted
               ORDER BY x.created_at LIMIT {MAX_UNREAD}) s"
    )
}

/// How a read marker move ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marked {
    /// Moved forward, or already there or further.
    Done,
    /// The message is not in the room.
    NoMessage,
}

impl Store {
    /// Every public room and every private room `user` (named `username`)
    /// is in, oldest first, as they see it.
    pub(crate) async fn rooms_for(
        &self,
        user: Uuid,
        username: &str,
    ) -> Result<Vec<RoomListing>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {}, m.user_id IS NOT NULL, u.count, u.mentions
                 FROM chatrooms c
                 LEFT JOIN chatroom_members m ON m.chatroom_id = c.id AND m.user_id = $1
                 LEFT JOIN read_markers r ON r.chatroom_id = c.id AND r.user_id = $1
                 LEFT JOIN LATERAL ({}) u (count, mentions) ON m.user_id IS NOT NULL
                 WHERE NOT c.private OR m.user_id IS NOT NULL
                 ORDER BY c.created_at, c.id",
                room_columns("$1"),
                unread_query()
            ))
            .await?;
        let rows = client.query(&statement, &[&user, &username]).await?;
        Ok(rows
            .iter()
            .map(|row| RoomListing {
                room: room_from_row(row),
                is_member: row.get(ROOM_COLUMNS),
                unread: row.get(ROOM_COLUMNS + 1),
                mentions: row.get(ROOM_COLUMNS + 2),
            })
            .collect())
    }

    /// What `user` (named `username`) has not read in `room`.
    pub(crate) async fn unread_in(
        &self,
        room: Uuid,
        user: Uuid,
        username: &str,
    ) -> Result<Unread, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT u.* FROM chatrooms c
                 LEFT JOIN read_markers r ON r.chatroom_id = c.id AND r.user_id = $1
                 CROSS JOIN LATERAL ({}) u
                 WHERE c.id = $3",
                unread_query()
            ))
            .await?;
        let row = client.query_one(&statement, &[&user, &username, &room]).await?;
        Ok(Unread { unread: row.get(0), mentions: row.get(1) })
    }

    /// Moves `user`'s marker in `room` forward to `message` (never back).
    pub(crate) async fn mark_read(
        &self,
        room: Uuid,
        user: Uuid,
        message: Uuid,
    ) -> Result<Marked, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH read AS (SELECT created_at FROM messages WHERE id = $3 AND chatroom_id = $1),
                      marked AS (
                          INSERT INTO read_markers (user_id, chatroom_id, read_at)
                          SELECT $2, $1, created_at FROM read
                          ON CONFLICT (user_id, chatroom_id) DO UPDATE
                          SET read_at = greatest(read_markers.read_at, EXCLUDED.read_at))
                 SELECT count(*) FROM read",
            )
            .await?;
        let found: i64 = client.query_one(&statement, &[&room, &user, &message]).await?.get(0);
        Ok(if found > 0 { Marked::Done } else { Marked::NoMessage })
    }
}
