//! What a client frame asks for, one file per command: parse, call the room
//! action, and answer a refusal. Replies and refusals go to the sender's own
//! queue, so they reach the client in order with everything else it
//! receives.
//!
//! # Layout
//!
//! - `parse`: what a `chat_message`'s content means (a message, `/stock=`, a refusal).
//! - `typing`: a typing notice for the rest of the room.

mod parse;
mod typing;

use std::sync::Arc;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use uuid::Uuid;

use self::parse::Input;
use crate::actions::{Actor, MessageBody, RoomActions};
use crate::error::ApiError;
use crate::rooms::{Outgoing, Peer};
use crate::store::Sealing;

/// What a connection's commands act on and for whom.
pub(in crate::ws) struct Context {
    actions: Arc<RoomActions>,
    /// The room the connection is in.
    pub(in crate::ws) room_id: Uuid,
    /// Whether its messages are sealed.
    sealing: Sealing,
    /// The connection itself: its user and its queue.
    pub(in crate::ws) peer: Arc<Peer>,
}

impl Context {
    pub(in crate::ws) fn new(
        actions: Arc<RoomActions>,
        room_id: Uuid,
        sealing: Sealing,
        peer: Arc<Peer>,
    ) -> Self {
        Self { actions, room_id, sealing, peer }
    }

    /// A span naming the user, the room and the connection, for its log lines.
    /// Made for each line, never held: a span alive for the connection's life
    /// would cost every idle connection memory in the log registry.
    pub(in crate::ws) fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "websocket",
            user_id = %self.peer.user_id,
            chatroom_id = %self.room_id,
            peer = self.peer.id,
        )
    }

    /// Tells the sender alone that its frame was refused.
    pub(in crate::ws) fn refuse(
        &self,
        code: ErrorCode,
        message: String,
        client_id: Option<String>,
    ) {
        self.peer.deliver(&Outgoing::notice(ServerFrame::Error { message, code, client_id }));
    }

    /// Tells the sender alone what an action refused.
    fn answer(&self, done: Result<(), ApiError>, client_id: Option<String>) {
        if let Err(error) = done {
            let (code, message) = error.frame();
            self.refuse(code, message, client_id);
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor { id: self.peer.user_id, username: &self.peer.username }
    }
}

/// Applies one client text frame.
pub(in crate::ws) async fn apply(context: &mut Context, frame: &str) {
    let actions = Arc::clone(&context.actions);
    let room = context.room_id;
    match ClientFrame::decode(frame) {
        Err(error) => {
            context.refuse(ErrorCode::InvalidFrame, error.message.into(), error.client_id);
        }
        Ok(ClientFrame::Typing) => typing::apply(context),
        Ok(ClientFrame::Reaction { message_id, emoji, on }) => {
            let done = actions.react(context.actor(), room, message_id, &emoji, on).await;
            context.answer(done, None);
        }
        Ok(ClientFrame::Edit { message_id, content, encrypted }) => {
            let body = match encrypted {
                Some(sealed) => MessageBody::Sealed { sealed, attachment_ids: Vec::new() },
                None => MessageBody::Text(content),
            };
            let sealing = context.sealing;
            let done = actions.edit_message(context.actor(), room, sealing, message_id, body).await;
            context.answer(done.map(drop), None);
        }
        Ok(ClientFrame::Delete { message_id }) => {
            let done = actions.delete_message(context.actor(), room, message_id).await;
            context.answer(done, None);
        }
        Ok(ClientFrame::ChatMessage {
            encrypted: Some(sealed),
            attachment_ids,
            client_id,
            reply_to,
            ..
        }) => {
            let body = MessageBody::Sealed { sealed, attachment_ids };
            let done = actions
                .post_message(
                    &context.peer,
                    room,
                    context.sealing,
                    body,
                    client_id.clone(),
                    reply_to,
                )
                .await;
            context.answer(done, client_id);
        }
        Ok(ClientFrame::ChatMessage { content, client_id, reply_to, .. }) => {
            match parse::classify(&content) {
                Input::Refused(code, message) => context.refuse(code, message.into(), client_id),
                Input::Stock(code) => {
                    let code = code.to_owned();
                    let done = actions.ask_quote(context.peer.user_id, room, code).await;
                    context.answer(done, client_id);
                }
                Input::Message(text) => {
                    // Most messages need no trimming: keep the decoded string then.
                    let content =
                        if text.len() == content.len() { content } else { text.to_owned() };
                    let body = MessageBody::Text(content);
                    let sealing = context.sealing;
                    let done = actions
                        .post_message(
                            &context.peer,
                            room,
                            sealing,
                            body,
                            client_id.clone(),
                            reply_to,
                        )
                        .await;
                    context.answer(done, client_id);
                }
            }
        }
    }
}
