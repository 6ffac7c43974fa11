//! An encrypted room's keys: `GET /chatrooms/{id}/keys` (the caller's
//! envelopes, who lacks the current key, whether a rotation is due) and
//! `POST /chatrooms/{id}/keys` (envelopes at the current epoch, or a
//! rotation to the next). Members only; the server checks each envelope's
//! shape and recipient, never its contents.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use super::Api;
use super::keys::{decode, public_key};
use super::request::{member_of_room, read_json_up_to};
use crate::error::ApiError;
use crate::response::{Body, json_response};
use crate::store::{Envelope, NewEnvelope, Shared};

/// A body of envelopes: about 200 bytes each, so a rotation of a room of
/// some thousands of members.
const MAX_KEYS_BYTES: usize = 1024 * 1024;
/// AES-KW of a 32-byte key.
const WRAPPED_KEY_BYTES: usize = 40;

#[derive(Deserialize)]
struct SharedKeys {
    epoch: u32,
    envelopes: Vec<WireEnvelope>,
}

#[derive(Deserialize)]
struct WireEnvelope {
    recipient: String,
    ephemeral_public_key: String,
    wrapped_key: String,
}

/// `GET`: 200 `{epoch, envelopes, missing, rotation_needed}`.
pub(super) async fn list(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, _) = member_of_room(api, request.headers(), room).await?;
    let keys = api.store.room_keys(room, user.id).await?.ok_or(ApiError::NotFound("room key"))?;
    let envelopes: Vec<serde_json::Value> = keys.envelopes.iter().map(envelope_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "epoch": keys.epoch,
            "envelopes": envelopes,
            "missing": keys.missing,
            "rotation_needed": keys.rotation_needed,
        }),
    ))
}

/// `POST`: 200 `{epoch, added}` at the current epoch, 201 `{epoch, added}`
/// for a rotation.
pub(super) async fn share(
    api: &Api,
    request: Request<Incoming>,
    room: &str,
) -> Result<Response<Body>, ApiError> {
    let (user, room, _) = member_of_room(api, request.headers(), room).await?;
    let body: SharedKeys = read_json_up_to(request, MAX_KEYS_BYTES).await?;
    if body.envelopes.is_empty() {
        return Err(ApiError::Validation("envelopes must not be empty".into()));
    }
    let mut envelopes = Vec::with_capacity(body.envelopes.len());
    for wire in body.envelopes {
        let recipient = wire.recipient;
        if protocol::text::check_storable(&recipient).is_err() || recipient.len() > 64 {
            return Err(ApiError::Validation("recipient must be a member's username".into()));
        }
        if envelopes.iter().any(|e: &NewEnvelope| e.recipient.eq_ignore_ascii_case(&recipient)) {
            return Err(ApiError::Validation(format!("two envelopes for {recipient}")));
        }
        let wrapped_key = decode("wrapped_key", &wire.wrapped_key)?;
        if wrapped_key.len() != WRAPPED_KEY_BYTES {
            let reason = format!("wrapped_key must be {WRAPPED_KEY_BYTES} bytes");
            return Err(ApiError::Validation(reason));
        }
        let ephemeral_public_key = public_key(&wire.ephemeral_public_key)?;
        envelopes.push(NewEnvelope { recipient, ephemeral_public_key, wrapped_key });
    }
    match api.store.share_room_key(room, user.id, body.epoch, &envelopes).await? {
        Shared::Added { epoch, added } => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "epoch": epoch, "added": added }),
        )),
        Shared::Rotated { epoch } => Ok(json_response(
            StatusCode::CREATED,
            &serde_json::json!({ "epoch": epoch, "added": envelopes.len() }),
        )),
        Shared::NotHere => Err(ApiError::NotFound("room key")),
        Shared::Strangers(names) => Err(ApiError::Validation(format!(
            "envelopes only for members; not members: {}",
            names.join(", ")
        ))),
        Shared::Incomplete(names) => Err(ApiError::EnvelopesIncomplete(names)),
        Shared::Stale => Err(ApiError::StaleEpoch(
            "that is not the room's current or next epoch, or another member rotated first; \
             read the room's keys again",
        )),
    }
}

fn envelope_json(envelope: &Envelope) -> serde_json::Value {
    serde_json::json!({
        "epoch": envelope.epoch,
        "sender": envelope.sender,
        "recipient": envelope.recipient,
        "ephemeral_public_key": URL_SAFE_NO_PAD.encode(&envelope.ephemeral_public_key),
        "wrapped_key": URL_SAFE_NO_PAD.encode(&envelope.wrapped_key),
        "created_at": envelope.created_at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    })
}
