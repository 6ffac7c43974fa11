//! `GET /api/v1/chatrooms/{id}/messages`: a page of history, oldest first:
//! the newest, older than `before`, or `around` one message (to open a
//! search result or a reply's original in context).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::Api;
use super::request::{limit_param, member_of_room};
use crate::access::query_param;
use crate::error::ApiError;
use crate::response::{Body, json_response};
use crate::store::Before;

/// Messages per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 50;
/// The largest page.
const MAX_LIMIT: i64 = 100;

/// The newest `limit` messages older than `before` (or the newest overall),
/// or `limit` messages around `around`: the half before it, then it and
/// the rest after it.
pub(super) async fn page(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (_, room, _) = member_of_room(api, request.headers(), room).await?;
    let query = request.uri().query();
    let limit = limit_param(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    if let Some(around) = query_param(query, "around") {
        if query_param(query, "before").is_some() {
            return Err(ApiError::Validation("give before or around, not both".into()));
        }
        let anchor: Uuid = around
            .parse()
            .map_err(|_| ApiError::Validation("around must be a message id".into()))?;
        let older = (limit - 1) / 2;
        let messages =
            api.store.messages_around(room, anchor, older, limit - older).await?.ok_or_else(
                || ApiError::Validation("around names no message of this chatroom".into()),
            )?;
        return Ok(json_response(StatusCode::OK, &serde_json::json!({ "messages": messages })));
    }
    let before = query_param(query, "before").map(|text| parse_before(&text)).transpose()?;
    let messages =
        api.store.recent_messages(room, limit, before).await?.ok_or_else(|| {
            ApiError::Validation("before names no message of this chatroom".into())
        })?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "messages": messages })))
}

/// A message id, or an RFC 3339 time (a `+` offset may arrive decoded as a space).
fn parse_before(text: &str) -> Result<Before, ApiError> {
    if let Ok(id) = text.parse::<Uuid>() {
        return Ok(Before::Message(id));
    }
    OffsetDateTime::parse(&text.replace(' ', "+"), &Rfc3339)
        .map(Before::Time)
        .map_err(|_| ApiError::Validation("before must be a message id or an RFC 3339 time".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_is_an_id_or_a_time() {
        let id = Uuid::now_v7();
        assert_eq!(parse_before(&id.to_string()).ok(), Some(Before::Message(id)));
        assert!(matches!(parse_before("2024-01-05T22:00:04Z"), Ok(Before::Time(_))));
        assert!(matches!(parse_before("2024-01-05T22:00:04 01:00"), Ok(Before::Time(_))));
        for bad in ["", "yesterday", "2024-13-01T00:00:00Z", "1234"] {
            assert!(parse_before(bad).is_err(), "{bad}");
        }
    }
}
