//! A room's members: `GET/POST /chatrooms/{id}/members`,
//! `DELETE /chatrooms/{id}/members/{username}`, and `POST /direct`, the
//! direct room of two people.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use super::Api;
use super::request::{member_of_room, read_json};
use crate::access::authenticate;
use crate::actions::{Actor, Made};
use crate::error::ApiError;
use crate::response::{Body, json_response, success};

#[derive(Deserialize)]
struct Someone {
    username: String,
}

/// `GET /chatrooms/{id}/members`: members only.
pub(super) async fn list(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (_, room, _) = member_of_room(api, request.headers(), room).await?;
    let members = api.store.members(room).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "members": members })))
}

/// `POST /chatrooms/{id}/members` `{username}`: 201 added, 200 a member
/// already; any member may add.
pub(super) async fn add(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, _) = member_of_room(api, request.headers(), room).await?;
    let body: Someone = read_json(request).await?;
    let status =
        match api.actions.add_member(Actor::from(&user), room, body.username.trim()).await? {
            Made::New(()) => StatusCode::CREATED,
            Made::Existing(()) => StatusCode::OK,
        };
    Ok(success(status))
}

/// `DELETE /chatrooms/{id}/members/{username}`: the owner removes anyone
/// else; anyone removes themself (leaving).
pub(super) async fn remove(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
    username: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, _) = member_of_room(api, request.headers(), room).await?;
    api.actions.remove_member(Actor::from(&user), room, username).await?;
    Ok(success(StatusCode::OK))
}

/// `POST /direct` `{username}`: 201 with the pair's new direct room, 200
/// with the one they have.
pub(super) async fn direct(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let body: Someone = read_json(request).await?;
    match api.actions.direct_room(Actor::from(&user), body.username.trim()).await? {
        Made::New(room) => Ok(json_response(StatusCode::CREATED, &room)),
        Made::Existing(room) => Ok(json_response(StatusCode::OK, &room)),
    }
}
