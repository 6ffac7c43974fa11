//! `ClientFrame::decode` on arbitrary UTF-8: it never panics, only accepts
//! JSON objects, an accepted chat message keeps a client_id of 1-64
//! characters and no U+0000 in its text (PostgreSQL cannot store it), and an
//! accepted frame written back as JSON decodes to itself.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use protocol::ClientFrame;
use protocol::frames::MAX_CLIENT_ID_CHARS;
use serde::de::IgnoredAny;
use serde_json::json;

fuzz_target!(|text: &str| {
    let Ok(frame) = ClientFrame::decode(text) else {
        return;
    };
    // An object, read as leniently as decode reads unknown fields (they may
    // hold lone surrogates, which a `Value` refuses and decode ignores).
    let object = serde_json::from_str::<HashMap<String, IgnoredAny>>(text);
    assert!(object.is_ok(), "accepted a non-object: {text:?}");
    let written = match &frame {
        ClientFrame::ChatMessage { content, client_id } => {
            if let Some(id) = client_id {
                assert!((1..=MAX_CLIENT_ID_CHARS).contains(&id.chars().count()), "{id:?}");
                assert!(!id.contains('\0'), "{id:?}");
            }
            assert!(!content.contains('\0'), "{content:?}");
            json!({ "type": "chat_message", "content": content, "client_id": client_id })
        }
        ClientFrame::Typing => json!({ "type": "typing" }),
        ClientFrame::Reaction { message_id, emoji, on } => {
            json!({ "type": "reaction", "message_id": message_id, "emoji": emoji, "on": on })
        }
    };
    assert_eq!(ClientFrame::decode(&written.to_string()), Ok(frame));
});
