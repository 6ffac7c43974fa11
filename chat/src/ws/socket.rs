//! The upgraded socket, and how a connection ends.

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A WebSocket over an upgraded HTTP connection.
pub(super) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Why a connection ended, and so how the socket closes.
pub(super) enum End {
    /// The client closed or vanished: nothing more to send.
    Gone,
    /// The server closes with this code.
    Close(CloseCode, &'static str),
    /// Too slow: `resync`, then 1013.
    Slow,
}
