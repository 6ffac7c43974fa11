//! The `chatroom_members` table: who is in a room, adding and removing
//! members, and direct rooms.
//!
//! Every change takes the room's row lock first, so two changes of one room
//! (a removal and the owner leaving, say) happen one after the other.

use protocol::message::BOT_USERNAME;
use protocol::{Chatroom, RoomKind};
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::rooms::{room_columns, room_from_row};
use super::{Store, StoreError};

/// A member of a room, as `GET /chatrooms/{id}/members` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Member {
    /// The user.
    pub(crate) user_id: Uuid,
    /// Their name.
    pub(crate) username: String,
    /// `owner` or `member`.
    pub(crate) role: Role,
    /// When they became a member.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) joined_at: OffsetDateTime,
}

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Removes others; exactly one per room with members.
    Owner,
    /// Adds others, leaves.
    Member,
}

/// Someone a membership change concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    /// Their id.
    pub(crate) id: Uuid,
    /// Their name, as stored.
    pub(crate) username: String,
}

/// What adding a member came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Added {
    /// Now a member; the room as they see it.
    Now(Person, Box<Chatroom>),
    /// A member already.
    Already,
    /// No user has that name.
    NoUser,
    /// Direct rooms keep their two members.
    Direct,
    /// No such room.
    NoRoom,
    /// The room is encrypted and the person has no identity key to receive
    /// its key with; their name.
    NoIdentityKey(String),
}

/// What removing a member came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Removed {
    /// No longer a member.
    Gone(Person),
    /// No user has that name.
    NoUser,
    /// That user is not a member.
    NotMember,
    /// Only the owner removes others.
    Forbidden,
    /// Direct rooms keep their two members.
    Direct,
}

/// What asking for a direct room came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectRoom {
    /// The pair's room, as the asker sees it; `created` when it is new, and
    /// then the other person and the room as they see it.
    Found { room: Box<Chatroom>, created: Option<(Person, Box<Chatroom>)> },
    /// No user has that name.
    NoUser,
}

/// A newcomer starts with everything before them read.
const MARK_ALL_READ: &str = "INSERT INTO read_markers (user_id, chatroom_id, read_at)
     SELECT $2, $1, coalesce((SELECT max(created_at) FROM messages WHERE chatroom_id = $1),
                             '-infinity')
     ON CONFLICT DO NOTHING";

impl Store {
    /// The members of `room`, longest-standing first.
    pub(crate) async fn members(&self, room: Uuid) -> Result<Vec<Member>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT m.user_id, u.username, m.user_id = c.created_by, m.joined_at
                 FROM chatroom_members m
                 JOIN users u ON u.id = m.user_id
                 JOIN chatrooms c ON c.id = m.chatroom_id
                 WHERE m.chatroom_id = $1
                 ORDER BY m.joined_at, m.user_id",
            )
            .await?;
        let rows = client.query(&statement, &[&room]).await?;
        Ok(rows
            .iter()
            .map(|row| Member {
                user_id: row.get(0),
                username: row.get(1),
                role: if row.get(2) { Role::Owner } else { Role::Member },
                joined_at: row.get(3),
            })
            .collect())
    }

    /// Adds the user named `username` to `room`.
    pub(crate) async fn add_member(&self, room: Uuid, username: &str) -> Result<Added, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(locked) = lock_room(&tx, room).await? else { return Ok(Added::NoRoom) };
        if locked.kind == RoomKind::Direct {
            return Ok(Added::Direct);
        }
        let Some(person) = person_named(&tx, username).await? else { return Ok(Added::NoUser) };
        if locked.encrypted
            && tx
                .query_opt("SELECT 1 FROM identity_keys WHERE user_id = $1", &[&person.id])
                .await?
                .is_none()
        {
            return Ok(Added::NoIdentityKey(person.username));
        }
        let inserted = tx
            .execute(
                "INSERT INTO chatroom_members (chatroom_id, user_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&room, &person.id],
            )
            .await?;
        if inserted == 0 {
            return Ok(Added::Already);
        }
        tx.execute(MARK_ALL_READ, &[&room, &person.id]).await?;
        let seen = format!("SELECT {} FROM chatrooms c WHERE c.id = $1", room_columns("$2"));
        let chatroom = room_from_row(&tx.query_one(seen.as_str(), &[&room, &person.id]).await?);
        tx.commit().await?;
        Ok(Added::Now(person, Box::new(chatroom)))
    }

    /// Removes the user named `username` from `room`, as `by` asks: the owner
    /// removes anyone else, anyone removes themself. When the owner leaves,
    /// the longest-standing member becomes owner.
    pub(crate) async fn remove_member(
        &self,
        room: Uuid,
        username: &str,
        by: Uuid,
    ) -> Result<Removed, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(locked) = lock_room(&tx, room).await? else { return Ok(Removed::NotMember) };
        if locked.kind == RoomKind::Direct {
            return Ok(Removed::Direct);
        }
        let Some(person) = person_named(&tx, username).await? else { return Ok(Removed::NoUser) };
        let owner: Uuid =
            tx.query_one("SELECT created_by FROM chatrooms WHERE id = $1", &[&room]).await?.get(0);
        if person.id != by && by != owner {
            return Ok(Removed::Forbidden);
        }
        let deleted = tx
            .execute(
                "DELETE FROM chatroom_members WHERE chatroom_id = $1 AND user_id = $2",
                &[&room, &person.id],
            )
            .await?;
        if deleted == 0 {
            return Ok(Removed::NotMember);
        }
        tx.execute(
            "DELETE FROM read_markers WHERE chatroom_id = $1 AND user_id = $2",
            &[&room, &person.id],
        )
        .await?;
        if locked.encrypted {
            // The current key is known to someone outside now.
            tx.execute("UPDATE chatrooms SET rotation_needed = true WHERE id = $1", &[&room])
                .await?;
        }
        if person.id == owner {
            tx.execute(
                "UPDATE chatrooms SET created_by = m.user_id
                 FROM (SELECT user_id FROM chatroom_members WHERE chatroom_id = $1
                       ORDER BY joined_at, user_id LIMIT 1) m
                 WHERE id = $1",
                &[&room],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Removed::Gone(person))
    }

    /// The direct room of `me` and the user named `username` (either order;
    /// with oneself, one's notes), made on first ask.
    pub(crate) async fn direct_room(
        &self,
        me: Uuid,
        username: &str,
    ) -> Result<DirectRoom, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(peer) = person_named(&tx, username).await? else { return Ok(DirectRoom::NoUser) };
        let pair = if me <= peer.id { [me, peer.id] } else { [peer.id, me] };
        let names: Vec<String> = tx
            .query(
                "SELECT username FROM users WHERE id = ANY($1) ORDER BY lower(username)",
                &[&pair.as_slice()],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let created = tx
            .query_opt(
                "INSERT INTO chatrooms (id, name, created_by, private, kind, direct_pair)
                 VALUES ($1, $2, $3, true, 'direct', $4)
                 ON CONFLICT (direct_pair) WHERE direct_pair IS NOT NULL DO NOTHING
                 RETURNING id",
                &[&Uuid::now_v7(), &names.join(", "), &me, &pair.as_slice()],
            )
            .await?;
        let seen =
            format!("SELECT {} FROM chatrooms c WHERE c.direct_pair = $1", room_columns("$2"));
        let room = room_from_row(&tx.query_one(seen.as_str(), &[&pair.as_slice(), &me]).await?);
        let mut made = None;
        if created.is_some() {
            for member in if me == peer.id { vec![me] } else { vec![me, peer.id] } {
                tx.execute(
                    "INSERT INTO chatroom_members (chatroom_id, user_id) VALUES ($1, $2)",
                    &[&room.id, &member],
                )
                .await?;
                tx.execute(MARK_ALL_READ, &[&room.id, &member]).await?;
            }
            let theirs =
                room_from_row(&tx.query_one(seen.as_str(), &[&pair.as_slice(), &peer.id]).await?);
            made = Some((peer, Box::new(theirs)));
        }
        tx.commit().await?;
        Ok(DirectRoom::Found { room: Box::new(room), created: made })
    }
}

/// What a membership change needs to know of the room it locked.
struct Locked {
    kind: RoomKind,
    encrypted: bool,
}

/// Locks `room`'s row for the transaction; `None` when there is no such room.
async fn lock_room(tx: &Transaction<'_>, room: Uuid) -> Result<Option<Locked>, StoreError> {
    let row = tx
        .query_opt("SELECT kind, encrypted FROM chatrooms WHERE id = $1 FOR UPDATE", &[&room])
        .await?;
    Ok(row.map(|row| Locked { kind: RoomKind::parse(row.get(0)), encrypted: row.get(1) }))
}

/// The person named `username` (any case); the stock bot is nobody's to add.
async fn person_named(tx: &Transaction<'_>, username: &str) -> Result<Option<Person>, StoreError> {
    if username.eq_ignore_ascii_case(BOT_USERNAME) {
        return Ok(None);
    }
    let row = tx
        .query_opt("SELECT id, username FROM users WHERE lower(username) = lower($1)", &[&username])
        .await?;
    Ok(row.map(|row| Person { id: row.get(0), username: row.get(1) }))
}
