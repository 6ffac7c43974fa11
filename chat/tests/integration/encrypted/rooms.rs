//! Sharing a room's key, sealed messages and edits, and rotations.

use reqwest::StatusCode;
use serde_json::json;
use testkit::e2e;

use super::{Member, send};
use crate::support::TestServer;

#[tokio::test]
async fn members_share_a_room_key_and_the_server_keeps_ciphertext_only() {
    let server = TestServer::start().await;
    let mut ann = Member::join(&server, "ann").await;
    let mut bob = Member::join(&server, "bob").await;
    let carol = server.user("carol").await;

    // Without an identity key there is no encrypted room, for its creator or a member.
    let refused = carol.post("/api/v1/chatrooms", json!({"name": "x", "encrypted": true})).await;
    refused.assert_error(StatusCode::CONFLICT, "NO_IDENTITY_KEY");
    let room = ann.create_room("Secret plans").await;
    let listed = ann.client.get("/api/v1/chatrooms").await.body["chatrooms"].clone();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == room.as_str() && r["encrypted"] == true)
    );
    let added = ann
        .client
        .post(&format!("/api/v1/chatrooms/{room}/members"), json!({"username": "carol"}))
        .await;
    added.assert_error(StatusCode::CONFLICT, "NO_IDENTITY_KEY");
    assert_eq!(ann.add(&room, &bob).await.status, StatusCode::CREATED);

    // Bob lacks the key: ann's client sees him in `missing` and shares it.
    let keys = ann.room_keys(&room).await.body;
    assert_eq!((keys["epoch"].as_u64(), keys["rotation_needed"].as_bool()), (Some(1), Some(false)));
    assert_eq!(keys["missing"], json!(["bob"]));
    assert_eq!(keys["envelopes"][0]["sender"], "ann");
    let shared = ann.share(&room, 1, &ann.key(&room, 1), &[bob.recipient()]).await;
    assert_eq!(
        (shared.status, shared.body["added"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{}",
        shared.body
    );
    assert_eq!(ann.room_keys(&room).await.body["missing"], json!([]));
    assert_eq!(bob.fetch_keys(&room).await, 1);
    assert_eq!(bob.key(&room, 1), ann.key(&room, 1));

    let mut ann_ws = ann.client.connect(&room, "").await;
    let mut bob_ws = bob.client.connect(&room, "").await;
    // Plain text is refused; a stock command is not (it is never stored).
    ann_ws.say("in the clear", "c0").await;
    let refused = ann_ws.next_of("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("ENCRYPTION_REQUIRED"), Some("c0"))
    );

    let plaintext = json!({"content": "meet at noon @bob", "mentions": ["bob"]});
    let acked = send(&mut ann_ws, ann.sealed_frame(&room, 1, &plaintext, "c1")).await;
    assert_eq!(acked["type"], "chat_message", "{acked}");
    assert_eq!((acked["content"].as_str(), acked["client_id"].as_str()), (Some(""), Some("c1")));
    assert_eq!(acked["mentions"], json!([]), "the server cannot know whom it mentions");
    let received = bob_ws.next_of("chat_message").await;
    assert_eq!(received["encrypted"], acked["encrypted"]);
    assert_eq!(bob.open(&room, &received, None), plaintext);
    let history = bob.client.history(&room, "").await;
    assert_eq!(history.last().unwrap()["encrypted"], acked["encrypted"], "stored as sent");

    // A reply quotes no text; an edit is sealed with its message's id.
    let id = acked["id"].as_str().unwrap();
    let mut reply = bob.sealed_frame(&room, 1, &json!({"content": "ok"}), "c2");
    reply["reply_to"] = json!(id);
    let reply = send(&mut bob_ws, reply).await;
    assert_eq!(reply["reply_to"], json!({"id": id, "username": "ann", "excerpt": ""}));
    let edit = e2e::seal_message(
        &ann.key(&room, 1),
        &room,
        1,
        &ann.id,
        Some(id),
        &json!({"content": "meet at one"}),
    );
    ann_ws.send(json!({"type": "edit", "message_id": id, "encrypted": edit})).await;
    let edited = bob_ws.next_of("message_edited").await;
    assert_eq!((edited["content"].as_str(), &edited["encrypted"]), (Some(""), &edit));
    let mut as_message = edited.clone();
    as_message["user_id"] = json!(ann.id);
    assert_eq!(bob.open(&room, &as_message, Some(id))["content"], "meet at one");
    // A plain edit, or one sealed at another epoch, is refused.
    let plain = ann
        .client
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/chatrooms/{room}/messages/{id}"),
            Some(json!({"content": "x"})),
        )
        .await;
    plain.assert_error(StatusCode::BAD_REQUEST, "ENCRYPTION_REQUIRED");
    let mut stale = edit.clone();
    stale["epoch"] = json!(2);
    let stale = ann
        .client
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/chatrooms/{room}/messages/{id}"),
            Some(json!({"encrypted": stale})),
        )
        .await;
    stale.assert_error(StatusCode::CONFLICT, "STALE_EPOCH");

    // Search never looks inside, and a plain room refuses sealed messages.
    let found = bob.client.get("/api/v1/search?q=noon").await;
    assert_eq!(found.body["results"], json!([]));
    let open_room = ann.client.create_room("Open").await;
    let mut open_ws = ann.client.connect(&open_room, "").await;
    let refused = send(&mut open_ws, ann.sealed_frame(&room, 1, &plaintext, "c3")).await;
    assert_eq!(refused["code"], "INVALID_FRAME", "{refused}");
}

#[tokio::test]
async fn losing_a_member_forces_a_rotation_that_only_members_receive() {
    let server = TestServer::start().await;
    let mut ann = Member::join(&server, "ann").await;
    let mut bob = Member::join(&server, "bob").await;
    let mut carol = Member::join(&server, "carol").await;
    let outsider = Member::join(&server, "dave").await;
    let room = ann.create_room("Board").await;
    for member in [&bob, &carol] {
        assert_eq!(ann.add(&room, member).await.status, StatusCode::CREATED);
    }
    let everyone = [ann.recipient(), bob.recipient(), carol.recipient()];
    let shared = ann.share(&room, 1, &ann.key(&room, 1), &everyone[1..]).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
    bob.fetch_keys(&room).await;
    carol.fetch_keys(&room).await;

    // Outsiders learn nothing: not the keys, the history or the socket.
    outsider.room_keys(&room).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let history = outsider.client.get(&format!("/api/v1/chatrooms/{room}/messages")).await;
    history.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(outsider.client.try_connect(&room, "").await.err(), Some(404));
    let stranger = ann.share(&room, 1, &ann.key(&room, 1), &[outsider.recipient()]).await;
    stranger.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    let removed = ann
        .client
        .send(reqwest::Method::DELETE, &format!("/api/v1/chatrooms/{room}/members/carol"), None)
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    carol.room_keys(&room).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let keys = bob.room_keys(&room).await.body;
    assert_eq!((keys["epoch"].as_u64(), keys["rotation_needed"].as_bool()), (Some(1), Some(true)));

    // Nobody sends at the old epoch any more.
    let mut bob_ws = bob.client.connect(&room, "").await;
    let refused =
        send(&mut bob_ws, bob.sealed_frame(&room, 1, &json!({"content": "hi"}), "b1")).await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("STALE_EPOCH"), Some("b1"))
    );

    // A rotation must reach every member and no one else; the first one wins.
    let new_key = e2e::room_key();
    let partial = ann.share(&room, 2, &new_key, &[ann.recipient()]).await;
    partial.assert_error(StatusCode::BAD_REQUEST, "ENVELOPES_INCOMPLETE");
    assert!(partial.body["error"].as_str().unwrap().contains("bob"));
    let with_carol = ann.share(&room, 2, &new_key, &everyone).await;
    with_carol.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let too_far = ann.share(&room, 3, &new_key, &everyone[..2]).await;
    too_far.assert_error(StatusCode::CONFLICT, "STALE_EPOCH");
    let rotated = ann.share(&room, 2, &new_key, &everyone[..2]).await;
    assert_eq!(
        (rotated.status, rotated.body["epoch"].as_u64()),
        (StatusCode::CREATED, Some(2)),
        "{}",
        rotated.body
    );
    ann.remember(&room, 2, new_key);
    let late = bob.share(&room, 2, &e2e::room_key(), &everyone[..2]).await;
    late.assert_error(StatusCode::CONFLICT, "STALE_EPOCH");
    let keys = bob.room_keys(&room).await.body;
    assert_eq!((keys["epoch"].as_u64(), keys["rotation_needed"].as_bool()), (Some(2), Some(false)));
    assert_eq!(bob.fetch_keys(&room).await, 2);
    assert_eq!(bob.key(&room, 2), new_key, "the winner's key, not the late one's");

    // The removed member holds no envelope for any later epoch.
    let later: Vec<Option<String>> = server
        .db
        .query_strings(&format!(
            "SELECT count(*)::text FROM room_key_envelopes WHERE recipient_id = '{}' AND epoch > 1",
            carol.id
        ))
        .await;
    assert_eq!(later, vec![Some("0".to_owned())]);

    let sent =
        send(&mut bob_ws, bob.sealed_frame(&room, 2, &json!({"content": "new key"}), "b2")).await;
    assert_eq!(sent["type"], "chat_message", "{sent}");
    assert_eq!(ann.open(&room, &sent, None)["content"], "new key");
    let old =
        send(&mut bob_ws, bob.sealed_frame(&room, 1, &json!({"content": "old key"}), "b3")).await;
    assert_eq!(old["code"], "STALE_EPOCH");

    // A new identity loses its envelopes: the room shares its key again.
    let fresh = testkit::e2e::Identity::generate();
    let replaced = bob
        .client
        .send(
            reqwest::Method::PUT,
            "/api/v1/keys?reset=true",
            Some(fresh.key_body(&bob.id, super::PASSPHRASE, super::ITERATIONS)),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::CREATED);
    let keys = bob.room_keys(&room).await.body;
    assert_eq!(
        (keys["envelopes"].as_array().map(Vec::len), &keys["missing"]),
        (Some(0), &json!(["bob"]))
    );
}

#[tokio::test]
async fn a_stock_command_in_an_encrypted_room_is_answered_in_the_clear() {
    let server = TestServer::start().await;
    let _bot = crate::support::TestBot::start(&server).await;
    let mut ann = Member::join(&server, "ann").await;
    let room = ann.create_room("Traders").await;
    let mut ws = ann.client.connect(&room, "").await;
    ws.say("/stock=AAPL.US", "s1").await;
    let reply = ws.next_of("chat_message").await;
    assert_eq!((reply["is_bot"].as_bool(), reply["encrypted"].is_null()), (Some(true), true));
    assert_eq!(reply["content"], "AAPL.US quote is $181.18 per share");
    let stored = ann.client.history(&room, "").await;
    assert_eq!(stored.len(), 1, "the command itself is never stored: {stored:?}");
    // Any other command is still a command, never a plain message.
    ws.say("/shout hi", "s2").await;
    assert_eq!(ws.next_of("error").await["code"], "UNKNOWN_COMMAND");
    // The room's key is untouched, and sealed messages go on.
    assert_eq!(ann.room_keys(&room).await.body["epoch"], 1);
    let _ = ann.fetch_keys(&room).await;
    let sealed =
        send(&mut ws, ann.sealed_frame(&room, 1, &json!({"content": "after the quote"}), "s3"))
            .await;
    assert_eq!(sealed["type"], "chat_message", "{sealed}");
}
