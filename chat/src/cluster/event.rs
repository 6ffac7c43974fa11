//! What one chat instance tells the others on `chat.events`, and its JSON form.
//!
//! A body is `{"instance": UUID, "events": [{KIND: {...}}, ...]}`: the events
//! the sender had queued when it published, in order (a group commit's
//! messages travel together, one broker message for many). A stored message
//! carries its room, its time, the time of the room's message before it and the
//! `chat_message` frame exactly as sent to sockets, so a receiver forwards it
//! without decoding it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

/// An event, as published and as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Event {
    /// A message was stored.
    Message {
        /// Its room.
        chatroom_id: Uuid,
        /// Its time: the room's order.
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
        /// The time of the room's message before it (`None` for the first).
        #[serde(with = "time::serde::rfc3339::option")]
        previous: Option<OffsetDateTime>,
        /// The `chat_message` frame.
        #[serde(with = "raw_json")]
        frame: Utf8Bytes,
    },
    /// Someone is typing.
    Typing {
        /// The room.
        chatroom_id: Uuid,
        /// Who.
        user_id: Uuid,
        /// Their name.
        username: String,
    },
    /// A user came online (true) or went offline (false) in a room on the sender.
    Presence {
        /// The room.
        chatroom_id: Uuid,
        /// Who.
        username: String,
        /// Online now.
        online: bool,
    },
    /// Everyone online on the sender, per room; sent every few seconds.
    Online {
        /// Room → usernames.
        rooms: HashMap<Uuid, HashSet<String>>,
    },
    /// The sender just connected: the others send their [`Event::Online`] now.
    Hello,
    /// A session was logged out: close its sockets.
    Logout {
        /// The SHA-256 of the session token.
        session: [u8; 32],
    },
}

#[derive(Serialize)]
struct OutgoingEnvelope<'a> {
    instance: Uuid,
    events: &'a [Event],
}

#[derive(Deserialize)]
struct IncomingEnvelope {
    instance: Uuid,
    events: Vec<Event>,
}

impl Event {
    /// The body published for `events`, in order, from `instance`.
    pub(crate) fn encode_all(events: &[Event], instance: Uuid) -> Vec<u8> {
        serde_json::to_vec(&OutgoingEnvelope { instance, events })
            .unwrap_or_else(|_| unreachable!("events always serialise"))
    }

    /// Reads a body: the sending instance and its events, in order.
    pub(crate) fn decode_all(body: &[u8]) -> Result<(Uuid, Vec<Self>), serde_json::Error> {
        let envelope: IncomingEnvelope = serde_json::from_slice(body)?;
        Ok((envelope.instance, envelope.events))
    }
}

/// A frame travels as the JSON value it is, not as a string.
mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    pub(super) fn serialize<S: Serializer>(frame: &Utf8Bytes, s: S) -> Result<S::Ok, S::Error> {
        let raw =
            RawValue::from_string(frame.as_str().to_owned()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Utf8Bytes, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(Utf8Bytes::from(String::from(Box::<str>::from(raw))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_the_trip() {
        let room = Uuid::from_u128(7);
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).unwrap();
        let events = [
            Event::Message {
                chatroom_id: room,
                created_at: at,
                previous: None,
                frame: r#"{"type":"chat_message","content":"hi \"there\""}"#.into(),
            },
            Event::Typing {
                chatroom_id: room,
                user_id: Uuid::from_u128(2),
                username: "ann".into(),
            },
            Event::Presence { chatroom_id: room, username: "ann".into(), online: true },
            Event::Online { rooms: HashMap::from([(room, HashSet::from(["bob".to_owned()]))]) },
            Event::Hello,
            Event::Logout { session: [9; 32] },
        ];
        let instance = Uuid::from_u128(3);
        let body = Event::encode_all(&events, instance);
        assert_eq!(Event::decode_all(&body).unwrap(), (instance, events.to_vec()));
    }

    #[test]
    fn a_message_frame_is_embedded_as_json() {
        let event = Event::Message {
            chatroom_id: Uuid::nil(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            previous: Some(OffsetDateTime::UNIX_EPOCH),
            frame: r#"{"type":"chat_message"}"#.into(),
        };
        let body = String::from_utf8(Event::encode_all(&[event], Uuid::nil())).unwrap();
        assert!(body.contains(r#""frame":{"type":"chat_message"}"#), "{body}");
    }

    #[test]
    fn garbage_is_an_error() {
        let instance = Uuid::nil();
        assert!(Event::decode_all(b"{\"instance\":1,\"events\":[]}").is_err());
        assert!(Event::decode_all(format!("{{\"instance\":\"{instance}\"}}").as_bytes()).is_err());
        let unknown = format!("{{\"instance\":\"{instance}\",\"events\":[{{\"shout\":{{}}}}]}}");
        assert!(Event::decode_all(unknown.as_bytes()).is_err());
        assert!(Event::decode_all(b"[]").is_err());
    }
}
