//! `PATCH` and `DELETE /chatrooms/{id}/messages/{message_id}`: the REST
//! twins of the `edit` and `delete` frames.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use uuid::Uuid;

use super::Api;
use super::request::{member_of_room, read_json};
use crate::actions::Actor;
use crate::error::ApiError;
use crate::response::{Body, json_response, success};
use crate::store::User;

#[derive(Deserialize)]
struct NewText {
    content: String,
}

/// `PATCH`: the author gives the message a new text; 200 with the message.
pub(super) async fn edit(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
    message: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, message) = message_of_room(api, &request, room, message).await?;
    let body: NewText = read_json(request).await?;
    if protocol::text::check_storable(&body.content).is_err() {
        return Err(ApiError::Validation("content must not contain U+0000".into()));
    }
    api.actions.edit_message(Actor::from(&user), room, message, &body.content).await?;
    let edited = api.store.message_in(room, message).await?.ok_or(ApiError::NotFound("message"))?;
    Ok(json_response(StatusCode::OK, &edited))
}

/// `DELETE`: the author or the room's owner deletes the message.
pub(super) async fn delete(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
    message: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, message) = message_of_room(api, &request, room, message).await?;
    api.actions.delete_message(Actor::from(&user), room, message).await?;
    Ok(success(StatusCode::OK))
}

/// The room's prologue (see `member_of_room`), then the message's id: a
/// malformed one names no message of the room (404).
async fn message_of_room(
    api: &Api,
    request: &Request<Incoming>,
    room: &str,
    message: &str,
) -> Result<(User, Uuid, Uuid), ApiError> {
    let (user, room) = member_of_room(api, request.headers(), room).await?;
    let message = message.parse().map_err(|_| ApiError::NotFound("message"))?;
    Ok((user, room, message))
}
