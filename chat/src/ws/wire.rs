//! The WebSocket wire format: server frames as JSON text. The hub hands
//! connections frames as values ([`Outgoing`]); they are encoded here, once
//! per frame whatever the number of recipients. Another encoding would be
//! another module like this one.

use protocol::ServerFrame;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use crate::rooms::Outgoing;

/// The JSON text of `frame`.
pub(super) fn text(frame: &ServerFrame) -> WsMessage {
    WsMessage::Text(json(frame))
}

/// The JSON text of a queued frame: encoded by its first sender, shared after.
pub(crate) fn encoded(outgoing: &Outgoing) -> Utf8Bytes {
    outgoing.encoded(json)
}

fn json(frame: &ServerFrame) -> Utf8Bytes {
    frame.to_json().into()
}
