//! Identity keys for encrypted rooms: one per user, a P-256 point checked
//! by the server, a backup of the documented shape, replaced only on purpose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, TestServer};

/// An identity key: the public point of `seed`, and a backup of the shape
/// the page makes.
fn identity(seed: u8) -> Value {
    let secret = p256::SecretKey::from_slice(&[seed; 32]).unwrap();
    json!({
        "public_key": URL_SAFE_NO_PAD.encode(secret.public_key().to_sec1_bytes()),
        "backup": {
            "salt": URL_SAFE_NO_PAD.encode([1u8; 16]),
            "iterations": 310_000,
            "iv": URL_SAFE_NO_PAD.encode([2u8; 12]),
            "ciphertext": URL_SAFE_NO_PAD.encode([3u8; 154]),
        },
    })
}

async fn put(client: &Client, query: &str, body: Value) -> crate::support::Reply {
    client.send(Method::PUT, &format!("/api/v1/keys{query}"), Some(body)).await
}

#[tokio::test]
async fn each_user_has_one_identity_key_that_others_can_read() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    ann.get("/api/v1/keys/me").await.assert_error(StatusCode::NOT_FOUND, "NO_IDENTITY_KEY");
    bob.get("/api/v1/users/ann/key").await.assert_error(StatusCode::NOT_FOUND, "NO_IDENTITY_KEY");

    let first = identity(7);
    let stored = put(&ann, "", first.clone()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    assert_eq!(stored.body, first);
    assert_eq!(ann.get("/api/v1/keys/me").await.body, first, "the backup is the owner's to read");
    let seen = bob.get("/api/v1/users/ANN/key").await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["username"], "ann");
    assert_eq!(seen.body["public_key"], first["public_key"]);
    assert!(seen.body["user_id"].is_string());
    assert!(seen.body.get("backup").is_none(), "nobody else sees the backup");

    // One key per user; a new one only on purpose.
    put(&ann, "", identity(8)).await.assert_error(StatusCode::CONFLICT, "KEY_EXISTS");
    assert_eq!(bob.get("/api/v1/users/ann/key").await.body["public_key"], first["public_key"]);
    let reset = put(&ann, "?reset=true", identity(8)).await;
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.body);
    assert_eq!(
        bob.get("/api/v1/users/ann/key").await.body["public_key"],
        identity(8)["public_key"]
    );

    bob.get("/api/v1/users/nobody/key").await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    bob.get("/api/v1/users/a%00b/key").await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    let stranger = server.client();
    stranger.get("/api/v1/keys/me").await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    stranger
        .get("/api/v1/users/ann/key")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    put(&stranger, "", identity(9)).await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_key_that_is_not_a_point_or_a_backup_of_another_shape_is_refused() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let point = identity(7)["public_key"].as_str().unwrap().to_owned();
    let mut off_curve = URL_SAFE_NO_PAD.decode(&point).unwrap();
    off_curve[64] ^= 1;
    let mut bad = Vec::new();
    for (field, value) in [
        ("/public_key", json!(URL_SAFE_NO_PAD.encode(&off_curve))),
        ("/public_key", json!(URL_SAFE_NO_PAD.encode([4u8; 33]))),
        ("/public_key", json!(format!("{point}="))),
        ("/public_key", json!("a\u{0}b")),
        ("/public_key", json!(5)),
        ("/backup/salt", json!(URL_SAFE_NO_PAD.encode([1u8; 15]))),
        ("/backup/iv", json!(URL_SAFE_NO_PAD.encode([1u8; 16]))),
        ("/backup/iterations", json!(309_999)),
        ("/backup/iterations", json!(-1)),
        ("/backup/ciphertext", json!("")),
        ("/backup/ciphertext", json!(URL_SAFE_NO_PAD.encode([0u8; 2000]))),
        ("/backup", json!(null)),
    ] {
        let mut body = identity(7);
        *body.pointer_mut(field).unwrap() = value.clone();
        bad.push((field, value, body));
    }
    for (field, value, body) in bad {
        let reply = put(&ann, "", body).await;
        assert_eq!(
            (reply.status, reply.body["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("VALIDATION_ERROR")),
            "{field} = {value}"
        );
    }
    ann.get("/api/v1/keys/me").await.assert_error(StatusCode::NOT_FOUND, "NO_IDENTITY_KEY");
}
