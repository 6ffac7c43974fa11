//! `PATCH` and `DELETE /chatrooms/{id}/messages/{message_id}`: the REST
//! twins of the `edit` and `delete` frames.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use protocol::Sealed;
use serde::Deserialize;
use uuid::Uuid;

use super::Api;
use super::request::{member_of_room, read_json_up_to};
use crate::actions::{Actor, MessageBody};
use crate::error::ApiError;
use crate::response::{Body, json_response, success};
use crate::store::{Sealing, User};

/// The largest edit: sealed text at its largest, in base64url.
const MAX_EDIT_BYTES: usize = 32 * 1024;

/// `{content}`, or in an encrypted room `{encrypted}`.
#[derive(Deserialize)]
struct NewText {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    encrypted: Option<Sealed>,
}

impl NewText {
    fn into_body(self) -> Result<MessageBody, ApiError> {
        match (self.content, self.encrypted) {
            (Some(content), None) => {
                if protocol::text::check_storable(&content).is_err() {
                    return Err(ApiError::Validation("content must not contain U+0000".into()));
                }
                Ok(MessageBody::Text(content))
            }
            (None, Some(sealed)) => {
                sealed.check().map_err(|why| ApiError::Validation(why.into()))?;
                Ok(MessageBody::Sealed { sealed: Box::new(sealed), attachment_ids: Vec::new() })
            }
            _ => Err(ApiError::Validation("give content or encrypted (one of them)".into())),
        }
    }
}

/// `PATCH`: the author gives the message a new text; 200 with the message.
pub(super) async fn edit(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
    message: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, sealing, message) = message_of_room(api, &request, room, message).await?;
    let body: NewText = read_json_up_to(request, MAX_EDIT_BYTES).await?;
    let body = body.into_body()?;
    api.actions.edit_message(Actor::from(&user), room, sealing, message, body).await?;
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
    let (user, room, _, message) = message_of_room(api, &request, room, message).await?;
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
) -> Result<(User, Uuid, Sealing, Uuid), ApiError> {
    let (user, room, sealing) = member_of_room(api, request.headers(), room).await?;
    let message = message.parse().map_err(|_| ApiError::NotFound("message"))?;
    Ok((user, room, sealing, message))
}
