//! The `chatrooms` table, and who may see a room.

use protocol::{Chatroom, RoomKind};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Store, StoreError};

/// The columns of a [`Chatroom`] as the user `$viewer` sees it (`c` is the
/// room): its direct room's `peer` is the other member's name.
pub(super) fn room_columns(viewer: &str) -> String {
    format!(
        "c.id, c.name, c.created_by, c.created_at, c.private, c.encrypted, c.kind,
         CASE WHEN c.kind = 'direct' THEN
             (SELECT u.username FROM users u
              WHERE u.id = CASE WHEN c.direct_pair[1] = {viewer}
                                THEN c.direct_pair[2] ELSE c.direct_pair[1] END)
         END,
         c.epoch"
    )
}

/// How many columns [`room_columns`] reads.
pub(super) const ROOM_COLUMNS: usize = 9;

/// The room of a row that starts with [`room_columns`].
pub(super) fn room_from_row(row: &Row) -> Chatroom {
    Chatroom {
        id: row.get(0),
        name: row.get(1),
        created_by: row.get(2),
        created_at: row.get(3),
        private: row.get(4),
        encrypted: row.get(5),
        kind: RoomKind::parse(row.get(6)),
        peer: row.get(7),
        epoch: row.get::<_, Option<i32>>(8).and_then(|epoch| u32::try_from(epoch).ok()),
    }
}

/// Whether a user may read and write a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// No such room, or a private one the user is not in: the same answer,
    /// so that a private room's existence is not revealed.
    NoRoom,
    /// A public room the user has not joined.
    Outsider,
    /// The user is a member.
    Member(Sealing),
}

/// Whether a room's messages are sealed by its members' clients; fixed
/// when the room is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sealing {
    /// Messages are text the server reads.
    Plain,
    /// Messages are ciphertext (see `room_keys`).
    Encrypted,
}

impl Store {
    /// Creates a room with its creator as its first member and owner,
    /// atomically; a public room's taken name is a unique violation. An
    /// encrypted room (always private) starts at epoch 1, with no key until
    /// its creator's client shares one.
    pub(crate) async fn create_room(
        &self,
        name: &str,
        creator: Uuid,
        private: bool,
        sealing: Sealing,
    ) -> Result<Chatroom, StoreError> {
        let mut client = self.client().await?;
        let insert_room = client
            .prepare_cached(&format!(
                "INSERT INTO chatrooms AS c (id, name, created_by, private, encrypted, epoch)
                 VALUES ($1, $2, $3, $4 OR $5, $5, CASE WHEN $5 THEN 1 END)
                 RETURNING {}",
                room_columns("$3")
            ))
            .await?;
        let insert_member = client
            .prepare_cached("INSERT INTO chatroom_members (chatroom_id, user_id) VALUES ($1, $2)")
            .await?;
        let tx = client.transaction().await?;
        let encrypted = sealing == Sealing::Encrypted;
        let row = tx
            .query_one(&insert_room, &[&Uuid::now_v7(), &name, &creator, &private, &encrypted])
            .await?;
        let room = room_from_row(&row);
        tx.execute(&insert_member, &[&room.id, &creator]).await?;
        tx.commit().await?;
        Ok(room)
    }

    /// Makes `user` a member of the public room `room`; false when there is
    /// no such room, or it is private (and `user` not in it already).
    pub(crate) async fn join_room(&self, room: Uuid, user: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH room AS (SELECT c.id FROM chatrooms c WHERE c.id = $1
                                 AND (NOT c.private OR EXISTS (
                                     SELECT 1 FROM chatroom_members m
                                     WHERE m.chatroom_id = c.id AND m.user_id = $2))),
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

    /// Whether `room` exists for `user`, and whether they are in it.
    pub(crate) async fn membership(
        &self,
        room: Uuid,
        user: Uuid,
    ) -> Result<Membership, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM chatroom_members m
                                WHERE m.chatroom_id = c.id AND m.user_id = $2), c.private,
                        c.encrypted
                 FROM chatrooms c WHERE c.id = $1",
            )
            .await?;
        Ok(match client.query_opt(&statement, &[&room, &user]).await? {
            None => Membership::NoRoom,
            Some(row) if row.get::<_, bool>(0) => {
                Membership::Member(if row.get(2) { Sealing::Encrypted } else { Sealing::Plain })
            }
            Some(row) if row.get::<_, bool>(1) => Membership::NoRoom,
            Some(_) => Membership::Outsider,
        })
    }
}
