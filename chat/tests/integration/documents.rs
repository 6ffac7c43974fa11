//! The AsyncAPI document (`chat/asyncapi.yaml`) against the frames and
//! broker messages the code really sends.

use protocol::broker::{COMMANDS_EXCHANGE, COMMANDS_QUEUE, RESPONSES_EXCHANGE, RESPONSES_QUEUE};
use protocol::{ErrorCode, Message, ServerFrame};
use serde_norway::Value;

fn asyncapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/asyncapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `type` constants of the document's messages.
fn message_types(document: &Value) -> Vec<String> {
    let messages = document["components"]["messages"].as_mapping().unwrap();
    let mut types = Vec::new();
    for message in messages.values() {
        let payload = &message["payload"];
        let parts =
            payload["allOf"].as_sequence().cloned().unwrap_or_else(|| vec![payload.clone()]);
        for part in parts {
            if let Some(kind) = part["properties"]["type"]["const"].as_str() {
                types.push(kind.to_owned());
            }
        }
    }
    types
}

#[test]
fn every_server_frame_and_error_code_is_documented() {
    let document = asyncapi();
    assert_eq!(document["asyncapi"].as_str(), Some("3.0.0"));
    let types = message_types(&document);
    let message = Message {
        id: uuid::Uuid::nil(),
        chatroom_id: uuid::Uuid::nil(),
        user_id: uuid::Uuid::nil(),
        username: "ann".into(),
        content: "hi".into(),
        is_bot: false,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        client_id: None,
        attachments: Vec::new(),
        reactions: Vec::new(),
        mentions: Vec::new(),
        edited_at: None,
        deleted: false,
        reply_to: None,
        encrypted: None,
    };
    let frames = [
        ServerFrame::ChatMessage(message),
        ServerFrame::UserJoined { username: "ann".into() },
        ServerFrame::UserLeft { username: "ann".into() },
        ServerFrame::Presence { users: vec![], online: None },
        ServerFrame::PresenceDiff { joined: vec![], left: vec![], online: 101 },
        ServerFrame::Typing { username: "ann".into() },
        ServerFrame::Resync,
        ServerFrame::Reactions { message_id: uuid::Uuid::nil(), reactions: vec![] },
        ServerFrame::MemberAdded { username: "bob".into(), by: "ann".into() },
        ServerFrame::MemberRemoved { username: "bob".into(), by: "ann".into() },
        ServerFrame::Error { message: "no".into(), code: ErrorCode::InvalidFrame, client_id: None },
    ];
    for frame in frames {
        let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        let kind = json["type"].as_str().unwrap().to_owned();
        assert!(types.contains(&kind), "{kind} is not in asyncapi.yaml");
    }
    let codes =
        document["components"]["messages"]["error"]["payload"]["properties"]["code"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
    for code in [
        ErrorCode::InvalidFrame,
        ErrorCode::EmptyMessage,
        ErrorCode::MessageTooLong,
        ErrorCode::InvalidStockCode,
        ErrorCode::UnknownCommand,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::LimitReached,
    ] {
        let name = serde_json::to_value(code).unwrap().as_str().unwrap().to_owned();
        assert!(codes.contains(&name), "{name} is not in asyncapi.yaml");
    }
}

#[test]
fn every_notification_frame_is_documented() {
    let document = asyncapi();
    let types = message_types(&document);
    let channel = &document["channels"]["notifications"];
    assert_eq!(channel["address"].as_str(), Some("/ws/notifications"));
    let chatroom = protocol::Chatroom {
        id: uuid::Uuid::nil(),
        name: "Team".into(),
        created_by: uuid::Uuid::nil(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        private: true,
        encrypted: true,
        kind: protocol::RoomKind::Room,
        peer: None,
        epoch: Some(2),
    };
    let frames = [
        protocol::NotificationFrame::Unread {
            chatroom_id: uuid::Uuid::nil(),
            unread: 1,
            mentions: 0,
        },
        protocol::NotificationFrame::RoomAdded { chatroom },
        protocol::NotificationFrame::RoomRemoved { chatroom_id: uuid::Uuid::nil() },
    ];
    for frame in frames {
        let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        let kind = json["type"].as_str().unwrap().to_owned();
        assert!(types.contains(&kind), "{kind} is not in asyncapi.yaml");
        // The channel names its messages in camelCase: room_added is roomAdded.
        let mut parts = kind.split('_');
        let first = parts.next().unwrap_or_default().to_owned();
        let key = parts.fold(first, |key, part| {
            let mut chars = part.chars();
            let head = chars.next().map(|c| c.to_ascii_uppercase().to_string()).unwrap_or_default();
            key + &head + chars.as_str()
        });
        assert!(channel["messages"].get(key.as_str()).is_some(), "{key} not on the channel");
    }
    assert!(types.contains(&"mention".to_owned()));
    assert!(types.contains(&"reaction".to_owned()), "the client's reaction frame");
}

#[test]
fn the_broker_names_are_the_codes() {
    let document = asyncapi();
    let channels = &document["channels"];
    assert_eq!(channels["stockCommands"]["address"].as_str(), Some(COMMANDS_EXCHANGE));
    assert_eq!(channels["stockResponses"]["address"].as_str(), Some(RESPONSES_EXCHANGE));
    let described = format!(
        "{} {}",
        channels["stockCommands"]["description"].as_str().unwrap(),
        channels["stockResponses"]["description"].as_str().unwrap()
    );
    for queue in [COMMANDS_QUEUE, RESPONSES_QUEUE] {
        assert!(described.contains(queue), "{queue} missing");
    }
    // The payloads name exactly the fields the bodies carry.
    let command = protocol::broker::StockCommand {
        command_id: uuid::Uuid::nil(),
        chatroom_id: uuid::Uuid::nil(),
        user_id: uuid::Uuid::nil(),
        code: "AAPL.US".into(),
    };
    let reply = protocol::broker::StockReply {
        command_id: uuid::Uuid::nil(),
        chatroom_id: uuid::Uuid::nil(),
        content: "x".into(),
    };
    for (name, body) in [
        ("stockCommand", serde_json::to_value(command).unwrap()),
        ("stockReply", serde_json::to_value(reply).unwrap()),
    ] {
        let required: Vec<&str> = document["components"]["messages"][name]["payload"]["required"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|field| field.as_str().unwrap())
            .collect();
        let mut fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut required = required;
        required.sort_unstable();
        assert_eq!(fields, required, "{name}");
    }
}
