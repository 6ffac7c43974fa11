//! Criterion benchmarks of the hot paths (`cargo bench -p benches`), and the
//! inputs they share.
//!
//! # Layout
//!
//! - `benches/frames.rs`: `ClientFrame::decode` on the frames clients send.
//! - `benches/fanout.rs`: one stored message encoded once as a `ServerFrame`
//!   and queued to N subscribers' bounded channels with `try_send`, as the
//!   server's room fan-out does.
//! - `benches/stooq.rs`: the bot's csv-core classification of Stooq bodies.
//! - `benches/session.rs`: SHA-256 of a session token, done on every
//!   authenticated request and WebSocket handshake.
//! - this file: the inputs (frames, a stored message, Stooq bodies, a token).

use protocol::Message;
use time::OffsetDateTime;
use uuid::Uuid;

/// Typical client frames, by name: what the browser and older clients send.
pub fn client_frames() -> Vec<(&'static str, String)> {
    let text = "x".repeat(100);
    let long = "y".repeat(1000);
    let client_id = "2f1c9a4e-7b1d-4c55-9a70-3c1e5d2b8f10";
    vec![
        (
            "chat_message_100",
            format!(r#"{{"type":"chat_message","content":"{text}","client_id":"{client_id}"}}"#),
        ),
        (
            "chat_message_1000",
            format!(r#"{{"type":"chat_message","content":"{long}","client_id":"{client_id}"}}"#),
        ),
        ("untyped_legacy", format!(r#"{{"content":"{text}"}}"#)),
        (
            "stock_command",
            format!(
                r#"{{"type":"chat_message","content":"/stock=AAPL.US","client_id":"{client_id}"}}"#
            ),
        ),
        ("typing", r#"{"type":"typing"}"#.to_owned()),
    ]
}

/// A stored message as the room writer broadcasts it, with `content_len` characters.
pub fn stored_message(content_len: usize) -> Message {
    Message {
        id: Uuid::now_v7(),
        chatroom_id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        username: "lt_a_123".to_owned(),
        content: "x".repeat(content_len),
        is_bot: false,
        created_at: OffsetDateTime::now_utc(),
        client_id: Some("2f1c9a4e-7b1d-4c55-9a70-3c1e5d2b8f10".to_owned()),
        attachments: Vec::new(),
        reactions: Vec::new(),
        mentions: Vec::new(),
        edited_at: None,
        deleted: false,
        reply_to: None,
        encrypted: None,
    }
}

/// Stooq bodies, by name: the fixtures the bot's tests use, plus a page that is not CSV.
pub fn stooq_bodies() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("quote", include_bytes!("../../testkit/fixtures/stooq/quote-aapl.csv")),
        ("quote_lf", include_bytes!("../../testkit/fixtures/stooq/quote-msft-lf.csv")),
        ("unknown_symbol", include_bytes!("../../testkit/fixtures/stooq/unknown-symbol.csv")),
        ("html_challenge", b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"),
    ]
}

/// A session token as the cookie carries it: 32 bytes in unpadded base64url, 43 characters.
pub const SESSION_TOKEN: &str = "q3Zr0xN1Vb9yKp4T_hw2E-uLc7Qd8sGm5fYjA6oRkXi";

#[cfg(test)]
mod tests {
    use protocol::{ClientFrame, ServerFrame};

    use super::*;

    #[test]
    fn inputs_are_what_they_claim() {
        assert_eq!(SESSION_TOKEN.len(), 43);
        for (name, frame) in client_frames() {
            assert!(ClientFrame::decode(&frame).is_ok(), "{name}");
        }
        let json = ServerFrame::ChatMessage(stored_message(100)).to_json();
        assert!(json.starts_with(r#"{"type":"chat_message""#));
        assert_eq!(stooq_bodies().len(), 4);
    }
}
