//! Editing and deleting a message: through the room writer, so the change
//! takes its place in the room's order after what was posted before it.

use protocol::message::MAX_CONTENT_CHARS;
use protocol::{ErrorCode, MessageEdit};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::post::not_encrypted;
use super::{Actor, MessageBody, RoomActions};
use crate::error::ApiError;
use crate::rooms::{ChangePost, resolve_mentions};
use crate::store::{Change, Changed, LogEntry, STALE_EPOCH, Sealing};

/// A message's new text, trimmed: the rules of a message's content, but
/// never a command (`/stock=…` is kept as text).
fn edited_text(content: &str) -> Result<&str, ApiError> {
    let text = content.trim();
    if text.is_empty() {
        return Err(ApiError::Content(ErrorCode::EmptyMessage, "message is empty"));
    }
    if text.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::Content(
            ErrorCode::MessageTooLong,
            "message is longer than 1000 characters",
        ));
    }
    Ok(text)
}

impl RoomActions {
    /// Gives `actor`'s message `message` of `room` a new text, which must
    /// follow the rules of [`edited_text`] (in an encrypted room, sealed at
    /// the current epoch); every member is told.
    pub(crate) async fn edit_message(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        sealing: Sealing,
        message: Uuid,
        body: MessageBody,
    ) -> Result<MessageEdit, ApiError> {
        let edit = match (sealing, body) {
            (Sealing::Plain, MessageBody::Text(content)) => {
                let content = edited_text(&content)?.to_owned();
                let mentions = resolve_mentions(&self.store, &content).await;
                Change::Edit { content, mentions, encrypted: None }
            }
            (Sealing::Encrypted, MessageBody::Sealed { sealed, attachment_ids }) => {
                if !attachment_ids.is_empty() {
                    return Err(ApiError::Validation("an edit shows no new files".into()));
                }
                Change::Edit {
                    content: String::new(),
                    mentions: Vec::new(),
                    encrypted: Some(sealed),
                }
            }
            (Sealing::Encrypted, MessageBody::Text(_)) => return Err(ApiError::EncryptionRequired),
            (Sealing::Plain, MessageBody::Sealed { .. }) => return Err(not_encrypted()),
        };
        self.message_limit.check(&actor.id).map_err(|wait| ApiError::limited("messages", wait))?;
        match self.change(actor, room, message, edit).await? {
            Changed::Logged { entry: LogEntry::Edited(edit), .. } => Ok(edit),
            other => Err(refusal(other)),
        }
    }

    /// Deletes message `message` of `room` (`actor`'s own, or any when
    /// `actor` owns the room); every member is told. Deleting a deleted
    /// message does nothing and succeeds.
    pub(crate) async fn delete_message(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        message: Uuid,
    ) -> Result<(), ApiError> {
        self.message_limit.check(&actor.id).map_err(|wait| ApiError::limited("messages", wait))?;
        match self.change(actor, room, message, Change::Delete).await? {
            Changed::Logged { .. } | Changed::AlreadyDeleted => Ok(()),
            other => Err(refusal(other)),
        }
    }

    async fn change(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        target: Uuid,
        change: Change,
    ) -> Result<Changed, ApiError> {
        let (done, outcome) = oneshot::channel();
        let post = ChangePost {
            chatroom_id: room,
            target,
            user_id: actor.id,
            username: actor.username.to_owned(),
            change,
            done,
        };
        if !self.writer.change(post).await {
            return Err(ApiError::UnavailableBecause("the server is shutting down"));
        }
        match outcome.await {
            Ok(Ok(changed)) => Ok(changed),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ApiError::UnavailableBecause("the server is shutting down")),
        }
    }
}

/// The refusal a change that was not made gets.
fn refusal(changed: Changed) -> ApiError {
    match changed {
        Changed::Forbidden(why) => ApiError::Forbidden(why),
        Changed::StaleEpoch => ApiError::StaleEpoch(STALE_EPOCH),
        Changed::WrongSealing => ApiError::EncryptionRequired,
        _ => ApiError::NotFound("message"),
    }
}
