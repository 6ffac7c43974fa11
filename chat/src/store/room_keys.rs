//! The keys of encrypted rooms: which epoch is current, whether a member's
//! departure calls for a new one, and the envelopes that carry each epoch's
//! room key to each member, wrapped for their identity key. The server
//! never holds a room key; it only decides who may be sent one.
//!
//! Sharing and rotating take the room's row lock, as membership changes
//! do, so a rotation covers exactly the members of the moment it lands,
//! and of two rotations the first wins.

use std::collections::HashMap;

use time::OffsetDateTime;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::{Store, StoreError};

/// Why a sealed message or edit is refused at its epoch.
pub(crate) const STALE_EPOCH: &str =
    "sealed under a key that is not the room's current one; read the room's keys again";

/// An envelope as its recipient reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The epoch whose key it carries.
    pub(crate) epoch: u32,
    /// Who wrapped it.
    pub(crate) sender: String,
    /// For whom.
    pub(crate) recipient: String,
    /// The sender's ephemeral P-256 point (65 bytes).
    pub(crate) ephemeral_public_key: Vec<u8>,
    /// The room key under AES-KW (40 bytes).
    pub(crate) wrapped_key: Vec<u8>,
    /// When it was stored.
    pub(crate) created_at: OffsetDateTime,
}

/// What a member knows of an encrypted room's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomKeys {
    /// The current epoch.
    pub(crate) epoch: u32,
    /// The envelopes addressed to the member, oldest epoch first.
    pub(crate) envelopes: Vec<Envelope>,
    /// Members without an envelope for the current epoch, longest-standing first.
    pub(crate) missing: Vec<String>,
    /// A member left: nobody sends until someone rotates.
    pub(crate) rotation_needed: bool,
}

/// An envelope on its way in, its fields checked by the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewEnvelope {
    /// The recipient's username (any case).
    pub(crate) recipient: String,
    /// 65 bytes, a P-256 point.
    pub(crate) ephemeral_public_key: Vec<u8>,
    /// 40 bytes.
    pub(crate) wrapped_key: Vec<u8>,
}

/// What sharing envelopes came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shared {
    /// At the current epoch: `added` members received one (those holding
    /// one already kept theirs).
    Added {
        /// The current epoch.
        epoch: u32,
        /// How many envelopes were new.
        added: u64,
    },
    /// A new epoch began, its key shared with every member.
    Rotated {
        /// The new epoch.
        epoch: u32,
    },
    /// The room is not encrypted, or the sender no longer in it.
    NotHere,
    /// These recipients are not members.
    Strangers(Vec<String>),
    /// A rotation that leaves these members out.
    Incomplete(Vec<String>),
    /// Neither the current epoch nor the next, or a rotation to the
    /// current one that another member made first.
    Stale,
}

/// Whether an encrypted room takes messages sealed at an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepting {
    /// Messages at this epoch.
    Epoch(u32),
    /// None until a member rotates.
    NothingUntilRotated,
}

const ENVELOPES_OF: &str = "SELECT e.epoch, s.username, r.username, e.ephemeral_public_key,
        e.wrapped_key, e.created_at
    FROM room_key_envelopes e
    JOIN users s ON s.id = e.sender_id
    JOIN users r ON r.id = e.recipient_id
    WHERE e.chatroom_id = $1 AND e.recipient_id = $2
    ORDER BY e.epoch";

const MISSING: &str = "SELECT u.username FROM chatroom_members m JOIN users u ON u.id = m.user_id
    WHERE m.chatroom_id = $1 AND NOT EXISTS (
        SELECT 1 FROM room_key_envelopes e
        WHERE e.chatroom_id = $1 AND e.recipient_id = m.user_id AND e.epoch = $2)
    ORDER BY m.joined_at, m.user_id";

const INSERT_ENVELOPES: &str = "INSERT INTO room_key_envelopes
        (chatroom_id, recipient_id, epoch, sender_id, ephemeral_public_key, wrapped_key)
    SELECT $1, recipient, $2, $3, ephemeral, wrapped
    FROM UNNEST($4::uuid[], $5::bytea[], $6::bytea[]) AS n (recipient, ephemeral, wrapped)
    ON CONFLICT DO NOTHING";

fn epoch_of(stored: i32) -> u32 {
    u32::try_from(stored).unwrap_or(0)
}

impl Store {
    /// `user`'s view of `room`'s keys; `None` when the room is not encrypted.
    pub(crate) async fn room_keys(
        &self,
        room: Uuid,
        user: Uuid,
    ) -> Result<Option<RoomKeys>, StoreError> {
        let mut client = self.client().await?;
        // One snapshot: `missing` and `epoch` agree.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let state = tx
            .query_opt(
                "SELECT epoch, rotation_needed FROM chatrooms WHERE id = $1 AND encrypted",
                &[&room],
            )
            .await?;
        let Some(state) = state else { return Ok(None) };
        let epoch: i32 = state.get(0);
        let envelopes = tx
            .query(ENVELOPES_OF, &[&room, &user])
            .await?
            .iter()
            .map(|row| Envelope {
                epoch: epoch_of(row.get(0)),
                sender: row.get(1),
                recipient: row.get(2),
                ephemeral_public_key: row.get(3),
                wrapped_key: row.get(4),
                created_at: row.get(5),
            })
            .collect();
        let missing = tx.query(MISSING, &[&room, &epoch]).await?.iter().map(|r| r.get(0)).collect();
        tx.commit().await?;
        Ok(Some(RoomKeys {
            epoch: epoch_of(epoch),
            envelopes,
            missing,
            rotation_needed: state.get(1),
        }))
    }

    /// Stores `envelopes` from `sender` for `room` at `epoch`: at the
    /// current epoch for members lacking one, or at the next as a rotation
    /// that must reach every member.
    pub(crate) async fn share_room_key(
        &self,
        room: Uuid,
        sender: Uuid,
        epoch: u32,
        envelopes: &[NewEnvelope],
    ) -> Result<Shared, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let state = tx
            .query_opt(
                "SELECT c.epoch, EXISTS (SELECT 1 FROM chatroom_members m
                                         WHERE m.chatroom_id = c.id AND m.user_id = $2)
                 FROM chatrooms c WHERE c.id = $1 AND c.encrypted FOR UPDATE",
                &[&room, &sender],
            )
            .await?;
        let Some(state) = state else { return Ok(Shared::NotHere) };
        if !state.get::<_, bool>(1) {
            return Ok(Shared::NotHere);
        }
        let current = epoch_of(state.get(0));
        let members: HashMap<String, (Uuid, String)> = tx
            .query(
                "SELECT m.user_id, u.username FROM chatroom_members m
                 JOIN users u ON u.id = m.user_id WHERE m.chatroom_id = $1",
                &[&room],
            )
            .await?
            .iter()
            .map(|row| {
                let name: String = row.get(1);
                (name.to_lowercase(), (row.get(0), name))
            })
            .collect();
        let mut recipients = Vec::with_capacity(envelopes.len());
        let mut strangers = Vec::new();
        for envelope in envelopes {
            match members.get(&envelope.recipient.to_lowercase()) {
                Some((id, _)) => recipients.push(*id),
                None => strangers.push(envelope.recipient.clone()),
            }
        }
        if !strangers.is_empty() {
            return Ok(Shared::Strangers(strangers));
        }
        let covers_everyone = members.values().all(|(id, _)| recipients.contains(id));
        let rotating = epoch == current.saturating_add(1);
        if rotating && !covers_everyone {
            let mut left_out: Vec<String> = members
                .values()
                .filter(|(id, _)| !recipients.contains(id))
                .map(|(_, name)| name.clone())
                .collect();
            left_out.sort_unstable();
            return Ok(Shared::Incomplete(left_out));
        }
        if epoch != current && !rotating {
            return Ok(Shared::Stale);
        }
        let stored_epoch = i32::try_from(epoch).unwrap_or(i32::MAX);
        if !rotating && covers_everyone {
            // Envelopes for everyone at the current epoch, some of whom hold
            // one already: a rotation to this epoch that another member made
            // first. Its key is not the room's; the sender must read again.
            let held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM room_key_envelopes
                     WHERE chatroom_id = $1 AND epoch = $2 AND recipient_id = ANY($3)",
                    &[&room, &stored_epoch, &recipients],
                )
                .await?
                .get(0);
            if held > 0 {
                return Ok(Shared::Stale);
            }
        }
        if rotating {
            tx.execute(
                "UPDATE chatrooms SET epoch = $2, rotation_needed = false WHERE id = $1",
                &[&room, &stored_epoch],
            )
            .await?;
        }
        let ephemeral: Vec<&[u8]> =
            envelopes.iter().map(|e| e.ephemeral_public_key.as_slice()).collect();
        let wrapped: Vec<&[u8]> = envelopes.iter().map(|e| e.wrapped_key.as_slice()).collect();
        let added = tx
            .execute(
                INSERT_ENVELOPES,
                &[&room, &stored_epoch, &sender, &recipients, &ephemeral, &wrapped],
            )
            .await?;
        tx.commit().await?;
        Ok(if rotating { Shared::Rotated { epoch } } else { Shared::Added { epoch, added } })
    }

    /// Which epoch each of the encrypted `rooms` takes messages at.
    pub(crate) async fn accepting(
        &self,
        rooms: &[Uuid],
    ) -> Result<HashMap<Uuid, Accepting>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, epoch, rotation_needed FROM chatrooms
                 WHERE id = ANY($1) AND encrypted",
            )
            .await?;
        Ok(client
            .query(&statement, &[&rooms])
            .await?
            .iter()
            .map(|row| {
                let accepting = if row.get(2) {
                    Accepting::NothingUntilRotated
                } else {
                    Accepting::Epoch(epoch_of(row.get(1)))
                };
                (row.get(0), accepting)
            })
            .collect())
    }
}
