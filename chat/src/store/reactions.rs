//! Reactions: toggled one message at a time, read whole.

use protocol::{Message, Reaction};
use uuid::Uuid;

use super::{Store, StoreError};

/// The most distinct emoji one user may put on one message.
pub(crate) const MAX_EMOJI_PER_USER: i64 = 20;
/// The most distinct emoji on one message, from all its users together: its
/// reaction state, sent whole to the room with every change, stays bounded.
pub(crate) const MAX_EMOJI_PER_MESSAGE: i64 = 50;

/// What a reaction change ended in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Toggled {
    /// Applied (or already so): the message's whole state after change
    /// number `version`.
    Changed {
        /// Emoji in order of first use.
        reactions: Vec<Reaction>,
        /// Counts the message's reaction changes; higher is newer.
        version: i32,
    },
    /// No such message in the room.
    NoMessage,
    /// The user has [`MAX_EMOJI_PER_USER`] other emoji on the message.
    TooMany,
    /// The message has [`MAX_EMOJI_PER_MESSAGE`] other emoji.
    MessageFull,
}

/// A reaction change asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Toggle<'a> {
    /// The room the message must be in.
    pub(crate) room: Uuid,
    /// The message.
    pub(crate) message_id: Uuid,
    /// Who reacts.
    pub(crate) user_id: Uuid,
    /// Their name, as shown.
    pub(crate) username: &'a str,
    /// The emoji (checked by the caller).
    pub(crate) emoji: &'a str,
    /// Add (true) or remove.
    pub(crate) on: bool,
}

const STATE: &str = "SELECT message_id, emoji, array_agg(username ORDER BY reacted_at, username)
     FROM reactions WHERE message_id = ANY($1)
     GROUP BY message_id, emoji ORDER BY message_id, min(reacted_at), emoji";

impl Store {
    /// Applies `toggle` in one transaction and returns the message's state.
    pub(crate) async fn toggle_reaction(&self, toggle: Toggle<'_>) -> Result<Toggled, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let bump = tx
            .prepare_cached(
                "UPDATE messages SET reaction_version = reaction_version + 1
                 WHERE id = $1 AND chatroom_id = $2 AND kind = 'message' AND NOT deleted
                 RETURNING reaction_version",
            )
            .await?;
        let Some(row) = tx.query_opt(&bump, &[&toggle.message_id, &toggle.room]).await? else {
            return Ok(Toggled::NoMessage);
        };
        let version: i32 = row.get(0);
        let (message, user, emoji) = (&toggle.message_id, &toggle.user_id, &toggle.emoji);
        if toggle.on {
            // The message's row is locked by the bump above: these counts
            // hold until the commit.
            let others = tx
                .prepare_cached(
                    "SELECT count(*) FILTER (WHERE user_id = $2 AND emoji <> $3),
                            coalesce(bool_or(user_id = $2 AND emoji = $3), false),
                            count(DISTINCT emoji) FILTER (WHERE emoji <> $3),
                            coalesce(bool_or(emoji = $3), false)
                     FROM reactions WHERE message_id = $1",
                )
                .await?;
            let row = tx.query_one(&others, &[message, user, emoji]).await?;
            let (mine, has, all, used): (i64, bool, i64, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if !has && mine >= MAX_EMOJI_PER_USER {
                return Ok(Toggled::TooMany);
            }
            if !used && all >= MAX_EMOJI_PER_MESSAGE {
                return Ok(Toggled::MessageFull);
            }
            let insert = tx
                .prepare_cached(
                    "INSERT INTO reactions (message_id, user_id, username, emoji)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(&insert, &[message, user, &toggle.username, emoji]).await?;
        } else {
            let delete = tx
                .prepare_cached(
                    "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
                )
                .await?;
            tx.execute(&delete, &[message, user, emoji]).await?;
        }
        let state = tx.prepare_cached(STATE).await?;
        let rows = tx.query(&state, &[&[toggle.message_id].as_slice()]).await?;
        tx.commit().await?;
        let reactions = rows.iter().map(reaction_of).collect();
        Ok(Toggled::Changed { reactions, version })
    }

    /// Fills in the reactions of `messages` that have any (one query, none
    /// when no message was ever reacted to); `reacted` says which.
    pub(crate) async fn fill_reactions(
        &self,
        messages: &mut [Message],
        reacted: &[bool],
    ) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = messages
            .iter()
            .zip(reacted)
            .filter(|(_, reacted)| **reacted)
            .map(|(message, _)| message.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let state = client.prepare_cached(STATE).await?;
        let rows = client.query(&state, &[&ids]).await?;
        for message in messages.iter_mut() {
            message.reactions = rows
                .iter()
                .filter(|row| row.get::<_, Uuid>(0) == message.id)
                .map(reaction_of)
                .collect();
        }
        Ok(())
    }
}

fn reaction_of(row: &tokio_postgres::Row) -> Reaction {
    let users: Vec<String> = row.get(2);
    Reaction { emoji: row.get(1), count: u32::try_from(users.len()).unwrap_or(u32::MAX), users }
}
