//! Property tests of the frames: [`ClientFrame::decode`] never panics and
//! agrees with a model of the documented rules on any JSON value; a frame
//! built with `serde_json` decodes back to itself; every [`ServerFrame`]
//! survives its JSON text.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ClientFrame, ErrorCode, MAX_CLIENT_ID_CHARS, ServerFrame};
use crate::Message;

/// 1 to `max` characters of anything Unicode.
fn chars(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), min..=max).prop_map(String::from_iter)
}

fn client_id() -> impl Strategy<Value = Option<String>> {
    let storable = chars(1, MAX_CLIENT_ID_CHARS).prop_filter("storable", |id| !id.contains('\0'));
    proptest::option::of(storable)
}

/// Any JSON value, small enough to keep a case fast.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A JSON object that looks like a client frame: the known keys, with
/// values that are often right and sometimes of the wrong type or length.
fn frame_like_object() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        4 => Just(json!("chat_message")),
        2 => Just(json!("typing")),
        1 => Just(json!("edit")),
        1 => Just(json!("delete")),
        1 => any::<String>().prop_map(Value::String),
        1 => json_value(),
    ];
    let content = prop_oneof![
        6 => any::<String>().prop_map(Value::String),
        1 => json_value(),
    ];
    let client_id = prop_oneof![
        6 => chars(0, MAX_CLIENT_ID_CHARS + 8).prop_map(Value::String),
        1 => json_value(),
    ];
    let message_id = || {
        prop_oneof![
            4 => uuid().prop_map(|id| json!(id.to_string())),
            1 => any::<String>().prop_map(Value::String),
            1 => json_value(),
        ]
    };
    let extra = proptest::collection::btree_map("[a-z_]{1,10}", json_value(), 0..3);
    let field = |value: BoxedStrategy<Value>| proptest::option::weighted(0.75, value);
    let ids = (
        proptest::option::weighted(0.5, message_id()),
        proptest::option::weighted(0.2, message_id()),
    );
    (field(kind.boxed()), field(content.boxed()), field(client_id.boxed()), ids, extra).prop_map(
        |(kind, content, client_id, (message_id, reply_to), extra)| {
            let mut map: Map<String, Value> = extra.into_iter().collect();
            let known = [
                ("type", kind),
                ("content", content),
                ("client_id", client_id),
                ("message_id", message_id),
                ("reply_to", reply_to),
            ];
            for (key, value) in known {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value);
                }
            }
            Value::Object(map)
        },
    )
}

/// Any JSON value, but mostly objects that look like client frames.
fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![1 => json_value(), 3 => frame_like_object()]
}

/// What `decode` must make of `value`, written from the rules of `API.md`:
/// `Some(frame)` for an accepted frame, `None` for a refused one.
fn model(value: &Value) -> Option<ClientFrame> {
    let map = value.as_object()?;
    // A field is absent, null (the same), a string, or of the wrong type (refused).
    let text = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text.clone())),
        Some(_) => None,
    };
    let (kind, content, client_id) = (text("type")?, text("content")?, text("client_id")?);
    let (message_id, reply_to, _) = (text("message_id")?, text("reply_to")?, text("emoji")?);
    if !matches!(map.get("on"), None | Some(Value::Null | Value::Bool(_))) {
        return None;
    }
    if let Some(id) = &client_id
        && (!(1..=MAX_CLIENT_ID_CHARS).contains(&id.chars().count()) || id.contains('\0'))
    {
        return None;
    }
    // An id present must be a UUID.
    let id = |text: Option<String>| match text {
        None => Some(None),
        Some(text) => text.parse::<Uuid>().ok().map(Some),
    };
    match (kind.as_deref(), content) {
        // PostgreSQL cannot store U+0000.
        (Some("chat_message" | "edit") | None, Some(content)) if content.contains('\0') => None,
        (Some("chat_message") | None, Some(content)) => Some(ClientFrame::ChatMessage {
            content,
            client_id,
            reply_to: id(reply_to)?,
            encrypted: None,
            attachment_ids: Vec::new(),
        }),
        (Some("edit"), Some(content)) => {
            Some(ClientFrame::Edit { message_id: id(message_id)??, content, encrypted: None })
        }
        (Some("delete"), _) => Some(ClientFrame::Delete { message_id: id(message_id)?? }),
        (Some("typing"), _) => Some(ClientFrame::Typing),
        _ => None,
    }
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::InvalidFrame),
        Just(ErrorCode::EmptyMessage),
        Just(ErrorCode::MessageTooLong),
        Just(ErrorCode::InvalidStockCode),
        Just(ErrorCode::UnknownCommand),
        Just(ErrorCode::RateLimited),
        Just(ErrorCode::Unavailable),
        Just(ErrorCode::NotFound),
        Just(ErrorCode::Forbidden),
        Just(ErrorCode::LimitReached),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

/// Any UTC instant RFC 3339 can write: years 0000 to 9999, to the nanosecond.
fn utc_time() -> impl Strategy<Value = OffsetDateTime> {
    const YEAR_0000: i128 = -62_167_219_200;
    const YEAR_10000: i128 = 253_402_300_800;
    (YEAR_0000 * 1_000_000_000..YEAR_10000 * 1_000_000_000).prop_map(|nanos| {
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    })
}

fn message() -> impl Strategy<Value = Message> {
    let ids = (uuid(), uuid(), uuid());
    let text = (any::<String>(), any::<String>(), any::<bool>());
    (ids, text, utc_time(), proptest::option::of(any::<String>())).prop_map(
        |((id, chatroom_id, user_id), (username, content, is_bot), created_at, client_id)| {
            Message {
                id,
                chatroom_id,
                user_id,
                username,
                content,
                is_bot,
                created_at,
                client_id,
                attachments: Vec::new(),
                reactions: Vec::new(),
                mentions: Vec::new(),
                edited_at: None,
                deleted: false,
                reply_to: None,
                encrypted: None,
            }
        },
    )
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        message().prop_map(ServerFrame::ChatMessage),
        any::<String>().prop_map(|username| ServerFrame::UserJoined { username }),
        any::<String>().prop_map(|username| ServerFrame::UserLeft { username }),
        proptest::collection::vec(any::<String>(), 0..8)
            .prop_map(|users| ServerFrame::Presence { users, online: None }),
        any::<String>().prop_map(|username| ServerFrame::Typing { username }),
        Just(ServerFrame::Resync),
        (any::<String>(), error_code(), proptest::option::of(any::<String>()))
            .prop_map(|(message, code, client_id)| ServerFrame::Error { message, code, client_id }),
    ]
}

proptest! {
    #[test]
    fn decode_never_panics_on_any_text(text in any::<String>()) {
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn decode_follows_the_rules_on_any_json(value in any_json()) {
        let decoded = ClientFrame::decode(&value.to_string());
        prop_assert_eq!(decoded.clone().ok(), model(&value), "{} gave {:?}", value, decoded);
    }

    #[test]
    fn a_chat_message_decodes_to_itself(
        content in any::<String>().prop_filter("storable", |text| !text.contains('\0')),
        client_id in client_id(),
        typed in any::<bool>(),
    ) {
        let mut frame = json!({ "content": content, "client_id": client_id });
        if typed {
            frame["type"] = json!("chat_message");
        }
        let decoded = ClientFrame::decode(&frame.to_string());
        prop_assert_eq!(decoded, Ok(ClientFrame::ChatMessage {
            content,
            client_id,
            reply_to: None,
            encrypted: None,
            attachment_ids: Vec::new(),
        }));
    }

    #[test]
    fn a_client_id_too_long_is_refused(content in any::<String>(), id in chars(65, 100)) {
        let frame = json!({ "type": "chat_message", "content": content, "client_id": id });
        let refused = ClientFrame::decode(&frame.to_string()).expect_err("refused");
        prop_assert_eq!(refused.client_id, None, "an invalid client_id is not echoed");
    }

    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        let text = frame.to_json();
        let back: ServerFrame = serde_json::from_str(&text).expect("decodes");
        prop_assert_eq!(back, frame);
    }
}
