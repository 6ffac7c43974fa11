//! `typing`: passed on to the rest of the room; the room decides how often.

use super::Context;

/// Passes the notice on.
pub(super) fn apply(context: &Context) {
    context.actions.typing(context.actor(), context.room_id);
}
