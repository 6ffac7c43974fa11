//! An open socket's session, watched while the socket lasts: it ends the
//! socket (1008) when the session expires, and asks twice a minute whether
//! the session still holds. A logout closes its sockets at once through the
//! session's closer, here and (over the cluster) on other instances; this
//! check is what still closes them within a minute when that event was
//! missed, as when RabbitMQ was down.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::socket::End;
use crate::auth::{SOCKET_RECHECK, Sessions};

/// Waits until the session of token hash `session` ends; `peer_id` spreads
/// the sockets' checks over the interval rather than all at once.
pub(super) async fn session_ends(
    sessions: &Sessions,
    session: &[u8; 32],
    expires_at: OffsetDateTime,
    peer_id: u64,
) -> End {
    let now = Instant::now();
    let expiry = now + (expires_at - OffsetDateTime::now_utc()).try_into().unwrap_or_default();
    let spread = peer_id.wrapping_mul(7919) % SOCKET_RECHECK.as_millis() as u64;
    let mut next_check = now + Duration::from_millis(spread);
    loop {
        tokio::time::sleep_until(next_check.min(expiry)).await;
        if Instant::now() >= expiry {
            return End::Close(CloseCode::Policy, "session expired");
        }
        next_check += SOCKET_RECHECK;
        // PostgreSQL unreachable: the session is presumed to hold until the
        // next check (its expiry still ends it).
        if let Ok(false) = Box::pin(sessions.still_valid(session)).await {
            return End::Close(CloseCode::Policy, "session ended");
        }
    }
}
