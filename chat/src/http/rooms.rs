//! `/api/v1/chatrooms`: list (with what the user has not read), create,
//! join, and move the read marker.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use uuid::Uuid;

use super::Api;
use super::request::{member_of_room, read_json, room_id};
use crate::access::authenticate;
use crate::actions::Actor;
use crate::auth::validate_room_name;
use crate::error::ApiError;
use crate::response::{Body, json_response, success};
use crate::store::Sealing;

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    encrypted: bool,
}

/// `GET /chatrooms`: every public room and the caller's private ones, with
/// `is_member`, and for members their `unread` and `mentions`.
pub(super) async fn list(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let chatrooms = api.store.rooms_for(user.id, &user.username).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "chatrooms": chatrooms })))
}

#[derive(Deserialize)]
struct ReadBody {
    message_id: Uuid,
}

/// `POST /chatrooms/{id}/read` `{"message_id"}`: moves the member's read
/// marker forward to that message (never back).
pub(super) async fn read(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, _) = member_of_room(api, request.headers(), room).await?;
    let body: ReadBody = read_json(request).await?;
    api.actions.mark_read(Actor::from(&user), room, body.message_id).await?;
    Ok(success(StatusCode::OK))
}

/// `POST /chatrooms` `{name, private?, encrypted?}`: 201 with the room; its
/// creator is its owner and first member. An encrypted room is private.
pub(super) async fn create(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    api.room_limit.check(&user.id).map_err(|wait| ApiError::limited("rooms", wait))?;
    let body: CreateBody = read_json(request).await?;
    let name = validate_room_name(&body.name).map_err(|e| ApiError::Validation(e.into()))?;
    let sealing = if body.encrypted { Sealing::Encrypted } else { Sealing::Plain };
    let room = api.actions.create_room(Actor::from(&user), name, body.private, sealing).await?;
    Ok(json_response(StatusCode::CREATED, &room))
}

/// `POST /chatrooms/{id}/join`: idempotent.
pub(super) async fn join(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let room = room_id(room)?;
    api.actions.join(Actor::from(&user), room).await?;
    Ok(success(StatusCode::OK))
}
