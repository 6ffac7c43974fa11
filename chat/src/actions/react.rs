//! An emoji on a message: toggled in the store, then the message's whole
//! reaction state goes to the room, here and on the other instances.
//! Counted against the message rate limit.

use uuid::Uuid;

use super::{Actor, RoomActions};
use crate::error::ApiError;
use crate::rooms::RoomEvent;
use crate::store::{Toggle, Toggled};

/// The longest emoji accepted, in bytes (a family with skin tones fits).
const MAX_EMOJI_BYTES: usize = 32;

/// One emoji, as Unicode lists them (skin tones, flags and keycaps included).
fn is_one_emoji(text: &str) -> bool {
    text.len() <= MAX_EMOJI_BYTES && emojis::get(text).is_some()
}

impl RoomActions {
    /// Adds (`on`) or removes `actor`'s `emoji` on message `message_id` of
    /// `room`. Refuses anything but one emoji (`VALIDATION_ERROR`), a message
    /// of another room (`NOT_FOUND`), a user's 21st emoji on the message
    /// (`FORBIDDEN`) and the message's 51st (`LIMIT_REACHED`).
    pub(crate) async fn react(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        message_id: Uuid,
        emoji: &str,
        on: bool,
    ) -> Result<(), ApiError> {
        if !is_one_emoji(emoji) {
            return Err(ApiError::Validation("emoji must be one emoji".into()));
        }
        self.message_limit.check(&actor.id).map_err(|wait| ApiError::limited("messages", wait))?;
        let toggle =
            Toggle { room, message_id, user_id: actor.id, username: actor.username, emoji, on };
        match self.store.toggle_reaction(toggle).await {
            Ok(Toggled::Changed { reactions, version }) => {
                let chatroom_id = room;
                self.rooms.publish(RoomEvent::Reactions {
                    chatroom_id,
                    message_id,
                    reactions,
                    version,
                });
                Ok(())
            }
            Ok(Toggled::NoMessage) => Err(ApiError::NotFound("message in this chatroom")),
            Ok(Toggled::TooMany) => {
                Err(ApiError::Forbidden("at most 20 different emoji per message"))
            }
            Ok(Toggled::MessageFull) => {
                Err(ApiError::LimitReached("this message has 50 different emoji already"))
            }
            Err(error) => {
                tracing::warn!(%error, user_id = %actor.id, chatroom_id = %room, "reaction not stored");
                Err(ApiError::UnavailableBecause("the reaction could not be stored; retry"))
            }
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
