//! `chat_message`: a message for the room. The room writer stores it and
//! broadcasts the stored copy, which is the sender's acknowledgement.

use std::sync::Arc;

use protocol::ErrorCode;

use super::Context;
use crate::rooms::{Post, resolve_mentions};

/// Queues `content` (trimmed and validated) for the room writer; waits while
/// the writer's queue is full.
pub(super) async fn apply(context: &Context, content: String, client_id: Option<String>) {
    if let Err(wait) = context.commands.message_limit.check(&context.peer.user_id) {
        return context.rate_limited("messages", wait, client_id);
    }
    let mentions = resolve_mentions(&context.commands.store, &content).await;
    let post = Post {
        chatroom_id: context.room_id,
        content,
        client_id,
        mentions,
        sender: Arc::clone(&context.peer),
    };
    if !context.commands.writer.post(post).await {
        context.refuse(ErrorCode::Unavailable, "the server is shutting down".into(), None);
    }
}
