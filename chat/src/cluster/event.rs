//! What one chat instance tells the others on `chat.events`, and its JSON form.
//!
//! A body is `{"instance": UUID, "events": [{KIND: {...}}, ...]}`: the events
//! the sender had queued when it published, in order (a group commit's
//! messages travel together, one broker message for many). A stored message
//! carries the message (with its room and its time) and the time of the
//! room's message before it. This format is the cluster's own: what sockets
//! receive is encoded at the edge (`ws`).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::rooms::{Online, Report, RoomEvent};

/// An event, as published and as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Event {
    /// Who is online on the sender, per room; sent every few seconds.
    Online {
        /// Room → usernames: all of them, or a big room's first hundred.
        rooms: HashMap<Uuid, BTreeSet<String>>,
        /// Room → how many more are online than named (big rooms only).
        #[serde(default, skip_serializing_if = "HashMap::is_empty")]
        more: HashMap<Uuid, usize>,
    },
    /// The sender just connected: the others send their [`Event::Online`] now.
    Hello,
    /// A session was logged out: close its sockets.
    Logout {
        /// The SHA-256 of the session token.
        session: [u8; 32],
    },
    /// What a user has not read in a room changed (a read marker, a join):
    /// instances where the user watches notifications read it again.
    Unread {
        /// The user.
        user_id: Uuid,
        /// Their name (mentions are counted by it).
        username: String,
        /// The room.
        chatroom_id: Uuid,
    },
    /// Something happened in a room, in the room event's own form
    /// (`{"message": …}`, `{"changed": …}`, `{"reactions": …}`, `{"typing": …}`,
    /// `{"presence": …}`).
    #[serde(untagged)]
    Room(Box<RoomEvent>),
}

impl Event {
    /// An instance's presence report as an event.
    pub(crate) fn online(report: Report) -> Self {
        let more = report.iter().filter(|(_, o)| o.more > 0).map(|(r, o)| (*r, o.more)).collect();
        let rooms = report.into_iter().map(|(room, online)| (room, online.names)).collect();
        Self::Online { rooms, more }
    }
}

/// A received [`Event::Online`] as the report it carries.
pub(crate) fn report(
    rooms: HashMap<Uuid, BTreeSet<String>>,
    more: &HashMap<Uuid, usize>,
) -> Report {
    let mut report: Report =
        rooms.into_iter().map(|(room, names)| (room, Online { names, more: 0 })).collect();
    for (room, more) in more {
        report.entry(*room).or_default().more = *more;
    }
    report
}

#[derive(Serialize)]
struct OutgoingEnvelope<'a> {
    instance: Uuid,
    events: &'a [Event],
}

#[derive(Deserialize)]
struct IncomingEnvelope<'a> {
    instance: Uuid,
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// One event of a body, or why it could not be read.
pub(crate) type Decoded = Result<Event, serde_json::Error>;

impl Event {
    /// The body published for `events`, in order, from `instance`.
    pub(crate) fn encode_all(events: &[Event], instance: Uuid) -> Vec<u8> {
        serde_json::to_vec(&OutgoingEnvelope { instance, events })
            .unwrap_or_else(|_| unreachable!("events always serialise"))
    }

    /// Reads a body: the sending instance and its events, in order, each
    /// decoded on its own (an event this version does not know spoils only itself).
    pub(crate) fn decode_all(body: &[u8]) -> Result<(Uuid, Vec<Decoded>), serde_json::Error> {
        let envelope: IncomingEnvelope = serde_json::from_slice(body)?;
        let events = envelope.events.iter().map(|raw| serde_json::from_str(raw.get())).collect();
        Ok((envelope.instance, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Message, Reaction};

    use crate::store::LogEntry;
    use time::OffsetDateTime;

    #[test]
    fn every_event_survives_the_trip() {
        let room = Uuid::from_u128(7);
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).unwrap();
        let events = [
            Event::Room(Box::new(RoomEvent::Stored {
                message: Message {
                    id: Uuid::from_u128(1),
                    chatroom_id: room,
                    user_id: Uuid::from_u128(2),
                    username: "ann".into(),
                    content: "hi \"there\"".into(),
                    is_bot: false,
                    created_at: at,
                    client_id: Some("c1".into()),
                    attachments: Vec::new(),
                    reactions: Vec::new(),
                    mentions: Vec::new(),
                    edited_at: None,
                    deleted: false,
                    reply_to: Some(Box::new(protocol::ReplyTo {
                        id: Uuid::from_u128(3),
                        username: "bob".into(),
                        excerpt: "hello".into(),
                    })),
                    encrypted: Some(Box::new(protocol::Sealed {
                        epoch: 3,
                        iv: "AAAAAAAAAAAAAAAA".into(),
                        ciphertext: "A".repeat(22),
                    })),
                },
                previous: Some(at - time::Duration::microseconds(1)),
            })),
            Event::Room(Box::new(RoomEvent::Changed {
                entry: LogEntry::Edited(protocol::MessageEdit {
                    message_id: Uuid::from_u128(3),
                    chatroom_id: room,
                    content: "edited".into(),
                    mentions: vec!["ann".into()],
                    edited_at: at,
                    encrypted: None,
                }),
                previous: Some(at - time::Duration::microseconds(2)),
            })),
            Event::Room(Box::new(RoomEvent::Changed {
                entry: LogEntry::Deleted {
                    deletion: protocol::MessageDeletion {
                        message_id: Uuid::from_u128(3),
                        chatroom_id: room,
                    },
                    at,
                },
                previous: None,
            })),
            Event::Room(Box::new(RoomEvent::Typing {
                chatroom_id: room,
                user_id: Uuid::from_u128(2),
                username: "ann".into(),
            })),
            Event::Room(Box::new(RoomEvent::Presence {
                chatroom_id: room,
                username: "ann".into(),
                online: true,
            })),
            Event::Online {
                rooms: HashMap::from([(room, BTreeSet::from(["bob".to_owned()]))]),
                more: HashMap::from([(room, 150)]),
            },
            Event::Hello,
            Event::Logout { session: [9; 32] },
            Event::Room(Box::new(RoomEvent::Reactions {
                chatroom_id: room,
                message_id: Uuid::from_u128(4),
                reactions: vec![Reaction {
                    emoji: "👍".into(),
                    count: 1,
                    users: vec!["ann".into()],
                }],
                version: 3,
            })),
            Event::Unread {
                user_id: Uuid::from_u128(5),
                username: "ann".into(),
                chatroom_id: room,
            },
        ];
        let instance = Uuid::from_u128(3);
        let (from, decoded) = Event::decode_all(&Event::encode_all(&events, instance)).unwrap();
        assert_eq!(from, instance);
        let decoded: Vec<Event> = decoded.into_iter().map(Result::unwrap).collect();
        assert_eq!(decoded, events);
    }

    /// Instances of the version before room events read these bodies, and
    /// write ones these read: a rolling upgrade keeps the cluster whole.
    #[test]
    fn room_events_keep_the_form_instances_already_speak() {
        let room = Uuid::from_u128(7);
        let typing = Event::Room(Box::new(RoomEvent::Typing {
            chatroom_id: room,
            user_id: Uuid::from_u128(2),
            username: "ann".into(),
        }));
        let json = serde_json::to_value(&typing).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"typing": {"chatroom_id": room, "user_id": Uuid::from_u128(2), "username": "ann"}})
        );
        let stored = r#"{"message":{"message":{"id":"00000000-0000-0000-0000-000000000001",
            "chatroom_id":"00000000-0000-0000-0000-000000000007","user_id":"00000000-0000-0000-0000-000000000002",
            "username":"ann","content":"hi","is_bot":false,"created_at":"2026-01-01T00:00:00Z"},
            "previous":null}}"#;
        let decoded: Event = serde_json::from_str(stored).unwrap();
        assert!(
            matches!(&decoded, Event::Room(event) if matches!(**event, RoomEvent::Stored { previous: None, .. })),
            "{decoded:?}"
        );
        let presence = r#"{"presence":{"chatroom_id":"00000000-0000-0000-0000-000000000007","username":"ann","online":false}}"#;
        let decoded: Event = serde_json::from_str(presence).unwrap();
        assert_eq!(
            decoded,
            Event::Room(Box::new(RoomEvent::Presence {
                chatroom_id: room,
                username: "ann".into(),
                online: false
            }))
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let instance = Uuid::nil();
        assert!(Event::decode_all(b"{\"instance\":1,\"events\":[]}").is_err());
        assert!(Event::decode_all(format!("{{\"instance\":\"{instance}\"}}").as_bytes()).is_err());
        assert!(Event::decode_all(b"[]").is_err());
    }

    #[test]
    fn an_unknown_event_spoils_only_itself() {
        let instance = Uuid::from_u128(3);
        let body = format!(r#"{{"instance":"{instance}","events":[{{"shout":{{}}}},"hello"]}}"#);
        let (from, decoded) = Event::decode_all(body.as_bytes()).unwrap();
        assert_eq!(from, instance);
        assert!(decoded[0].is_err());
        assert_eq!(decoded[1].as_ref().unwrap(), &Event::Hello);
    }
}
