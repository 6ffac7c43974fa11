//! `reaction`: adds or removes the sender's emoji on a message of the room,
//! then the message's whole reaction state goes to the room, here and on the
//! other instances. Counted against the message rate limit.

use protocol::ErrorCode;
use uuid::Uuid;

use super::Context;
use crate::rooms::RoomEvent;
use crate::store::{Toggle, Toggled};

/// The longest emoji accepted, in bytes (a family with skin tones fits).
const MAX_EMOJI_BYTES: usize = 32;

/// One emoji, as Unicode lists them (skin tones, flags and keycaps included).
fn is_one_emoji(text: &str) -> bool {
    text.len() <= MAX_EMOJI_BYTES && emojis::get(text).is_some()
}

/// Applies the change and broadcasts the state; refuses a message of another
/// room (`NOT_FOUND`), anything but one emoji (`INVALID_FRAME`), a user's
/// 21st emoji on the message (`FORBIDDEN`) and the message's 51st
/// (`LIMIT_REACHED`).
pub(super) async fn apply(context: &Context, message_id: Uuid, emoji: String, on: bool) {
    if !is_one_emoji(&emoji) {
        let message = "emoji must be one emoji".to_owned();
        return context.refuse(ErrorCode::InvalidFrame, message, None);
    }
    if let Err(wait) = context.commands.message_limit.check(&context.peer.user_id) {
        return context.rate_limited("messages", wait, None);
    }
    let toggle = Toggle {
        room: context.room_id,
        message_id,
        user_id: context.peer.user_id,
        username: &context.peer.username,
        emoji: &emoji,
        on,
    };
    match context.commands.store.toggle_reaction(toggle).await {
        Ok(Toggled::Changed { reactions, version }) => {
            let chatroom_id = context.room_id;
            let event = RoomEvent::Reactions { chatroom_id, message_id, reactions, version };
            context.commands.rooms.publish(event);
        }
        Ok(Toggled::NoMessage) => {
            let message = "no such message in this chatroom".to_owned();
            context.refuse(ErrorCode::NotFound, message, None);
        }
        Ok(Toggled::TooMany) => {
            let message = "at most 20 different emoji per message".to_owned();
            context.refuse(ErrorCode::Forbidden, message, None);
        }
        Ok(Toggled::MessageFull) => {
            let message = "this message has 50 different emoji already".to_owned();
            context.refuse(ErrorCode::LimitReached, message, None);
        }
        Err(error) => {
            tracing::warn!(parent: &context.span(), %error, "reaction not stored");
            let message = "the reaction could not be stored; retry".to_owned();
            context.refuse(ErrorCode::Unavailable, message, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_grapheme_and_nothing_else() {
        for emoji in ["👍", "👍🏽", "❤️", "🇫🇷", "👨‍👩‍👧‍👦", "1️⃣"]
        {
            assert!(is_one_emoji(emoji), "{emoji}");
        }
        for text in ["", "a", "👍👍", "👍 ", ":+1:", "<b>", "👍a"] {
            assert!(!is_one_emoji(text), "{text:?}");
        }
    }
}
