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
    let (user, room) = member_of_room(api, request.headers(), room).await?;
    let message = message_id(message)?;
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
    let (user, room) = member_of_room(api, request.headers(), room).await?;
    let message = message_id(message)?;
    api.actions.delete_message(Actor::from(&user), room, message).await?;
    Ok(success(StatusCode::OK))
}

/// A malformed id names no message of the room.
fn message_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound("message"))
}
