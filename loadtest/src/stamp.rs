//! What a load-test message carries so that every receiver can check it on
//! its own: the run, the sender, the sender's sequence number, and the time
//! the message was meant to be sent.
//!
//! ```text
//! content:   "lt <nonce hex> <sender> <seq> <intended µs> xxxxxxxx…"   (padded to --payload bytes)
//! client_id: "<nonce hex>-<sender>-<seq>"
//! ```
//!
//! The nonce is random per run: users and rooms are reused across runs, and a
//! `client_id` seen before would be answered with the old stored copy.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use protocol::{ClientFrame, Sealed};
use std::fmt::Write as _;

/// Every stamped content starts with this word.
const TAG: &str = "lt";

/// The identity and schedule of one load-test message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The sender's user index in the run (not its room-local index).
    pub(crate) sender: u32,
    /// 0, 1, 2… per sender, in the order it sent them.
    pub(crate) seq: u32,
    /// When it was meant to be sent, in µs since the run's epoch: latency is
    /// counted from here, so a sender that fell behind cannot hide it.
    pub(crate) intended_us: u64,
}

impl Stamp {
    /// The message text: the stamp, then `x` padding up to `payload` bytes
    /// (never shorter than the stamp itself).
    pub(crate) fn content(&self, nonce: u32, payload: usize) -> String {
        let mut text = String::with_capacity(payload.max(48));
        let _ = write!(text, "{TAG} {nonce:08x} {} {} {}", self.sender, self.seq, self.intended_us);
        if text.len() + 1 < payload {
            text.push(' ');
            text.extend(std::iter::repeat_n('x', payload - text.len()));
        }
        text
    }

    /// The idempotency key of this message in this run.
    pub(crate) fn client_id(&self, nonce: u32) -> String {
        format!("{nonce:08x}-{}-{}", self.sender, self.seq)
    }

    /// Reads a stamp back from a delivered content; `None` for anything that
    /// is not a message of the run `nonce` (other runs, people, the bot).
    pub(crate) fn parse(nonce: u32, content: &str) -> Option<Self> {
        let mut words = content.split_ascii_whitespace();
        if words.next()? != TAG || u32::from_str_radix(words.next()?, 16).ok()? != nonce {
            return None;
        }
        Some(Self {
            sender: words.next()?.parse().ok()?,
            seq: words.next()?.parse().ok()?,
            intended_us: words.next()?.parse().ok()?,
        })
    }
}

/// The frame of an encrypted room's message whose ciphertext is `content`'s
/// bytes (and a 16-byte tag's worth of zeros): the size a sealed message of
/// that text has, and a stamp every receiver reads back with [`unseal`].
pub(crate) fn sealed_frame(content: &str, client_id: &str) -> String {
    let mut bytes = content.as_bytes().to_vec();
    bytes.extend_from_slice(&[0; protocol::sealed::TAG_BYTES]);
    let sealed = Sealed {
        epoch: 1,
        iv: URL_SAFE_NO_PAD.encode(rand::random::<[u8; protocol::sealed::IV_BYTES]>()),
        ciphertext: URL_SAFE_NO_PAD.encode(&bytes),
    };
    ClientFrame::ChatMessage {
        content: String::new(),
        client_id: Some(client_id.to_owned()),
        reply_to: None,
        encrypted: Some(Box::new(sealed)),
        attachment_ids: Vec::new(),
    }
    .to_json()
}

/// The content a [`sealed_frame`]'s ciphertext carries.
pub(crate) fn unseal(ciphertext: &str) -> Option<String> {
    let mut bytes = URL_SAFE_NO_PAD.decode(ciphertext).ok()?;
    bytes.truncate(bytes.len().checked_sub(protocol::sealed::TAG_BYTES)?);
    String::from_utf8(bytes).ok()
}

/// The `chat_message` frame carrying `content`, with `client_id`.
pub(crate) fn chat_frame(content: &str, client_id: &str) -> String {
    ClientFrame::ChatMessage {
        content: content.to_owned(),
        client_id: Some(client_id.to_owned()),
        reply_to: None,
        encrypted: None,
        attachment_ids: Vec::new(),
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use protocol::ClientFrame;

    use super::*;

    const NONCE: u32 = 0x00c0_ffee;

    #[test]
    fn content_round_trips_and_is_padded_to_the_payload() {
        let stamp = Stamp { sender: 917, seq: 42, intended_us: 9_876_543 };
        let content = stamp.content(NONCE, 200);
        assert_eq!(content.len(), 200);
        assert!(content.starts_with("lt 00c0ffee 917 42 9876543 xx"));
        assert_eq!(Stamp::parse(NONCE, &content), Some(stamp));
        // A payload smaller than the stamp gives the bare stamp.
        assert_eq!(stamp.content(NONCE, 5), "lt 00c0ffee 917 42 9876543");
        assert_eq!(Stamp::parse(NONCE, &stamp.content(NONCE, 5)), Some(stamp));
    }

    #[test]
    fn foreign_contents_are_not_stamps() {
        let stamp = Stamp { sender: 1, seq: 2, intended_us: 3 };
        assert_eq!(Stamp::parse(NONCE + 1, &stamp.content(NONCE, 64)), None);
        for other in ["", "hello", "lt", "lt 00c0ffee", "lt 00c0ffee 1 2", "lt 00c0ffee a 2 3"] {
            assert_eq!(Stamp::parse(NONCE, other), None, "{other:?}");
        }
    }

    #[test]
    fn a_sealed_frame_carries_the_stamp_in_its_ciphertext() {
        let stamp = Stamp { sender: 4, seq: 9, intended_us: 77 };
        let content = stamp.content(NONCE, 100);
        let Ok(ClientFrame::ChatMessage { encrypted: Some(sealed), content: text, .. }) =
            ClientFrame::decode(&sealed_frame(&content, "c"))
        else {
            panic!("a sealed chat message");
        };
        assert!(text.is_empty() && sealed.check().is_ok());
        assert_eq!(unseal(&sealed.ciphertext).as_deref(), Some(content.as_str()));
    }

    #[test]
    fn frame_decodes_as_the_protocol_chat_message() {
        let stamp = Stamp { sender: 3, seq: 7, intended_us: 1000 };
        let (content, client_id) = (stamp.content(NONCE, 100), stamp.client_id(NONCE));
        assert!(client_id.chars().count() <= protocol::frames::MAX_CLIENT_ID_CHARS);
        assert_eq!(
            ClientFrame::decode(&chat_frame(&content, &client_id)),
            Ok(ClientFrame::ChatMessage {
                content,
                client_id: Some(client_id),
                reply_to: None,
                encrypted: None,
                attachment_ids: Vec::new(),
            })
        );
    }
}
