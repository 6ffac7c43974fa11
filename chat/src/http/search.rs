//! `GET /api/v1/search?q=…&chatroom_id=…&before=…&limit=…`: messages of the
//! caller's rooms whose words match, newest first.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use uuid::Uuid;

use super::Api;
use super::request::limit_param;
use crate::access::{authenticate, query_param, require_member};
use crate::error::ApiError;
use crate::response::{Body, json_response};
use crate::store::{MAX_QUERY_CHARS, Search};

/// Results unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 20;
/// The most results at once.
const MAX_LIMIT: i64 = 50;

/// 200 `{"results": [Message]}`; 400 for a missing, blank or overlong `q`
/// or a malformed parameter; `chatroom_id` answers like the room's own
/// endpoints (404 unknown or private, 403 not a member).
pub(super) async fn search(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let query = request.uri().query();
    let words = query_param(query, "q").unwrap_or_default();
    let words = words.trim();
    if words.is_empty() || words.chars().count() > MAX_QUERY_CHARS || words.contains('\0') {
        return Err(ApiError::Validation(format!(
            "q must be 1-{MAX_QUERY_CHARS} characters, without U+0000"
        )));
    }
    let limit = limit_param(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    let id = |name: &'static str| -> Result<Option<Uuid>, ApiError> {
        query_param(query, name)
            .map(|text| text.parse::<Uuid>())
            .transpose()
            .map_err(|_| ApiError::Validation(format!("{name} must be a UUID")))
    };
    let (room, before) = (id("chatroom_id")?, id("before")?);
    if let Some(room) = room {
        require_member(&api.store, room, user.id).await?;
    }
    let search = Search { user: user.id, query: words, room, before, limit };
    let results = api.store.search(&search).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "results": results })))
}
