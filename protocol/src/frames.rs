//! WebSocket frames: JSON text, one object per frame.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::text::check_storable;
use crate::{Chatroom, Message, MessageDeletion, MessageEdit, Reaction, Sealed};

/// Longest accepted `client_id`, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// Most files one encrypted message shows.
pub const MAX_ATTACHMENT_IDS: usize = 10;

/// A frame a client sends, decoded but not yet validated against chat rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// Post a message (or a `/command`).
    ChatMessage {
        /// The raw text, untrimmed (`""` when `encrypted` is given).
        content: String,
        /// Idempotency key chosen by the client.
        client_id: Option<String>,
        /// The message of the room it answers.
        reply_to: Option<Uuid>,
        /// In an encrypted room, the message sealed (its shape checked).
        encrypted: Option<Box<Sealed>>,
        /// The encrypted uploads the sealed message shows.
        attachment_ids: Vec<Uuid>,
    },
    /// Replace the text of one of the sender's messages.
    Edit {
        /// The message, of this room.
        message_id: Uuid,
        /// The new text, untrimmed; never read as a command (`""` when
        /// `encrypted` is given).
        content: String,
        /// In an encrypted room, the new text sealed (its shape checked).
        encrypted: Option<Box<Sealed>>,
    },
    /// Delete a message (the sender's own, or any in a room the sender owns).
    Delete {
        /// The message, of this room.
        message_id: Uuid,
    },
    /// The user is typing.
    Typing,
    /// Add (`on`) or remove the sender's `emoji` reaction to a message.
    Reaction {
        /// The message, of this room.
        message_id: Uuid,
        /// The emoji (checked by the server: one emoji grapheme).
        emoji: String,
        /// Add when true, remove when false.
        on: bool,
    },
}

/// Why a client frame could not be decoded; always answered with `INVALID_FRAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrameError {
    /// A sentence for the client.
    pub message: Cow<'static, str>,
    /// The frame's `client_id`, when it could be read.
    pub client_id: Option<String>,
}

/// The wire shape of every client frame; unknown fields are ignored.
#[derive(Deserialize)]
struct WireClientFrame<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    emoji: Option<String>,
    #[serde(default)]
    on: Option<bool>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    encrypted: Option<serde_json::Value>,
    #[serde(default)]
    attachment_ids: Option<Vec<String>>,
}

/// The wire shape of a client frame, for encoding.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireClientFrameOut<'a> {
    ChatMessage {
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<Uuid>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted: Option<&'a Sealed>,
        #[serde(skip_serializing_if = "<[Uuid]>::is_empty")]
        attachment_ids: &'a [Uuid],
    },
    Edit {
        message_id: Uuid,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted: Option<&'a Sealed>,
    },
    Delete {
        message_id: Uuid,
    },
    Typing,
    Reaction {
        message_id: Uuid,
        emoji: &'a str,
        on: bool,
    },
}

impl ClientFrame {
    /// Encodes the frame as a client sends it (what [`ClientFrame::decode`] reads).
    pub fn to_json(&self) -> String {
        let wire = match self {
            ClientFrame::ChatMessage {
                content,
                client_id,
                reply_to,
                encrypted,
                attachment_ids,
            } => WireClientFrameOut::ChatMessage {
                content: encrypted.is_none().then_some(content.as_str()),
                client_id: client_id.as_deref(),
                reply_to: *reply_to,
                encrypted: encrypted.as_deref(),
                attachment_ids,
            },
            ClientFrame::Edit { message_id, content, encrypted } => WireClientFrameOut::Edit {
                message_id: *message_id,
                content: encrypted.is_none().then_some(content.as_str()),
                encrypted: encrypted.as_deref(),
            },
            ClientFrame::Delete { message_id } => {
                WireClientFrameOut::Delete { message_id: *message_id }
            }
            ClientFrame::Typing => WireClientFrameOut::Typing,
            ClientFrame::Reaction { message_id, emoji, on } => {
                WireClientFrameOut::Reaction { message_id: *message_id, emoji, on: *on }
            }
        };
        // Serialising strings into JSON cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Decodes one text frame. A frame with `content` and no `type` is a chat message.
    pub fn decode(text: &str) -> Result<Self, ClientFrameError> {
        let not_a_frame = || ClientFrameError {
            message: "frame is not a JSON object of the documented shape".into(),
            client_id: None,
        };
        // serde also reads a struct from an array of its fields in order
        // (`[null,"hi"]`); only an object is a frame.
        if !text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
            return Err(not_a_frame());
        }
        let wire: WireClientFrame<'_> = serde_json::from_str(text).map_err(|_| not_a_frame())?;
        let client_id = wire.client_id;
        let refuse = |message: &'static str, client_id: Option<String>| ClientFrameError {
            message: message.into(),
            client_id,
        };
        if let Some(id) = &client_id
            && (id.is_empty() || id.chars().count() > MAX_CLIENT_ID_CHARS)
        {
            return Err(refuse("client_id must be 1-64 characters", None));
        }
        if client_id.as_deref().is_some_and(|id| check_storable(id).is_err()) {
            return Err(refuse("client_id must not contain U+0000", None));
        }
        let message_id = wire.message_id.as_deref().map(str::parse::<Uuid>);
        let encrypted = match wire.encrypted.map(serde_json::from_value::<Sealed>) {
            None => None,
            Some(Ok(sealed)) => match sealed.check() {
                Ok(()) => Some(Box::new(sealed)),
                Err(why) => return Err(refuse(why, client_id)),
            },
            Some(Err(_)) => {
                return Err(refuse(
                    "encrypted must be {\"epoch\", \"iv\", \"ciphertext\"}",
                    client_id,
                ));
            }
        };
        // A sealed message carries no text of its own.
        let content = match (wire.content, &encrypted) {
            (Some(_), Some(_)) => {
                return Err(refuse("give content or encrypted, not both", client_id));
            }
            (None, Some(_)) => Some(String::new()),
            (content, None) => content,
        };
        let attachment_ids = match wire.attachment_ids {
            None => Vec::new(),
            Some(_) if encrypted.is_none() => {
                return Err(refuse("attachment_ids go with an encrypted message", client_id));
            }
            Some(ids) => match attachment_ids(&ids) {
                Some(ids) => ids,
                None => {
                    return Err(refuse(
                        "attachment_ids must be at most 10 distinct file ids (UUIDs)",
                        client_id,
                    ));
                }
            },
        };
        match (wire.kind.as_deref(), content) {
            (Some("chat_message") | None, Some(content)) => {
                let reply_to = match wire.reply_to.as_deref().map(str::parse) {
                    None => None,
                    Some(Ok(id)) => Some(id),
                    Some(Err(_)) => {
                        return Err(refuse("reply_to must be a message id (a UUID)", client_id));
                    }
                };
                match check_storable(&content) {
                    Ok(()) => Ok(ClientFrame::ChatMessage {
                        content,
                        client_id,
                        reply_to,
                        encrypted,
                        attachment_ids,
                    }),
                    Err(_) => Err(refuse("content must not contain U+0000", client_id)),
                }
            }
            (Some("edit"), content) => match (message_id, content) {
                (Some(Ok(message_id)), Some(content)) => match check_storable(&content) {
                    Ok(()) => Ok(ClientFrame::Edit { message_id, content, encrypted }),
                    Err(_) => Err(refuse("content must not contain U+0000", client_id)),
                },
                _ => Err(refuse(
                    "edit needs message_id (a UUID) and a string content (or encrypted)",
                    client_id,
                )),
            },
            (Some("delete"), _) => match message_id {
                Some(Ok(message_id)) => Ok(ClientFrame::Delete { message_id }),
                _ => Err(refuse("delete needs message_id (a UUID)", client_id)),
            },
            (Some("chat_message") | None, None) => {
                Err(refuse("chat_message needs a string content", client_id))
            }
            (Some("typing"), _) => Ok(ClientFrame::Typing),
            (Some("reaction"), _) => match (message_id.and_then(Result::ok), wire.emoji, wire.on) {
                (Some(message_id), Some(emoji), Some(on)) => {
                    Ok(ClientFrame::Reaction { message_id, emoji, on })
                }
                _ => Err(refuse(
                    "reaction needs message_id (a UUID), emoji and on (a boolean)",
                    client_id,
                )),
            },
            (Some(_), _) => Err(refuse("unknown frame type", client_id)),
        }
    }
}

/// `ids` as file ids, when there are at most [`MAX_ATTACHMENT_IDS`] distinct ones.
fn attachment_ids(ids: &[String]) -> Option<Vec<Uuid>> {
    if ids.len() > MAX_ATTACHMENT_IDS {
        return None;
    }
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        let id: Uuid = id.parse().ok()?;
        if parsed.contains(&id) {
            return None;
        }
        parsed.push(id);
    }
    Some(parsed)
}

/// Why the server refused a client's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Not JSON, or not a known frame.
    InvalidFrame,
    /// Nothing left after trimming.
    EmptyMessage,
    /// Over 1000 characters after trimming.
    MessageTooLong,
    /// `/stock=` with a code that is not 1-20 of `[A-Za-z0-9.]`.
    InvalidStockCode,
    /// A `/word` that is not a known command.
    UnknownCommand,
    /// Over a rate limit.
    RateLimited,
    /// Storage or broker down: nothing was stored or sent; retry.
    Unavailable,
    /// A reaction to a message that is not in this room.
    NotFound,
    /// Not allowed: more than 20 distinct emoji of one user on one message.
    Forbidden,
    /// A bound of the room was reached: a 51st distinct emoji on one message.
    LimitReached,
    /// Plain text in an encrypted room (other than a `/stock=` command).
    EncryptionRequired,
    /// Sealed under a key that is not the room's current one, or while the
    /// room waits for a new key after losing a member: fetch the keys again.
    StaleEpoch,
}

/// Above this many people online a room is big: presence changes come as
/// `presence_diff`, and the `presence` frame lists this many names.
pub const BIG_ROOM: usize = 100;

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A stored message; the sender's own copy is its acknowledgement.
    ChatMessage(Message),
    /// A user's first connection to the room opened.
    UserJoined {
        /// Who joined.
        username: String,
    },
    /// A user's last connection to the room closed.
    UserLeft {
        /// Who left.
        username: String,
    },
    /// Who is online in the room, sent right after connecting.
    Presence {
        /// Distinct usernames, sorted; in a big room the first
        /// [`BIG_ROOM`] of them.
        users: Vec<String>,
        /// How many are online, when that is more than `users` shows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<u32>,
    },
    /// In a room with more than [`BIG_ROOM`] online, who came and went
    /// since the last diff (at most one a second), instead of
    /// `user_joined`/`user_left`.
    PresenceDiff {
        /// Came online, sorted.
        joined: Vec<String>,
        /// Went offline, sorted.
        left: Vec<String>,
        /// How many are online now.
        online: u32,
    },
    /// Someone else is typing.
    Typing {
        /// Who is typing.
        username: String,
    },
    /// A message's whole reaction state after a change.
    Reactions {
        /// The message.
        message_id: Uuid,
        /// Emoji in order of first use.
        reactions: Vec<Reaction>,
    },
    /// A message's author edited it.
    MessageEdited(MessageEdit),
    /// A message was deleted: it stays as a tombstone.
    MessageDeleted(MessageDeletion),
    /// Someone was added to the room.
    MemberAdded {
        /// Who was added.
        username: String,
        /// Who added them.
        by: String,
    },
    /// Someone left the room or was removed from it.
    MemberRemoved {
        /// Who is no longer a member.
        username: String,
        /// Who removed them (themself, when they left).
        by: String,
    },
    /// The client missed more than the server replays: reload history over REST.
    Resync,
    /// The sender's frame was refused.
    Error {
        /// A sentence for the user.
        message: String,
        /// What went wrong.
        code: ErrorCode,
        /// The refused frame's `client_id`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
}

/// A frame of `/ws/notifications`: what a user has not read, in any of
/// their rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotificationFrame {
    /// The user's figures in one room changed (or, on connecting, are these).
    Unread {
        /// The room.
        chatroom_id: Uuid,
        /// Messages by others after the user's read marker, at most 999.
        unread: u32,
        /// How many of those mention the user.
        mentions: u32,
    },
    /// A new message mentions the user.
    Mention {
        /// The message.
        message: Message,
    },
    /// The user became a member of a room (added, or a direct room made).
    RoomAdded {
        /// The room, as the user sees it.
        chatroom: Chatroom,
    },
    /// The user is no longer a member of a room.
    RoomRemoved {
        /// The room.
        chatroom_id: Uuid,
    },
}

impl NotificationFrame {
    /// Serialises the frame to its JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerFrame {
    /// Serialises the frame to its JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: every key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_typed_untyped_and_typing_frames() {
        assert_eq!(
            ClientFrame::decode(r#"{"type":"chat_message","content":"hi","client_id":"c1","x":1}"#),
            Ok(ClientFrame::ChatMessage {
                content: "hi".into(),
                client_id: Some("c1".into()),
                reply_to: None,
                encrypted: None,
                attachment_ids: Vec::new(),
            })
        );
        assert_eq!(
            ClientFrame::decode(r#"{"content":"hi"}"#),
            Ok(ClientFrame::ChatMessage {
                content: "hi".into(),
                client_id: None,
                reply_to: None,
                encrypted: None,
                attachment_ids: Vec::new(),
            })
        );
        assert_eq!(ClientFrame::decode(r#"{"type":"typing"}"#), Ok(ClientFrame::Typing));
    }

    #[test]
    fn refuses_malformed_frames() {
        for bad in [
            "",
            "not json",
            "[]",
            "42",
            r#"{"type":"chat_message"}"#,
            r#"{"type":"chat_message","content":5}"#,
            r#"{"type":"shout","content":"hi"}"#,
            r#"{"type":7,"content":"hi"}"#,
            r#"{"content":"hi","client_id":""}"#,
            r#"{"content":"hi","client_id":12}"#,
            r#"[null,"hi"]"#,
            r#"["chat_message","hi","c1"]"#,
            r#" ["typing"]"#,
            r#"{"content":"hi","reply_to":"nope"}"#,
            r#"{"type":"edit","message_id":"00000000-0000-0000-0000-000000000001"}"#,
            r#"{"type":"edit","content":"x"}"#,
            r#"{"type":"delete","message_id":"x"}"#,
            r#"{"type":"delete"}"#,
        ] {
            assert!(ClientFrame::decode(bad).is_err(), "{bad}");
        }
        for nul in [r#"{"content":"bad\u0000"}"#, r#"{"content":"hi","client_id":"a\u0000"}"#] {
            assert!(ClientFrame::decode(nul).is_err(), "{nul}");
        }
        let long_id = "x".repeat(65);
        let frame = format!(r#"{{"content":"hi","client_id":"{long_id}"}}"#);
        assert!(ClientFrame::decode(&frame).is_err());
    }

    fn sealed() -> Sealed {
        Sealed { epoch: 2, iv: "AAAAAAAAAAAAAAAA".into(), ciphertext: "A".repeat(22) }
    }

    #[test]
    fn sealed_frames_carry_no_text_and_a_checked_shape() {
        let iv = "AAAAAAAAAAAAAAAA";
        let ciphertext = "A".repeat(22);
        let good = format!(
            r#"{{"type":"chat_message","client_id":"c","encrypted":{{"epoch":2,"iv":"{iv}","ciphertext":"{ciphertext}"}}}}"#
        );
        let Ok(ClientFrame::ChatMessage { content, encrypted: Some(sealed), .. }) =
            ClientFrame::decode(&good)
        else {
            panic!("{good}");
        };
        assert_eq!((content.as_str(), sealed.epoch), ("", 2));
        for bad in [
            format!(
                r#"{{"content":"x","encrypted":{{"epoch":2,"iv":"{iv}","ciphertext":"{ciphertext}"}}}}"#
            ),
            format!(
                r#"{{"type":"chat_message","encrypted":{{"epoch":0,"iv":"{iv}","ciphertext":"{ciphertext}"}}}}"#
            ),
            format!(
                r#"{{"type":"chat_message","encrypted":{{"epoch":1,"iv":"AAAA","ciphertext":"{ciphertext}"}}}}"#
            ),
            format!(r#"{{"type":"chat_message","encrypted":{{"epoch":1,"iv":"{iv}"}}}}"#),
            r#"{"type":"chat_message","encrypted":"sealed"}"#.to_owned(),
            r#"{"content":"x","attachment_ids":["00000000-0000-0000-0000-000000000001"]}"#
                .to_owned(),
            format!(
                r#"{{"type":"chat_message","attachment_ids":["x"],"encrypted":{{"epoch":1,"iv":"{iv}","ciphertext":"{ciphertext}"}}}}"#
            ),
        ] {
            assert!(ClientFrame::decode(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keeps_client_id_of_a_refused_frame_when_readable() {
        let err = ClientFrame::decode(r#"{"type":"shout","client_id":"c9"}"#).expect_err("refused");
        assert_eq!(err.client_id.as_deref(), Some("c9"));
    }

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::ChatMessage {
                content: "say \"hi\" \\ <b>".into(),
                client_id: Some("c1".into()),
                reply_to: None,
                encrypted: None,
                attachment_ids: Vec::new(),
            },
            ClientFrame::ChatMessage {
                content: "no id".into(),
                client_id: None,
                reply_to: Some(Uuid::from_u128(7)),
                encrypted: None,
                attachment_ids: Vec::new(),
            },
            ClientFrame::ChatMessage {
                content: String::new(),
                client_id: Some("c2".into()),
                reply_to: None,
                encrypted: Some(Box::new(sealed())),
                attachment_ids: vec![Uuid::from_u128(10)],
            },
            ClientFrame::Edit {
                message_id: Uuid::from_u128(8),
                content: "/stock=AAPL.US".into(),
                encrypted: None,
            },
            ClientFrame::Edit {
                message_id: Uuid::from_u128(8),
                content: String::new(),
                encrypted: Some(Box::new(sealed())),
            },
            ClientFrame::Delete { message_id: Uuid::from_u128(9) },
            ClientFrame::Typing,
        ];
        for frame in frames {
            assert_eq!(
                ClientFrame::decode(&frame.to_json()),
                Ok(frame.clone()),
                "{}",
                frame.to_json()
            );
        }
        assert_eq!(ClientFrame::Typing.to_json(), r#"{"type":"typing"}"#);
    }

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Resync,
            ServerFrame::Presence { users: vec!["ann".into()], online: None },
            ServerFrame::Error {
                message: "no".into(),
                code: ErrorCode::UnknownCommand,
                client_id: None,
            },
        ];
        for frame in frames {
            let json = frame.to_json();
            assert_eq!(serde_json::from_str::<ServerFrame>(&json).expect("decodes"), frame);
        }
        assert_eq!(ServerFrame::Resync.to_json(), r#"{"type":"resync"}"#);
    }
}

#[cfg(test)]
mod properties;
