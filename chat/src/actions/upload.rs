//! A file posted in a room: its bytes stored first, then its message through
//! the room writer like any other (so the caption's mentions, unread counts
//! and the room's order hold for it too), then the file linked to the
//! message. A file whose message is not stored is deleted at once, or by
//! the store's sweep if this process dies first.

use bytes::Bytes;
use futures_util::Stream;
use protocol::{Attachment, Message};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{Actor, RoomActions};
use crate::error::ApiError;
use crate::rooms::{FilePost, FilePosted, resolve_mentions};
use crate::store::{NewFile, SEALED_CONTENT_TYPE, StoreError, UploadError};

/// A file to post, as the edge read and checked it.
#[derive(Debug)]
pub(crate) struct FileUpload {
    /// The file's name, checked.
    pub(crate) filename: String,
    /// The message's text, trimmed and checked; may be empty.
    pub(crate) caption: String,
    /// The sender's idempotency key.
    pub(crate) client_id: Option<String>,
    /// Bytes the body holds (`Content-Length`).
    pub(crate) size: u64,
}

/// What an upload came to.
#[derive(Debug)]
pub(crate) enum Posted {
    /// Stored as this new message.
    Created(Message),
    /// A resend: the message with this `client_id`, stored before.
    Repeat(Message),
}

impl RoomActions {
    /// Stores `body` as `upload`'s file and posts its message in `room`.
    /// `served_as` names what the file is served as, from its first bytes.
    pub(crate) async fn upload<E>(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        upload: FileUpload,
        body: impl Stream<Item = Result<Bytes, E>>,
        served_as: impl FnOnce(&[u8]) -> String,
    ) -> Result<Posted, ApiError> {
        if let Some(stored) = self.stored_before(actor, room, upload.client_id.as_deref()).await? {
            return Ok(Posted::Repeat(stored));
        }
        let quota = self.admit_upload(actor, upload.size).await?;
        let file = NewFile {
            room,
            user_id: actor.id,
            filename: upload.filename,
            size: upload.size,
            storage_quota: quota,
            encrypted: false,
        };
        let attachment = self.store_file(&file, body, served_as).await?;
        let file_id = attachment.id;
        let (done, outcome) = oneshot::channel();
        let post = FilePost {
            chatroom_id: room,
            user_id: actor.id,
            username: actor.username.to_owned(),
            mentions: resolve_mentions(&self.store, &upload.caption).await,
            caption: upload.caption,
            client_id: upload.client_id.clone(),
            attachment,
            done,
        };
        let stopped = || StoreError::Unavailable("the server is shutting down".into());
        let posted = if self.writer.post_file(post).await {
            outcome.await.unwrap_or_else(|_| Err(stopped()))
        } else {
            Err(stopped())
        };
        match posted {
            Ok(FilePosted::Stored(message)) => {
                if let Err(error) = self.store.link_file(file_id, message.id).await {
                    tracing::warn!(%error, %file_id, "file not linked; the sweep links it later");
                }
                Ok(Posted::Created(*message))
            }
            Ok(FilePosted::Skipped) => {
                self.discard(file_id).await;
                let repeat = self.stored_before(actor, room, upload.client_id.as_deref()).await?;
                repeat.map(Posted::Repeat).ok_or(ApiError::NotFound("chatroom"))
            }
            Ok(FilePosted::Refused) => {
                self.discard(file_id).await;
                Err(ApiError::Validation("the caption holds text that cannot be stored".into()))
            }
            Err(error) => {
                self.discard(file_id).await;
                Err(error.into())
            }
        }
    }

    /// Stores `body`, an encrypted room's file as its sender's client sealed
    /// it, for a sealed message to show; no message is posted. Served only
    /// as bytes; deleted unless a message names it within a while.
    pub(crate) async fn upload_sealed<E>(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        size: u64,
        body: impl Stream<Item = Result<Bytes, E>>,
    ) -> Result<Attachment, ApiError> {
        let quota = self.admit_upload(actor, size).await?;
        let file = NewFile {
            room,
            user_id: actor.id,
            filename: String::new(),
            size,
            storage_quota: quota,
            encrypted: true,
        };
        self.store_file(&file, body, |_| SEALED_CONTENT_TYPE.to_owned()).await
    }

    /// The upload rate limit and the storage quota, before any byte is
    /// read: the quota, for the store to check again exactly.
    async fn admit_upload(&self, actor: Actor<'_>, size: u64) -> Result<u64, ApiError> {
        self.upload_limit.check(&actor.id).map_err(|wait| ApiError::limited("uploads", wait))?;
        let quota = self.storage_quota;
        if self.store.storage_used(actor.id).await?.saturating_add(size) > quota {
            return Err(ApiError::StorageQuotaExceeded(quota));
        }
        Ok(quota)
    }

    /// Stores `file`, answering what went wrong as the client should hear it.
    async fn store_file<E>(
        &self,
        file: &NewFile,
        body: impl Stream<Item = Result<Bytes, E>>,
        served_as: impl FnOnce(&[u8]) -> String,
    ) -> Result<Attachment, ApiError> {
        match self.store.store_file(file, body, served_as).await {
            Ok(attachment) => Ok(attachment),
            Err(UploadError::Store(error)) => Err(error.into()),
            Err(UploadError::Incomplete { received, declared }) => {
                Err(ApiError::Validation(format!(
                    "the body ended after {received} of the {declared} bytes Content-Length announced"
                )))
            }
            Err(UploadError::OverQuota { quota, .. }) => Err(ApiError::StorageQuotaExceeded(quota)),
            Err(UploadError::NoRoom) => Err(ApiError::NotFound("chatroom")),
        }
    }

    /// Deletes a file whose message was not stored.
    async fn discard(&self, file_id: Uuid) {
        if let Err(error) = self.store.delete_file(file_id).await {
            tracing::warn!(%error, %file_id, "unposted file not deleted; the sweep deletes it");
        }
    }

    /// The message `actor` stored in `room` under `client_id`, if any.
    async fn stored_before(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        client_id: Option<&str>,
    ) -> Result<Option<Message>, ApiError> {
        let Some(key) = client_id else { return Ok(None) };
        Ok(self.store.message_by_client_id(room, actor.id, key).await?)
    }
}
