//! Files posted in rooms: an upload written chunk by chunk in one
//! transaction that also stores its message, and downloads read a chunk at a
//! time.
//!
//! The message is appended the careful way ([`INSERT_LOCKED`], under the
//! room's advisory lock), so it takes its place in the room's chain like any
//! other writer's; the room writer's next fast insert then finds its head
//! stale and takes the careful way once, as it does when another instance
//! wrote.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use protocol::{Attachment, Message};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::append::{INSERT_LOCKED, room_lock_key};
use super::{Store, StoreError};

/// Bytes per stored chunk: what an upload or a download holds at a time.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Bytes user `$1`'s files take: checked before an upload, and again, exactly,
/// inside it.
const STORAGE_USED: &str =
    "SELECT coalesce(sum(size), 0)::bigint FROM attachments WHERE uploader_id = $1";

/// A file on its way in, with the message that will show it.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// The room it is posted in.
    pub(crate) room: Uuid,
    /// Who posts it.
    pub(crate) user_id: Uuid,
    /// Their name, shown on the message.
    pub(crate) username: String,
    /// The file's name (checked by the caller).
    pub(crate) filename: String,
    /// The message's text; may be empty.
    pub(crate) caption: String,
    /// The users the caption mentions, as their names are stored.
    pub(crate) mentions: Vec<String>,
    /// The sender's idempotency key.
    pub(crate) client_id: Option<String>,
    /// `Content-Length`: the body must be exactly this long.
    pub(crate) size: u64,
    /// Most bytes the uploader may have stored, this file included.
    pub(crate) storage_quota: u64,
}

/// Why an upload stored nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// PostgreSQL failed; the transaction is rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The body ended early or broke off.
    #[error("the upload broke off after {received} of {declared} bytes")]
    Incomplete {
        /// Bytes that arrived.
        received: u64,
        /// `Content-Length`.
        declared: u64,
    },
    /// The uploader's files would exceed their quota.
    #[error("storing {size} more bytes would exceed the quota of {quota}")]
    OverQuota {
        /// This file.
        size: u64,
        /// `MAX_USER_STORAGE_BYTES`.
        quota: u64,
    },
    /// The room is gone.
    #[error("no such room")]
    NoRoom,
}

/// What an upload ended in.
#[derive(Debug)]
pub(crate) enum Uploaded {
    /// Stored, with its message, after `previous` in the room.
    Stored {
        /// The new message.
        message: Message,
        /// The time of the room's message before it.
        previous: Option<OffsetDateTime>,
    },
    /// A resend: the message with this `client_id` stored before.
    Repeat(Message),
}

/// A stored file's description, for serving it.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    /// The room whose members may read it.
    pub(crate) room: Uuid,
    /// The name it was uploaded with.
    pub(crate) filename: String,
    /// What it is served as (see [`Attachment::content_type`]).
    pub(crate) content_type: String,
    /// Bytes.
    pub(crate) size: u64,
    /// SHA-256 of the bytes: the `ETag`.
    pub(crate) sha256: Vec<u8>,
}

impl Store {
    /// Bytes `user`'s files take.
    pub(crate) async fn storage_used(&self, user: Uuid) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(STORAGE_USED).await?;
        let used: i64 = client.query_one(&statement, &[&user]).await?.get(0);
        Ok(u64::try_from(used).unwrap_or(0))
    }

    /// Stores `body` as the file of `upload` and posts its message, all in
    /// one transaction: on any error, nothing is left. `content_type` names
    /// what the file is served as, from its first bytes.
    pub(crate) async fn store_upload<E>(
        &self,
        upload: &Upload,
        body: impl Stream<Item = Result<Bytes, E>>,
        content_type: impl FnOnce(&[u8]) -> String,
    ) -> Result<Uploaded, UploadError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let id = Uuid::now_v7();
        let insert_file = tx
            .prepare_cached(
                "INSERT INTO attachments (id, chatroom_id, uploader_id, filename, content_type, size, sha256)
                 VALUES ($1, $2, $3, $4, '', 0, '')",
            )
            .await
            .map_err(StoreError::from)?;
        let inserted =
            tx.execute(&insert_file, &[&id, &upload.room, &upload.user_id, &upload.filename]).await;
        if let Err(error) = inserted {
            let error = StoreError::from(error);
            return Err(if error.is_foreign_key_violation() {
                UploadError::NoRoom
            } else {
                error.into()
            });
        }
        let insert_chunk = tx
            .prepare_cached(
                "INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES ($1, $2, $3)",
            )
            .await
            .map_err(StoreError::from)?;

        let mut body = std::pin::pin!(body);
        let mut buffer = BytesMut::with_capacity(CHUNK_BYTES);
        let mut hasher = Sha256::new();
        let mut head: Option<Vec<u8>> = None;
        let (mut received, mut seq) = (0u64, 0i32);
        let incomplete = |received| UploadError::Incomplete { received, declared: upload.size };
        loop {
            let frame = body.next().await;
            let end = match frame {
                Some(Ok(bytes)) => {
                    received += bytes.len() as u64;
                    if received > upload.size {
                        return Err(incomplete(received));
                    }
                    hasher.update(&bytes);
                    buffer.extend_from_slice(&bytes);
                    false
                }
                Some(Err(_)) => return Err(incomplete(received)),
                None => true,
            };
            while buffer.len() >= CHUNK_BYTES || (end && !buffer.is_empty()) {
                let take = buffer.len().min(CHUNK_BYTES);
                let chunk = buffer.split_to(take).freeze();
                head.get_or_insert_with(|| chunk[..chunk.len().min(64)].to_vec());
                tx.execute(&insert_chunk, &[&id, &seq, &chunk.as_ref()])
                    .await
                    .map_err(StoreError::from)?;
                seq += 1;
            }
            if end {
                break;
            }
        }
        if received != upload.size {
            return Err(incomplete(received));
        }

        let served_as = content_type(head.as_deref().unwrap_or_default());
        let size = i64::try_from(received).unwrap_or(i64::MAX);
        let sha256 = hasher.finalize().to_vec();
        tx.execute(
            "UPDATE attachments SET content_type = $2, size = $3, sha256 = $4 WHERE id = $1",
            &[&id, &served_as, &size, &sha256],
        )
        .await
        .map_err(StoreError::from)?;

        // The quota, exactly: the uploader's row is locked, so two uploads
        // of one user are counted one after the other.
        tx.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", &[&upload.user_id])
            .await
            .map_err(StoreError::from)?;
        let used: i64 =
            tx.query_one(STORAGE_USED, &[&upload.user_id]).await.map_err(StoreError::from)?.get(0);
        if u64::try_from(used).unwrap_or(u64::MAX) > upload.storage_quota {
            return Err(UploadError::OverQuota { size: received, quota: upload.storage_quota });
        }

        let attachment = Attachment {
            id,
            filename: upload.filename.clone(),
            content_type: served_as,
            size: received,
            url: Attachment::url_of(id),
        };
        let message = Message {
            id: Uuid::now_v7(),
            chatroom_id: upload.room,
            user_id: upload.user_id,
            username: upload.username.clone(),
            content: upload.caption.clone(),
            is_bot: false,
            created_at: OffsetDateTime::now_utc(),
            client_id: upload.client_id.clone(),
            attachments: vec![attachment],
            reactions: Vec::new(),
            mentions: upload.mentions.clone(),
        };
        let mentioned = Some(message.mentions.join(" ")).filter(|names| !names.is_empty());
        let (high, low) = room_lock_key(upload.room);
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&high, &low])
            .await
            .map_err(StoreError::from)?;
        let insert = tx.prepare_cached(INSERT_LOCKED).await.map_err(StoreError::from)?;
        let rows = tx
            .query(
                &insert,
                &[
                    &[message.id].as_slice(),
                    &[message.chatroom_id].as_slice(),
                    &[message.user_id].as_slice(),
                    &[message.username.as_str()].as_slice(),
                    &[message.content.as_str()].as_slice(),
                    &[false].as_slice(),
                    &[message.created_at].as_slice(),
                    &[message.client_id.as_deref()].as_slice(),
                    &[None::<Uuid>].as_slice(),
                    &[mentioned].as_slice(),
                ],
            )
            .await
            .map_err(StoreError::from)?;
        let Some(row) = rows.first() else {
            // Skipped: the client_id was stored meanwhile, or the room is gone.
            drop(tx);
            let repeat = match &upload.client_id {
                Some(key) => self.message_by_client_id(upload.room, upload.user_id, key).await?,
                None => None,
            };
            return repeat.map(Uploaded::Repeat).ok_or(UploadError::NoRoom);
        };
        let (created_at, previous): (OffsetDateTime, Option<OffsetDateTime>) =
            (row.get(1), row.get(2));
        tx.execute(
            "UPDATE messages SET attachments = $2 WHERE id = $1",
            &[&message.id, &Json(&message.attachments)],
        )
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Uploaded::Stored { message: Message { created_at, ..message }, previous })
    }

    /// The description of file `id`, if it exists.
    pub(crate) async fn stored_file(&self, id: Uuid) -> Result<Option<StoredFile>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT chatroom_id, filename, content_type, size, sha256 FROM attachments WHERE id = $1",
            )
            .await?;
        Ok(client.query_opt(&statement, &[&id]).await?.map(|row| StoredFile {
            room: row.get(0),
            filename: row.get(1),
            content_type: row.get(2),
            size: u64::try_from(row.get::<_, i64>(3)).unwrap_or(0),
            sha256: row.get(4),
        }))
    }

    /// Bytes `from..to` of chunk `seq` of file `id` (`None` once the file is
    /// gone).
    pub(crate) async fn file_chunk(
        &self,
        id: Uuid,
        seq: i32,
        from: usize,
        to: usize,
    ) -> Result<Option<Bytes>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT substring(data FROM $3 FOR $4) FROM attachment_chunks
                 WHERE attachment_id = $1 AND seq = $2",
            )
            .await?;
        let start = i32::try_from(from + 1).unwrap_or(i32::MAX);
        let length = i32::try_from(to.saturating_sub(from)).unwrap_or(0);
        let row = client.query_opt(&statement, &[&id, &seq, &start, &length]).await?;
        Ok(row.map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))))
    }
}
