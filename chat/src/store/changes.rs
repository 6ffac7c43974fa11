//! Edits and deletions: each one transaction that checks who may make it,
//! changes the message's row and takes a place in the room's chain (a row
//! of kind `edit` or `delete`), under the room's advisory lock like the
//! room writer's careful insert.

use protocol::{MessageDeletion, MessageEdit, Sealed};
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::append::room_lock_key;
use super::log::LogEntry;
use super::{Store, StoreError};

/// How often a change is tried when another instance's writer takes its
/// place in the chain first.
const ATTEMPTS: usize = 3;

/// What a change does to its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Its author gives it a new text (trimmed and checked), which mentions
    /// `mentions`; in an encrypted room, sealed (`content` is then empty).
    Edit {
        /// The new text.
        content: String,
        /// The users its `@names` mention, as stored.
        mentions: Vec<String>,
        /// The new text sealed, in an encrypted room.
        encrypted: Option<Box<Sealed>>,
    },
    /// Its author or the room's owner deletes it.
    Delete,
}

/// A change to make, as the room writer hands it to the store.
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    /// The change's own id (its row in the room's log).
    pub(crate) id: Uuid,
    /// The room.
    pub(crate) chatroom_id: Uuid,
    /// The message changed.
    pub(crate) target: Uuid,
    /// Who makes the change.
    pub(crate) user_id: Uuid,
    /// Their name.
    pub(crate) username: String,
    /// What it does.
    pub(crate) change: Change,
    /// Its provisional time; the change is placed after the room's newest entry.
    pub(crate) stamp: OffsetDateTime,
}

/// What became of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Changed {
    /// Made: `entry` follows `previous` in the room's order.
    Logged {
        /// The edit or deletion.
        entry: LogEntry,
        /// The time of the room's entry before it.
        previous: Option<OffsetDateTime>,
    },
    /// A deletion of a message deleted already: nothing to do.
    AlreadyDeleted,
    /// No such message in the room (or, for an edit, it was deleted).
    NotFound,
    /// The user may not: the sentence says why.
    Forbidden(&'static str),
    /// An edit of an encrypted room's message that is not sealed at the
    /// room's current epoch (or the room waits for a new key).
    StaleEpoch,
    /// Plain text for an encrypted room's message, or sealed text for a
    /// plain room's.
    WrongSealing,
}

/// The message, its author, the room's owner, whether it is a tombstone,
/// and the author of the message it replies to (when that is someone else).
const TARGET: &str = "SELECT m.user_id, c.created_by, m.deleted,
        (SELECT r.username FROM messages r
         WHERE r.id = m.reply_to AND r.user_id <> m.user_id AND NOT r.is_bot),
        c.encrypted, CASE WHEN NOT c.rotation_needed THEN c.epoch END
    FROM messages m JOIN chatrooms c ON c.id = m.chatroom_id
    WHERE m.id = $1 AND m.chatroom_id = $2 AND m.kind = 'message'
    FOR UPDATE OF m";

const LOG_ROW: &str = "INSERT INTO messages
        (id, chatroom_id, user_id, username, content, is_bot, created_at, previous_at, kind,
         target_id)
    VALUES ($1, $2, $3, $4, '', false, $5, coalesce($6::timestamptz, '-infinity'), $7, $8)";

const EDIT: &str = "UPDATE messages SET content = $2, mentions = $3, edited_at = $4, encrypted = $5
    WHERE id = $1";

/// A search row for the new text; the indexer may not have made one yet.
const REINDEX: &str = "INSERT INTO message_words (message_id, chatroom_id, words)
    SELECT id, chatroom_id, to_tsvector('chat_words', content)
    FROM messages WHERE id = $1
    ON CONFLICT (message_id) DO UPDATE SET words = EXCLUDED.words";

/// The message's files (their chunks go with them), reactions and words (an
/// empty row stays, so that the indexer, late with the old text, adds none).
const FORGET: [&str; 3] = [
    "DELETE FROM attachments WHERE id IN (
         SELECT (file ->> 'id')::uuid
         FROM messages m CROSS JOIN LATERAL jsonb_array_elements(m.attachments) file
         WHERE m.id = $1)",
    "DELETE FROM reactions WHERE message_id = $1",
    "INSERT INTO message_words (message_id, chatroom_id, words)
     SELECT id, chatroom_id, ''::tsvector FROM messages WHERE id = $1
     ON CONFLICT (message_id) DO UPDATE SET words = EXCLUDED.words",
];

const TOMBSTONE: &str = "UPDATE messages
    SET content = '', mentions = NULL, attachments = NULL, encrypted = NULL, reaction_version = 0,
        deleted = true
    WHERE id = $1";

impl Store {
    /// Makes `change` if its user may, as the next entry of its room's log.
    pub(crate) async fn change_message(&self, change: &NewChange) -> Result<Changed, StoreError> {
        let mut attempt = 1;
        loop {
            match self.try_change(change).await {
                Err(error) if error.is_unique_violation() && attempt < ATTEMPTS => attempt += 1,
                done => return done,
            }
        }
    }

    async fn try_change(&self, new: &NewChange) -> Result<Changed, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let (high, low) = room_lock_key(new.chatroom_id);
        transaction.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&high, &low]).await?;
        let target = transaction.prepare_cached(TARGET).await?;
        let Some(row) = transaction.query_opt(&target, &[&new.target, &new.chatroom_id]).await?
        else {
            return Ok(Changed::NotFound);
        };
        let (author, owner, deleted): (Uuid, Uuid, bool) = (row.get(0), row.get(1), row.get(2));
        let replied_author: Option<String> = row.get(3);
        let (room_encrypted, accepting): (bool, Option<i32>) = (row.get(4), row.get(5));
        match &new.change {
            Change::Edit { .. } if deleted => return Ok(Changed::NotFound),
            Change::Edit { .. } if author != new.user_id => {
                return Ok(Changed::Forbidden("only its author can edit a message"));
            }
            Change::Delete if deleted => return Ok(Changed::AlreadyDeleted),
            Change::Delete if author != new.user_id && owner != new.user_id => {
                return Ok(Changed::Forbidden(
                    "only its author or the room's owner can delete a message",
                ));
            }
            _ => {}
        }
        if let Change::Edit { encrypted, .. } = &new.change {
            match (room_encrypted, encrypted) {
                (false, None) => {}
                (true, Some(sealed)) => {
                    if accepting.and_then(|epoch| u32::try_from(epoch).ok()) != Some(sealed.epoch) {
                        return Ok(Changed::StaleEpoch);
                    }
                }
                _ => return Ok(Changed::WrongSealing),
            }
        }
        let last = transaction
            .query_one(
                "SELECT max(created_at) FROM messages WHERE chatroom_id = $1",
                &[&new.chatroom_id],
            )
            .await?;
        let previous: Option<OffsetDateTime> = last.get(0);
        let at = previous.map_or(new.stamp, |last| new.stamp.max(last + Duration::microseconds(1)));
        let kind = match new.change {
            Change::Edit { .. } => "edit",
            Change::Delete => "delete",
        };
        let log_row = transaction.prepare_cached(LOG_ROW).await?;
        let params: [&(dyn ToSql + Sync); 8] = [
            &new.id,
            &new.chatroom_id,
            &new.user_id,
            &new.username,
            &at,
            &previous,
            &kind,
            &new.target,
        ];
        transaction.execute(&log_row, &params).await?;
        let entry = match &new.change {
            Change::Edit { content, mentions, encrypted } => {
                let mut mentions = mentions.clone();
                if let Some(name) = replied_author
                    && !mentions.iter().any(|m| m.eq_ignore_ascii_case(&name))
                {
                    mentions.push(name);
                }
                let stored_mentions = (!mentions.is_empty()).then_some(&mentions);
                let edit = transaction.prepare_cached(EDIT).await?;
                let sealed = encrypted.as_deref().map(Json);
                transaction
                    .execute(&edit, &[&new.target, content, &stored_mentions, &at, &sealed])
                    .await?;
                let reindex = transaction.prepare_cached(REINDEX).await?;
                transaction.execute(&reindex, &[&new.target]).await?;
                LogEntry::Edited(MessageEdit {
                    message_id: new.target,
                    chatroom_id: new.chatroom_id,
                    content: content.clone(),
                    mentions,
                    edited_at: at,
                    encrypted: encrypted.clone(),
                })
            }
            Change::Delete => {
                for sql in FORGET {
                    let statement = transaction.prepare_cached(sql).await?;
                    transaction.execute(&statement, &[&new.target]).await?;
                }
                let tombstone = transaction.prepare_cached(TOMBSTONE).await?;
                transaction.execute(&tombstone, &[&new.target]).await?;
                let deletion =
                    MessageDeletion { message_id: new.target, chatroom_id: new.chatroom_id };
                LogEntry::Deleted { deletion, at }
            }
        };
        transaction.commit().await?;
        Ok(Changed::Logged { entry, previous })
    }
}
