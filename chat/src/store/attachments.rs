//! Files posted in rooms: an upload written chunk by chunk in one
//! transaction, downloads read a chunk at a time, and the links between
//! files and the messages that show them.
//!
//! A file is stored (and committed) before its message, which then goes
//! through the room writer like any other: [`Store::link_file`] marks it
//! shown once the message is stored, [`Store::delete_file`] takes it back
//! when the message is not, and [`Store::sweep_unlinked_files`] deletes the
//! files whose message never came.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use protocol::Attachment;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{Store, StoreError};

/// Bytes per stored chunk: what an upload or a download holds at a time.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Bytes user `$1`'s files take: checked before an upload, and again, exactly,
/// inside it.
const STORAGE_USED: &str =
    "SELECT coalesce(sum(size), 0)::bigint FROM attachments WHERE uploader_id = $1";

/// Deletes the files older than `$1` seconds that no message links, linking
/// instead those a stored message shows after all. Such a message is in the
/// file's room and was stored after the file: the room's order index finds
/// it.
const SWEEP_UNLINKED: &str = "WITH candidates AS (
        SELECT a.id, (SELECT m.id FROM messages m
                      WHERE m.chatroom_id = a.chatroom_id AND m.created_at >= a.created_at
                        AND m.attachments @> jsonb_build_array(jsonb_build_object('id', a.id))
                      LIMIT 1) AS shown_by
        FROM attachments a
        WHERE a.message_id IS NULL AND a.created_at < now() - make_interval(secs => $1)
    ), linked AS (
        UPDATE attachments a SET message_id = c.shown_by
        FROM candidates c WHERE a.id = c.id AND c.shown_by IS NOT NULL
    )
    DELETE FROM attachments a USING candidates c WHERE a.id = c.id AND c.shown_by IS NULL";

/// What an encrypted upload is stored and served as, whatever its bytes.
pub(crate) const SEALED_CONTENT_TYPE: &str = "application/octet-stream";

/// A file on its way in.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    /// The room it is posted in.
    pub(crate) room: Uuid,
    /// Who posts it.
    pub(crate) user_id: Uuid,
    /// The file's name (checked by the caller).
    pub(crate) filename: String,
    /// `Content-Length`: the body must be exactly this long.
    pub(crate) size: u64,
    /// Most bytes the uploader may have stored, this file included.
    pub(crate) storage_quota: u64,
    /// Ciphertext for an encrypted room, with no name: no message is
    /// posted with it; one names it later.
    pub(crate) encrypted: bool,
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

    /// Stores `body` as the file `upload`, in one transaction: on any
    /// error, nothing is left. `content_type` names what the file is served
    /// as, from its first bytes. The file is not linked to a message yet.
    pub(crate) async fn store_file<E>(
        &self,
        upload: &NewFile,
        body: impl Stream<Item = Result<Bytes, E>>,
        content_type: impl FnOnce(&[u8]) -> String,
    ) -> Result<Attachment, UploadError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let id = Uuid::now_v7();
        let insert_file = tx
            .prepare_cached(
                "INSERT INTO attachments
                     (id, chatroom_id, uploader_id, filename, content_type, size, sha256, encrypted)
                 VALUES ($1, $2, $3, $4, '', 0, '', $5)",
            )
            .await
            .map_err(StoreError::from)?;
        let params: [&(dyn ToSql + Sync); 5] =
            [&id, &upload.room, &upload.user_id, &upload.filename, &upload.encrypted];
        let inserted = tx.execute(&insert_file, &params).await;
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
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Attachment {
            id,
            filename: upload.filename.clone(),
            content_type: served_as,
            size: received,
            url: Attachment::url_of(id),
        })
    }

    /// `user`'s encrypted uploads `ids` in `room` that no message shows yet,
    /// as a sealed message shows them (no name: that is in its ciphertext);
    /// `None` unless every one of them is such an upload.
    pub(crate) async fn sealed_uploads(
        &self,
        user: Uuid,
        room: Uuid,
        ids: &[Uuid],
    ) -> Result<Option<Vec<Attachment>>, StoreError> {
        if ids.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, size FROM attachments
                 WHERE id = ANY($1) AND chatroom_id = $2 AND uploader_id = $3 AND encrypted
                   AND message_id IS NULL",
            )
            .await?;
        let rows = client.query(&statement, &[&ids, &room, &user]).await?;
        let sizes: std::collections::HashMap<Uuid, i64> =
            rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        Ok(ids
            .iter()
            .map(|id| {
                sizes.get(id).map(|size| Attachment {
                    id: *id,
                    filename: String::new(),
                    content_type: SEALED_CONTENT_TYPE.to_owned(),
                    size: u64::try_from(*size).unwrap_or(0),
                    url: Attachment::url_of(*id),
                })
            })
            .collect())
    }

    /// Marks file `id` as shown by `message`, so the sweep keeps it.
    pub(crate) async fn link_file(&self, id: Uuid, message: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement =
            client.prepare_cached("UPDATE attachments SET message_id = $2 WHERE id = $1").await?;
        client.execute(&statement, &[&id, &message]).await?;
        Ok(())
    }

    /// Deletes file `id` while no message links it (a message that was not
    /// stored, or a resend whose first copy was).
    pub(crate) async fn delete_file(&self, id: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM attachments WHERE id = $1 AND message_id IS NULL")
            .await?;
        client.execute(&statement, &[&id]).await?;
        Ok(())
    }

    /// Deletes the files stored more than `age` ago whose message was never
    /// stored (its instance died between the two), and links those whose
    /// message was stored but not linked. Returns how many were deleted.
    pub(crate) async fn sweep_unlinked_files(
        &self,
        age: std::time::Duration,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(SWEEP_UNLINKED).await?;
        Ok(client.execute(&statement, &[&age.as_secs_f64()]).await?)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const USER: Uuid = Uuid::from_u128(0xa);
    const ROOM: Uuid = Uuid::from_u128(0xb);

    /// Three files stored an hour ago, none linked: the first shown by a
    /// stored message, the second by none; and a fresh one by none.
    #[tokio::test]
    async fn the_sweep_deletes_old_files_no_message_shows_and_links_the_rest() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let (shown, orphan, fresh) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let client = store.client().await.unwrap();
        client
            .batch_execute(&format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{USER}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{ROOM}', 'r', '{USER}');
                 INSERT INTO attachments
                     (id, chatroom_id, uploader_id, filename, content_type, size, sha256, created_at)
                 VALUES ('{shown}', '{ROOM}', '{USER}', 'a', 'text/plain', 1, '', now() - interval '1 hour'),
                        ('{orphan}', '{ROOM}', '{USER}', 'b', 'text/plain', 1, '', now() - interval '1 hour'),
                        ('{fresh}', '{ROOM}', '{USER}', 'c', 'text/plain', 1, '', now());
                 INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES ('{orphan}', 0, 'x');
                 INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at, attachments)
                 VALUES ('{USER}', '{ROOM}', '{USER}', 'u', '', now(),
                         jsonb_build_array(jsonb_build_object('id', '{shown}'::uuid, 'filename', 'a')))"
            ))
            .await
            .unwrap();

        let deleted = store.sweep_unlinked_files(Duration::from_secs(600)).await.unwrap();
        assert_eq!(deleted, 1, "only the old file no message shows");
        let rows =
            client.query("SELECT id, message_id FROM attachments ORDER BY id", &[]).await.unwrap();
        let left: Vec<(Uuid, Option<Uuid>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(left, [(shown, Some(USER)), (fresh, None)]);
        let chunks: i64 =
            client.query_one("SELECT count(*) FROM attachment_chunks", &[]).await.unwrap().get(0);
        assert_eq!(chunks, 0, "the orphan's bytes went with it");

        store.link_file(fresh, USER).await.unwrap();
        store.delete_file(fresh).await.unwrap();
        assert!(store.stored_file(fresh).await.unwrap().is_some(), "a linked file is kept");
    }

    /// An encrypted upload is nameless ciphertext served as bytes; only its
    /// uploader's sealed message in its room may show it, and nobody's does
    /// within ten minutes, so the sweep deletes it.
    #[tokio::test]
    async fn an_encrypted_upload_no_message_names_is_swept() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let client = store.client().await.unwrap();
        client
            .batch_execute(&format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{USER}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{ROOM}', 'r', '{USER}')"
            ))
            .await
            .unwrap();
        let file = NewFile {
            room: ROOM,
            user_id: USER,
            filename: String::new(),
            size: 3,
            storage_quota: 1024,
            encrypted: true,
        };
        let body =
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))]);
        let stored = store.store_file(&file, body, |_| SEALED_CONTENT_TYPE.into()).await.unwrap();
        let shown = store.sealed_uploads(USER, ROOM, &[stored.id]).await.unwrap().unwrap();
        assert_eq!(
            (shown[0].filename.as_str(), shown[0].content_type.as_str()),
            ("", SEALED_CONTENT_TYPE)
        );
        assert_eq!(shown[0].size, 3);
        let someone = Uuid::from_u128(0xc);
        assert_eq!(store.sealed_uploads(someone, ROOM, &[stored.id]).await.unwrap(), None);
        assert_eq!(store.sealed_uploads(USER, someone, &[stored.id]).await.unwrap(), None);

        client
            .execute("UPDATE attachments SET created_at = now() - interval '11 minutes'", &[])
            .await
            .unwrap();
        assert_eq!(store.sweep_unlinked_files(Duration::from_secs(600)).await.unwrap(), 1);
        assert!(store.stored_file(stored.id).await.unwrap().is_none());
    }
}
