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

fuzz_target!(|text: &str| {
    let Ok(frame) = ClientFrame::decode(text) else {
        return;
    };
    // An object, read as leniently as decode reads unknown fields (they may
    // hold lone surrogates, which a `Value` refuses and decode ignores).
    let object = serde_json::from_str::<HashMap<String, IgnoredAny>>(text);
    assert!(object.is_ok(), "accepted a non-object: {text:?}");
    match &frame {
        ClientFrame::ChatMessage { content, client_id, encrypted, attachment_ids, .. } => {
            if let Some(id) = client_id {
                assert!((1..=MAX_CLIENT_ID_CHARS).contains(&id.chars().count()), "{id:?}");
                assert!(!id.contains('\0'), "{id:?}");
            }
            assert!(!content.contains('\0'), "{content:?}");
            if let Some(sealed) = encrypted {
                assert!(content.is_empty() && sealed.check().is_ok(), "{text:?}");
            } else {
                assert!(attachment_ids.is_empty(), "{text:?}");
            }
        }
        ClientFrame::Edit { content, .. } => assert!(!content.contains('\0'), "{content:?}"),
        _ => {}
    }
    assert_eq!(ClientFrame::decode(&frame.to_json()), Ok(frame));
});
