//! `/api/v1/chatrooms`: list, create, join.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use uuid::Uuid;

use super::Api;
use super::request::read_json;
use crate::ApiError;
use crate::access::authenticate;
use crate::auth::validate_room_name;
use crate::response::{Body, json_response};

#[derive(Deserialize)]
struct CreateBody {
    name: String,
}

/// `GET /chatrooms`: every room.
pub(super) async fn list(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    authenticate(&api.sessions, request.headers()).await?;
    let chatrooms = api.store.list_rooms().await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "chatrooms": chatrooms })))
}

/// `POST /chatrooms`: 201 with the room; its creator is a member.
pub(super) async fn create(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    api.room_limit.check(&user.id).map_err(|wait| crate::limits::refused("rooms", wait))?;
    let body: CreateBody = read_json(request).await?;
    let name = validate_room_name(&body.name).map_err(|e| ApiError::Validation(e.into()))?;
    let room =
        api.store.create_room(name, user.id).await.map_err(|e| {
            if e.is_unique_violation() { ApiError::ChatroomExists } else { e.into() }
        })?;
    tracing::info!(chatroom_id = %room.id, "created room");
    Ok(json_response(StatusCode::CREATED, &room))
}

/// `POST /chatrooms/{id}/join`: idempotent.
pub(super) async fn join(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let room: Uuid = room.parse().map_err(|_| ApiError::NotFound("chatroom"))?;
    tracing::Span::current().record("chatroom_id", tracing::field::display(room));
    if !api.store.join_room(room, user.id).await? {
        return Err(ApiError::NotFound("chatroom"));
    }
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "success": true })))
}
