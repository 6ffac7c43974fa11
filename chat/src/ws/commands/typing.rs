//! `typing`: passed on to the rest of the room at most once per
//! [`TYPING_INTERVAL`] per connection.

use std::time::{Duration, Instant};

use super::Context;

/// A connection's typing frames are passed on at most this often.
const TYPING_INTERVAL: Duration = Duration::from_secs(1);

/// Passes the notice on unless one went out within the interval.
pub(super) fn apply(context: &mut Context) {
    let now = Instant::now();
    if context.last_typing.is_some_and(|last| now.duration_since(last) < TYPING_INTERVAL) {
        return;
    }
    context.last_typing = Some(now);
    context.actions.typing(context.actor(), context.room_id);
}
