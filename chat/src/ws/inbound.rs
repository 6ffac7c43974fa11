//! A connection's receiving half: client frames, one at a time, each applied
//! by its command before the next is read, so a user's commands keep their
//! order; silence for the idle timeout ends the connection.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use protocol::ErrorCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use super::commands::{self, Context};
use super::socket::{End, Socket};

/// Reads and applies frames until the client leaves, breaks the protocol or
/// stays silent (pongs included) for `idle_timeout`.
pub(super) async fn read(
    stream: &mut SplitStream<Socket>,
    context: &mut Context,
    idle_timeout: Duration,
) -> End {
    loop {
        let Ok(incoming) = tokio::time::timeout(idle_timeout, stream.next()).await else {
            return End::Close(CloseCode::Away, "idle timeout");
        };
        match incoming {
            None => return End::Gone,
            // Rare or long steps are boxed: an idle connection's future then
            // holds only what waiting needs, not their largest state.
            Some(Ok(WsMessage::Text(frame))) => Box::pin(commands::apply(context, &frame)).await,
            Some(Ok(WsMessage::Binary(_))) => {
                context.refuse(ErrorCode::InvalidFrame, "frames are JSON text".into(), None);
            }
            // Pings are answered by tungstenite; a close is answered on the next read.
            Some(Ok(_)) => {}
            Some(Err(tungstenite::Error::Capacity(_))) => {
                return End::Close(CloseCode::Size, "frame larger than 64 KiB");
            }
            Some(Err(tungstenite::Error::Utf8(_))) => {
                return End::Close(CloseCode::Invalid, "text frame is not UTF-8");
            }
            Some(Err(error)) => {
                context.span().in_scope(|| tracing::debug!(%error, "read failed"));
                return End::Gone;
            }
        }
    }
}
