//! Joining a room, and moving a member's read marker: both change what the
//! user's notification sockets show.

use uuid::Uuid;

use super::{Actor, RoomActions};
use crate::error::ApiError;
use crate::store::Marked;

impl RoomActions {
    /// Makes `actor` a member of `room` (idempotent); 404 when there is no
    /// such room.
    pub(crate) async fn join(&self, actor: Actor<'_>, room: Uuid) -> Result<(), ApiError> {
        if !self.store.join_room(room, actor.id).await? {
            return Err(ApiError::NotFound("chatroom"));
        }
        self.unread_changed(actor, room).await;
        Ok(())
    }

    /// Moves `actor`'s read marker in `room` forward to `message` (never
    /// back); 404 when the room has no such message.
    pub(crate) async fn mark_read(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        message: Uuid,
    ) -> Result<(), ApiError> {
        match self.store.mark_read(room, actor.id, message).await? {
            Marked::NoMessage => Err(ApiError::NotFound("message")),
            Marked::Done => {
                self.unread_changed(actor, room).await;
                Ok(())
            }
        }
    }

    /// Tells `actor`'s notification sockets (here and elsewhere) their
    /// figures in `room`. They are read only where the user watches: the
    /// page marks a room read as messages arrive, so most reads concern
    /// nobody watching here.
    pub(crate) async fn unread_changed(&self, actor: Actor<'_>, room: Uuid) {
        self.rooms.unread_changed(actor.id, actor.username, room);
        self.rooms.watchers().refresh(&self.store, actor.id, actor.username, room).await;
    }
}
