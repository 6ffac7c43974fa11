//! Reading REST requests: who sends it and about which room, bounded JSON
//! bodies, the login limit, cross-site writes.

use http::{HeaderMap, Request, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use uuid::Uuid;

use super::Api;
use crate::access::{ClientAddr, Origins, authenticate, require_member};
use crate::error::ApiError;
use crate::limits::{AddressGroup, Limiter};
use crate::store::{Sealing, User};

/// How long a client may take to send its body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest JSON body accepted; the biggest legitimate one is a registration.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// The room a path's `{id}` names: 400 `VALIDATION_ERROR` when it is not a
/// UUID, whichever endpoint it is. Recorded on the request's span.
pub(super) fn room_id(segment: &str) -> Result<Uuid, ApiError> {
    let room: Uuid =
        segment.parse().map_err(|_| ApiError::Validation("chatroom id is not a UUID".into()))?;
    tracing::Span::current().record("chatroom_id", tracing::field::display(room));
    Ok(room)
}

/// The prologue of every endpoint under `/chatrooms/{id}/` but join: the
/// session's user (401), the room's id (400), and that the user is one of its
/// members (404 no such room, 403 `NOT_A_MEMBER`), checked in that order.
pub(super) async fn member_of_room(
    api: &Api,
    headers: &HeaderMap,
    segment: &str,
) -> Result<(User, Uuid, Sealing), ApiError> {
    let (user, _) = authenticate(&api.sessions, headers).await?;
    let room = room_id(segment)?;
    let sealing = require_member(&api.store, room, user.id).await?;
    Ok((user, room, sealing))
}

/// The `limit` query parameter: `default` when absent, else 1 to `max`
/// (400 otherwise).
pub(super) fn limit_param(query: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match crate::access::query_param(query, "limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::Validation(format!("limit must be 1-{max}"))),
    }
}

/// Reads and decodes a JSON body of at most [`MAX_BODY_BYTES`].
pub(super) async fn read_json<T: DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, ApiError> {
    read_json_up_to(request, MAX_BODY_BYTES).await
}

/// Reads and decodes a JSON body of at most `max_bytes`: for the few bodies
/// that carry ciphertext or a key for each member.
pub(super) async fn read_json_up_to<T: DeserializeOwned>(
    request: Request<Incoming>,
    max_bytes: usize,
) -> Result<T, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes as u64) {
        return Err(ApiError::PayloadTooLarge(max_bytes));
    }
    let collect = Limited::new(request.into_body(), max_bytes).collect();
    let body = tokio::time::timeout(BODY_TIMEOUT, collect)
        .await
        .map_err(|_| ApiError::RequestTimeout)?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge(max_bytes)
            } else {
                ApiError::Validation("the request body could not be read".into())
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))
}

/// Counts one attempt at `name`d work from the request's client IP; 429
/// (counted under `name`) when over the limit.
pub(super) fn check_client_limit(
    name: &'static str,
    limit: &Limiter<AddressGroup>,
    request: &Request<Incoming>,
) -> Result<(), ApiError> {
    let Some(ClientAddr(ip)) = request.extensions().get::<ClientAddr>().copied() else {
        return Ok(());
    };
    limit.check(&ip.into()).map_err(|wait| ApiError::limited(name, wait))
}

/// Refuses a state-changing request sent from another site.
pub(super) fn check_csrf(origins: &Origins, headers: &HeaderMap) -> Result<(), ApiError> {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site || !origins.allow(headers) {
        return Err(ApiError::CsrfRejected);
    }
    Ok(())
}
