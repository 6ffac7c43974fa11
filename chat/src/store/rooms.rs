//! The `chatrooms` and `chatroom_members` tables.

use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Store, StoreError};

/// A chat room, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Chatroom {
    /// Its id.
    pub(crate) id: Uuid,
    /// Unique regardless of case.
    pub(crate) name: String,
    /// The user who created it.
    pub(crate) created_by: Uuid,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
}

impl Chatroom {
    pub(super) fn from_row(row: &Row) -> Self {
        Self { id: row.get(0), name: row.get(1), created_by: row.get(2), created_at: row.get(3) }
    }
}

/// Whether a user may read and write a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// No such room.
    NoRoom,
    /// The room exists; the user has not joined it.
    Outsider,
    /// The user has joined the room.
    Member,
}

impl Store {
    /// Creates a room with its creator as a member, atomically; a taken name is a unique violation.
    pub(crate) async fn create_room(
        &self,
        name: &str,
        creator: Uuid,
    ) -> Result<Chatroom, StoreError> {
        let mut client = self.client().await?;
        let insert_room = client
            .prepare_cached(
                "INSERT INTO chatrooms (id, name, created_by) VALUES ($1, $2, $3)
                 RETURNING id, name, created_by, created_at",
            )
            .await?;
        let insert_member = client
            .prepare_cached("INSERT INTO chatroom_members (chatroom_id, user_id) VALUES ($1, $2)")
            .await?;
        let tx = client.transaction().await?;
        let row = tx.query_one(&insert_room, &[&Uuid::now_v7(), &name, &creator]).await?;
        let room = Chatroom::from_row(&row);
        tx.execute(&insert_member, &[&room.id, &creator]).await?;
        tx.commit().await?;
        Ok(room)
    }

    /// Makes `user` a member of `room`; false when there is no such room.
    pub(crate) async fn join_room(&self, room: Uuid, user: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH room AS (SELECT id FROM chatrooms WHERE id = $1),
                      joined AS (INSERT INTO chatroom_members (chatroom_id, user_id)
                                 SELECT id, $2 FROM room ON CONFLICT DO NOTHING
                                 RETURNING chatroom_id),
                      -- A newcomer starts with everything before them read.
                      marked AS (INSERT INTO read_markers (user_id, chatroom_id, read_at)
                                 SELECT $2, chatroom_id,
                                        coalesce((SELECT max(created_at) FROM messages
                                                  WHERE chatroom_id = $1), '-infinity')
                                 FROM joined ON CONFLICT DO NOTHING)
                 SELECT count(*) FROM room",
            )
            .await?;
        let found: i64 = client.query_one(&statement, &[&room, &user]).await?.get(0);
        Ok(found > 0)
    }

    /// Whether `room` exists and `user` has joined it.
    pub(crate) async fn membership(
        &self,
        room: Uuid,
        user: Uuid,
    ) -> Result<Membership, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM chatroom_members m
                                WHERE m.chatroom_id = c.id AND m.user_id = $2)
                 FROM chatrooms c WHERE c.id = $1",
            )
            .await?;
        Ok(match client.query_opt(&statement, &[&room, &user]).await? {
            None => Membership::NoRoom,
            Some(row) if row.get::<_, bool>(0) => Membership::Member,
            Some(_) => Membership::Outsider,
        })
    }
}
