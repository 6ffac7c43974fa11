//! A typed message for the room, a `/stock=` command for the bot, or a
//! notice that someone is typing.

use std::sync::Arc;

use protocol::ReplyTo;
use protocol::broker::StockCommand;
use protocol::message::{BOT_USERNAME, REPLY_EXCERPT_CHARS};
use uuid::Uuid;

use super::{Actor, MessageBody, RoomActions};
use crate::error::ApiError;
use crate::rooms::{Peer, Post, RoomEvent, resolve_mentions};
use crate::stock::StockDeskError;
use crate::store::Sealing;

impl RoomActions {
    /// Queues a message for the room writer, with the users it mentions;
    /// waits while the writer's queue is full. Text (trimmed and validated
    /// by the edge) goes to plain rooms, sealed text to encrypted ones. The
    /// stored copy, broadcast to the room, is the sender's acknowledgement;
    /// a failure to store reaches `sender` alone. A reply (`reply_to`, a
    /// message of the room) also mentions the original's author.
    pub(crate) async fn post_message(
        &self,
        sender: &Arc<Peer>,
        room: Uuid,
        sealing: Sealing,
        body: MessageBody,
        client_id: Option<String>,
        reply_to: Option<Uuid>,
    ) -> Result<(), ApiError> {
        self.message_limit
            .check(&sender.user_id)
            .map_err(|wait| ApiError::limited("messages", wait))?;
        let (content, encrypted, attachments, mut mentions) = match (sealing, body) {
            (Sealing::Plain, MessageBody::Text(content)) => {
                let mentions = resolve_mentions(&self.store, &content).await;
                (content, None, Vec::new(), mentions)
            }
            (Sealing::Encrypted, MessageBody::Sealed { sealed, attachment_ids }) => {
                let files =
                    self.store.sealed_uploads(sender.user_id, room, &attachment_ids).await?;
                let files = files.ok_or(ApiError::NotFound("encrypted upload"))?;
                // Mentions are inside the ciphertext: the clients find them.
                (String::new(), Some(sealed), files, Vec::new())
            }
            (Sealing::Encrypted, MessageBody::Text(_)) => return Err(ApiError::EncryptionRequired),
            (Sealing::Plain, MessageBody::Sealed { .. }) => return Err(not_encrypted()),
        };
        let reply_to = match reply_to {
            Some(original) => Some(Box::new(self.quote(room, original).await?)),
            None => None,
        };
        if let Some(original) = &reply_to
            && original.username != *sender.username
            && original.username != BOT_USERNAME
            && !mentions.iter().any(|name| name.eq_ignore_ascii_case(&original.username))
        {
            mentions.push(original.username.clone());
        }
        let post = Post {
            chatroom_id: room,
            content,
            encrypted,
            attachments,
            client_id,
            mentions,
            reply_to,
            sender: Arc::clone(sender),
        };
        if self.writer.post(post).await {
            Ok(())
        } else {
            Err(ApiError::UnavailableBecause("the server is shutting down"))
        }
    }

    /// Message `original` of `room` as a reply quotes it (a sealed one with
    /// no excerpt: its text is for the clients to show); a deleted one
    /// cannot be answered.
    async fn quote(&self, room: Uuid, original: Uuid) -> Result<ReplyTo, ApiError> {
        match self.store.message_in(room, original).await? {
            Some(message) if !message.deleted => Ok(ReplyTo {
                id: message.id,
                username: message.username,
                excerpt: message.content.chars().take(REPLY_EXCERPT_CHARS).collect(),
            }),
            _ => Err(ApiError::NotFound("message")),
        }
    }

    /// Hands `/stock=code` to the stock desk and waits for the broker to take
    /// it; never stored. The bot's reply comes back as a message to the room.
    pub(crate) async fn ask_quote(
        &self,
        user: Uuid,
        room: Uuid,
        code: String,
    ) -> Result<(), ApiError> {
        self.stock_limit.check(&user).map_err(|wait| ApiError::limited("stock", wait))?;
        let command =
            StockCommand { command_id: Uuid::now_v7(), chatroom_id: room, user_id: user, code };
        let Err(error) = self.stock.submit(command).await else {
            metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "sent").increment(1);
            return Ok(());
        };
        metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "unavailable").increment(1);
        tracing::warn!(%error, user_id = %user, chatroom_id = %room, "stock command refused");
        Err(ApiError::UnavailableBecause(match error {
            StockDeskError::NotSent(_) => "the stock bot cannot be reached right now; please retry",
            StockDeskError::Unconfirmed(_) => {
                "the stock bot could not confirm your request; it may still be answered"
            }
        }))
    }

    /// Tells the rest of `room`, here and on the other instances, that
    /// `actor` is typing, at most once every 2 s. Never stored.
    pub(crate) fn typing(&self, actor: Actor<'_>, room: Uuid) {
        if !self.rooms.may_type(room, actor.id) {
            return;
        }
        self.rooms.publish(RoomEvent::Typing {
            chatroom_id: room,
            user_id: actor.id,
            username: actor.username.to_owned(),
        });
    }
}

/// Sealed text sent to a room that is not encrypted.
pub(super) fn not_encrypted() -> ApiError {
    ApiError::Validation("this room is not encrypted: send the message as content".into())
}
