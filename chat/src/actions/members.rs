//! Rooms and their members: creating a room, adding and removing members
//! (leaving included), and the direct room of two people. Each change is a
//! room event, so every instance closes a removed member's sockets and
//! tells the people concerned at once.

use protocol::Chatroom;
use uuid::Uuid;

use super::{Actor, RoomActions};
use crate::auth::validate_username;
use crate::error::ApiError;
use crate::rooms::RoomEvent;
use crate::store::{Added, DirectRoom, Removed, Sealing};

/// Whether an action made something new or found it made already.
#[derive(Debug)]
pub(crate) enum Made<T> {
    /// Made now.
    New(T),
    /// There already.
    Existing(T),
}

impl RoomActions {
    /// Creates a room owned by `actor`, its first member; private rooms are
    /// seen only by their members. A public room's taken name is 409. An
    /// encrypted room (private) needs its creator's identity key, to share
    /// its first key with.
    pub(crate) async fn create_room(
        &self,
        actor: Actor<'_>,
        name: &str,
        private: bool,
        sealing: Sealing,
    ) -> Result<Chatroom, ApiError> {
        if sealing == Sealing::Encrypted && self.store.identity_key(actor.id).await?.is_none() {
            return Err(ApiError::IdentityKeyNeeded(
                "an encrypted room needs your identity key first (PUT /api/v1/keys)".into(),
            ));
        }
        let room =
            self.store.create_room(name, actor.id, private, sealing).await.map_err(|error| {
                if error.is_unique_violation() { ApiError::ChatroomExists } else { error.into() }
            })?;
        tracing::info!(chatroom_id = %room.id, private = room.private, encrypted = room.encrypted, "created room");
        self.unread_changed(actor, room.id).await;
        Ok(room)
    }

    /// Adds the user named `username` to `room`, as its member `actor` asks.
    pub(crate) async fn add_member(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        username: &str,
    ) -> Result<Made<()>, ApiError> {
        match self.store.add_member(room, someone(username)?).await? {
            Added::Now(person, chatroom) => {
                self.rooms.publish(RoomEvent::MemberAdded {
                    chatroom: *chatroom,
                    user_id: person.id,
                    username: person.username,
                    by: actor.username.to_owned(),
                });
                Ok(Made::New(()))
            }
            Added::Already => Ok(Made::Existing(())),
            Added::NoUser => Err(ApiError::UserNotFound),
            Added::NoRoom => Err(ApiError::NotFound("chatroom")),
            Added::Direct => Err(ApiError::DirectRoom),
            Added::NoIdentityKey(name) => Err(ApiError::IdentityKeyNeeded(format!(
                "{name} has no identity key yet, so cannot receive this encrypted room's key"
            ))),
        }
    }

    /// Removes the user named `username` from `room` as `actor` asks: the
    /// owner removes anyone else, anyone removes themself.
    pub(crate) async fn remove_member(
        &self,
        actor: Actor<'_>,
        room: Uuid,
        username: &str,
    ) -> Result<(), ApiError> {
        match self.store.remove_member(room, someone(username)?, actor.id).await? {
            Removed::Gone(person) => {
                self.rooms.publish(RoomEvent::MemberRemoved {
                    chatroom_id: room,
                    user_id: person.id,
                    username: person.username,
                    by: actor.username.to_owned(),
                });
                Ok(())
            }
            Removed::NoUser => Err(ApiError::UserNotFound),
            Removed::NotMember => Err(ApiError::NotFound("member")),
            Removed::Forbidden => Err(ApiError::Forbidden("only the room's owner removes others")),
            Removed::Direct => Err(ApiError::DirectRoom),
        }
    }

    /// The direct room of `actor` and the user named `username`, made on
    /// first ask (and then announced to both).
    pub(crate) async fn direct_room(
        &self,
        actor: Actor<'_>,
        username: &str,
    ) -> Result<Made<Chatroom>, ApiError> {
        match self.store.direct_room(actor.id, someone(username)?).await? {
            DirectRoom::NoUser => Err(ApiError::UserNotFound),
            DirectRoom::Found { room, created: None } => Ok(Made::Existing(*room)),
            DirectRoom::Found { room, created: Some((peer, theirs)) } => {
                self.unread_changed(actor, room.id).await;
                if peer.id != actor.id {
                    self.rooms.publish(RoomEvent::MemberAdded {
                        chatroom: *theirs,
                        user_id: peer.id,
                        username: peer.username,
                        by: actor.username.to_owned(),
                    });
                }
                Ok(Made::New(*room))
            }
        }
    }
}

/// `username` when it could name someone; anything else names nobody
/// (and never reaches a query: no U+0000, no 10 KiB names).
fn someone(username: &str) -> Result<&str, ApiError> {
    validate_username(username).map(|()| username).map_err(|_| ApiError::UserNotFound)
}
