//! Identity keys for encrypted rooms: `PUT /api/v1/keys`, `GET
//! /api/v1/keys/me`, `GET /api/v1/users/{username}/key`. The server checks
//! that a public key is a P-256 point and that a backup has the documented
//! shape; it can open neither.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use super::Api;
use super::request::read_json;
use crate::access::{authenticate, query_param};
use crate::error::ApiError;
use crate::response::{Body, json_response};
use crate::store::{IdentityKey, KeyBackup, PublicKeyOf};

/// The fewest PBKDF2 iterations a backup may use (OWASP's figure for
/// PBKDF2-HMAC-SHA256).
const MIN_ITERATIONS: u32 = 310_000;
/// The most: a backup a browser takes minutes to open is a mistake.
const MAX_ITERATIONS: u32 = 10_000_000;
/// A sealed PKCS#8 P-256 key is about 150 bytes; room to spare, no more.
const MAX_SEALED_BYTES: usize = 1024;

#[derive(Deserialize)]
struct NewKey {
    public_key: String,
    backup: KeyBackup,
}

/// `PUT /keys`: 201 with the key; 409 `KEY_EXISTS` when the user has one,
/// unless `?reset=true`.
pub(super) async fn put(api: &Api, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let reset = query_param(request.uri().query(), "reset").is_some_and(|v| v == "true");
    let body: NewKey = read_json(request).await?;
    let key = IdentityKey { public_key: public_key(&body.public_key)?, backup: body.backup };
    check_backup(&key.backup)?;
    if !api.store.put_identity_key(user.id, &key, reset).await? {
        return Err(ApiError::KeyExists);
    }
    Ok(json_response(StatusCode::CREATED, &own_key(&key)))
}

/// `GET /keys/me`: the caller's key and backup.
pub(super) async fn mine(
    api: &Api,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (user, _) = authenticate(&api.sessions, request.headers()).await?;
    let key = api.store.identity_key(user.id).await?.ok_or(ApiError::NoIdentityKey)?;
    Ok(json_response(StatusCode::OK, &own_key(&key)))
}

/// `GET /users/{username}/key`: someone's public key.
pub(super) async fn of(
    api: &Api,
    request: Request<Incoming>,
    username: &str,
) -> Result<Response<Body>, ApiError> {
    authenticate(&api.sessions, request.headers()).await?;
    if protocol::text::check_storable(username).is_err() {
        return Err(ApiError::UserNotFound);
    }
    match api.store.public_key_of(username).await? {
        PublicKeyOf::Found { user_id, username, public_key } => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({
                "user_id": user_id,
                "username": username,
                "public_key": URL_SAFE_NO_PAD.encode(public_key),
            }),
        )),
        PublicKeyOf::NoKey => Err(ApiError::NoIdentityKey),
        PublicKeyOf::NoUser => Err(ApiError::UserNotFound),
    }
}

fn own_key(key: &IdentityKey) -> serde_json::Value {
    serde_json::json!({
        "public_key": URL_SAFE_NO_PAD.encode(&key.public_key),
        "backup": key.backup,
    })
}

/// `text`, base64url without padding, decoded; 400 naming `field` otherwise.
pub(super) fn decode(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ApiError::Validation(format!("{field} must be base64url without padding")))
}

/// An uncompressed P-256 point (65 bytes) that is on the curve.
pub(super) fn public_key(text: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = decode("the public key", text)?;
    let uncompressed = bytes.len() == 65 && bytes[0] == 0x04;
    if !uncompressed || p256::PublicKey::from_sec1_bytes(&bytes).is_err() {
        return Err(ApiError::Validation(
            "public_key must be an uncompressed P-256 point (65 bytes)".into(),
        ));
    }
    Ok(bytes)
}

fn check_backup(backup: &KeyBackup) -> Result<(), ApiError> {
    let sizes = [
        ("backup.salt", decode("backup.salt", &backup.salt)?.len() == 16),
        ("backup.iv", decode("backup.iv", &backup.iv)?.len() == 12),
    ];
    if let Some((field, _)) = sizes.iter().find(|(_, right)| !right) {
        let size = if *field == "backup.salt" { 16 } else { 12 };
        return Err(ApiError::Validation(format!("{field} must be {size} bytes")));
    }
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&backup.iterations) {
        return Err(ApiError::Validation(format!(
            "backup.iterations must be {MIN_ITERATIONS}-{MAX_ITERATIONS}"
        )));
    }
    let sealed = decode("backup.ciphertext", &backup.ciphertext)?;
    // A GCM tag alone is 16 bytes.
    if !(17..=MAX_SEALED_BYTES).contains(&sealed.len()) {
        return Err(ApiError::Validation(format!(
            "backup.ciphertext must be 17-{MAX_SEALED_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_point_on_the_curve_is_a_public_key() {
        let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
        let point = secret.public_key().to_sec1_bytes();
        assert_eq!(public_key(&URL_SAFE_NO_PAD.encode(&point)).unwrap(), point.to_vec());
        let mut off_curve = point.to_vec();
        off_curve[64] ^= 1;
        let short = point[..33].to_vec();
        for bad in [off_curve, short, vec![4; 65], Vec::new()] {
            assert!(public_key(&URL_SAFE_NO_PAD.encode(&bad)).is_err(), "{bad:?}");
        }
        assert!(public_key("not base64!").is_err());
        assert!(public_key(&format!("{}=", URL_SAFE_NO_PAD.encode(&point))).is_err(), "padding");
    }
}
