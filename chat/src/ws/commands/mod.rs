//! What a client frame asks for, one file per command, each parse → apply →
//! reply. Replies and refusals go to the sender's own queue, so they reach
//! the client in order with everything else it receives.
//!
//! # Layout
//!
//! - `parse`: what a `chat_message`'s content means (a message, `/stock=`, a refusal).
//! - `chat_message`: a message for the room, through the room writer, with
//!   the users it mentions.
//! - `stock`: `/stock=CODE`, handed to the stock desk.
//! - `typing`: a typing notice for the rest of the room.
//! - `reaction`: an emoji on a message, toggled in the store, the state to the room.

mod chat_message;
mod parse;
mod reaction;
mod stock;
mod typing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use uuid::Uuid;

use self::parse::Input;
use crate::limits::Limiter;
use crate::rooms::{Outgoing, Peer, RoomWriter, Rooms};
use crate::stock::StockDesk;
use crate::store::Store;

/// What the commands act on, shared by every connection.
pub(crate) struct Commands {
    /// Stores messages, then broadcasts them.
    pub(crate) writer: RoomWriter,
    /// Typing notices go to the room.
    pub(crate) rooms: Arc<Rooms>,
    /// Where `/stock=` commands go.
    pub(crate) stock: Arc<dyn StockDesk>,
    /// Where reactions are kept.
    pub(crate) store: Store,
    /// Chat messages (and reactions) per user.
    pub(crate) message_limit: Arc<Limiter<Uuid>>,
    /// Stock commands per user.
    pub(crate) stock_limit: Arc<Limiter<Uuid>>,
}

/// What a connection's commands act on and for whom.
pub(in crate::ws) struct Context {
    commands: Arc<Commands>,
    /// The room the connection is in.
    pub(in crate::ws) room_id: Uuid,
    /// The connection itself: its user and its queue.
    pub(in crate::ws) peer: Arc<Peer>,
    /// When a typing notice was last passed on.
    last_typing: Option<Instant>,
}

impl Context {
    pub(in crate::ws) fn new(commands: Arc<Commands>, room_id: Uuid, peer: Arc<Peer>) -> Self {
        Self { commands, room_id, peer, last_typing: None }
    }

    /// A span naming the user, the room and the connection, for its log lines.
    /// Made for each line, never held: a span alive for the connection's life
    /// costs every idle connection about 2 KiB in the log registry.
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

    /// Refuses a frame over the rate limit `limit`, saying when to retry.
    fn rate_limited(&self, limit: &'static str, wait: Duration, client_id: Option<String>) {
        crate::limits::count_refusal(limit);
        let seconds = crate::limits::retry_after_secs(wait);
        let message = format!("too many {limit}; retry in {seconds} s");
        self.refuse(ErrorCode::RateLimited, message, client_id);
    }
}

/// Applies one client text frame.
pub(in crate::ws) async fn apply(context: &mut Context, frame: &str) {
    match ClientFrame::decode(frame) {
        Err(error) => {
            context.refuse(ErrorCode::InvalidFrame, error.message.into(), error.client_id);
        }
        Ok(ClientFrame::Typing) => typing::apply(context),
        Ok(ClientFrame::Reaction { message_id, emoji, on }) => {
            reaction::apply(context, message_id, emoji, on).await;
        }
        Ok(ClientFrame::ChatMessage { content, client_id }) => match parse::classify(&content) {
            Input::Refused(code, message) => context.refuse(code, message.into(), client_id),
            Input::Stock(code) => {
                let code = code.to_owned();
                stock::apply(context, code, client_id).await;
            }
            Input::Message(text) => {
                // Most messages need no trimming: keep the decoded string then.
                let content = if text.len() == content.len() { content } else { text.to_owned() };
                chat_message::apply(context, content, client_id).await;
            }
        },
    }
}
