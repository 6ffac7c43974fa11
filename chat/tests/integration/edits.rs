//! Edit, delete and replies: who may change what, what every member hears,
//! what storage keeps, and what a client that resumes with `?after=` learns
//! of changes it missed (after a restart, and on two instances).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, Pair, TestServer, Ws};

/// Sends `content` and returns the stored message, as the sender's own
/// copy acknowledges it.
async fn post(ws: &mut Ws, content: &str) -> Value {
    let client_id = uuid::Uuid::now_v7().to_string();
    ws.say(content, &client_id).await;
    loop {
        let frame = ws.next().await;
        if frame["type"] == "chat_message" && frame["client_id"] == client_id.as_str() {
            return frame;
        }
    }
}

async fn patch(
    client: &Client,
    room: &str,
    message: &str,
    content: Value,
) -> crate::support::Reply {
    let path = format!("/api/v1/chatrooms/{room}/messages/{message}");
    client.send(Method::PATCH, &path, Some(json!({ "content": content }))).await
}

async fn delete(client: &Client, room: &str, message: &str) -> crate::support::Reply {
    client.send(Method::DELETE, &format!("/api/v1/chatrooms/{room}/messages/{message}"), None).await
}

/// The message `id` as history shows it.
async fn in_history(client: &Client, room: &str, id: &str) -> Value {
    let history = client.history(room, "").await;
    history.into_iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("{id} in history"))
}

fn text(frame: &Value, key: &str) -> String {
    frame[key].as_str().unwrap_or_else(|| panic!("{key} in {frame}")).to_owned()
}

#[tokio::test]
async fn the_author_edits_and_every_member_hears_it() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, mut bob_ws } = server.two_in_a_room().await;
    let message = post(&mut ann_ws, "helo @bob").await;
    assert_eq!(message["edited_at"], Value::Null);
    assert_eq!(message["deleted"], false);
    assert_eq!(message["reply_to"], Value::Null);
    let id = text(&message, "id");
    bob_ws.next_of("chat_message").await;

    ann_ws.send(json!({"type": "edit", "message_id": id, "content": "  hello @ann  "})).await;
    for ws in [&mut ann_ws, &mut bob_ws] {
        let edited = ws.next_of("message_edited").await;
        assert_eq!(edited["message_id"], id.as_str());
        assert_eq!(edited["chatroom_id"], room.as_str());
        assert_eq!(edited["content"], "hello @ann", "trimmed");
        assert_eq!(edited["mentions"], json!(["ann"]));
        assert!(edited["edited_at"].is_string(), "{edited}");
    }
    let shown = in_history(&bob, &room, &id).await;
    assert_eq!(shown["content"], "hello @ann");
    assert!(shown["edited_at"].is_string());
    assert_eq!(shown["created_at"], message["created_at"], "it keeps its place");

    // An edit is never a command: no bot, no refusal, just the text.
    ann_ws.send(json!({"type": "edit", "message_id": id, "content": "/stock=AAPL.US"})).await;
    assert_eq!(bob_ws.next_of("message_edited").await["content"], "/stock=AAPL.US");
    ann_ws.next_of("message_edited").await;

    // Nobody else edits it, by frame or by REST.
    bob_ws.send(json!({"type": "edit", "message_id": id, "content": "mine now"})).await;
    let refused = bob_ws.next_of("error").await;
    assert_eq!(refused["code"], "FORBIDDEN", "{refused}");
    patch(&bob, &room, &id, json!("mine now"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "FORBIDDEN");

    // The rules of a message's content hold.
    for (content, code) in [(" ", "EMPTY_MESSAGE"), (&*"x".repeat(1001), "MESSAGE_TOO_LONG")] {
        ann_ws.send(json!({"type": "edit", "message_id": id, "content": content})).await;
        assert_eq!(ann_ws.next_of("error").await["code"], code);
        patch(&ann, &room, &id, json!(content))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    ann_ws
        .send_text(&format!(r#"{{"type":"edit","message_id":"{id}","content":"a\u0000"}}"#))
        .await;
    assert_eq!(ann_ws.next_of("error").await["code"], "INVALID_FRAME");
    patch(&ann, &room, &id, json!("a\u{0}"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    patch(&ann, &room, &id, json!(5))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

    // A message that is not in this room is not found.
    let other = ann.create_room("Other").await;
    let mut other_ws = ann.connect(&other, "").await;
    let elsewhere = text(&post(&mut other_ws, "elsewhere").await, "id");
    for missing in [elsewhere.clone(), uuid::Uuid::now_v7().to_string()] {
        ann_ws.send(json!({"type": "edit", "message_id": missing, "content": "x"})).await;
        assert_eq!(ann_ws.next_of("error").await["code"], "NOT_FOUND");
        patch(&ann, &room, &missing, json!("x"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    patch(&ann, &room, "not-an-id", json!("x"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    // REST answers with the message as it is now, and the room hears it too.
    let reply = patch(&ann, &room, &id, json!("final words")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["content"], "final words");
    assert_eq!(reply.body["id"], id.as_str());
    assert!(reply.body["edited_at"].is_string());
    assert_eq!(bob_ws.next_of("message_edited").await["content"], "final words");
    // A stranger to the room gets what every room endpoint gives.
    let carl = server.user("carl").await;
    patch(&carl, &room, &id, json!("x")).await.assert_error(StatusCode::FORBIDDEN, "NOT_A_MEMBER");
}

#[tokio::test]
async fn a_deleted_message_is_a_tombstone_and_its_file_is_gone() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, mut bob_ws } = server.two_in_a_room().await;
    // Bob posts a file with a caption; ann reacts to it.
    let upload = bob
        .post(&format!("/api/v1/chatrooms/{room}/attachments?filename=canary-file.txt&caption=canary%20caption%20@ann"), json!("canary bytes"))
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.body);
    let id = text(&upload.body, "id");
    let file = upload.body["attachments"][0]["url"].as_str().unwrap().to_owned();
    ann_ws.next_of("chat_message").await;
    bob_ws.next_of("chat_message").await;
    ann_ws.send(json!({"type": "reaction", "message_id": id, "emoji": "👍", "on": true})).await;
    ann_ws.next_of("reactions").await;
    bob_ws.next_of("reactions").await;

    // Ann does not own the room's... she does: the room is hers. Carl, a
    // member who neither wrote it nor owns the room, may not.
    let carl = server.user("carl").await;
    carl.join(&room).await;
    delete(&carl, &room, &id).await.assert_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    let mut carl_ws = carl.connect(&room, "").await;
    carl_ws.send(json!({"type": "delete", "message_id": id})).await;
    assert_eq!(carl_ws.next_of("error").await["code"], "FORBIDDEN");

    let reply = delete(&bob, &room, &id).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"success": true}));
    for ws in [&mut ann_ws, &mut bob_ws] {
        let deleted = ws.next_of("message_deleted").await;
        assert_eq!(
            deleted,
            json!({"type": "message_deleted", "message_id": id, "chatroom_id": room})
        );
    }
    let tombstone = in_history(&ann, &room, &id).await;
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(tombstone["content"], "");
    assert_eq!(tombstone["attachments"], json!([]));
    assert_eq!(tombstone["reactions"], json!([]));
    assert_eq!(tombstone["mentions"], json!([]));
    assert_eq!(ann.get(&file).await.status, StatusCode::NOT_FOUND, "the file is gone");
    assert_eq!(bob.get(&file).await.status, StatusCode::NOT_FOUND);

    // Nothing of it is left in storage.
    let left = server
        .db
        .query_strings(
            "SELECT count(*) FROM messages WHERE content LIKE '%canary%'
             UNION ALL SELECT count(*) FROM attachments WHERE filename LIKE '%canary%'
             UNION ALL SELECT count(*) FROM attachment_chunks
             UNION ALL SELECT count(*) FROM reactions
             UNION ALL SELECT count(*) FROM message_words WHERE words @@ 'canary'::tsquery",
        )
        .await;
    assert_eq!(left, vec![Some("0".to_owned()); 5], "no text, file, reaction or word left");

    // Deleting it again changes nothing; editing it finds nothing.
    assert_eq!(delete(&bob, &room, &id).await.status, StatusCode::OK);
    patch(&bob, &room, &id, json!("back")).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    ann_ws.send(json!({"type": "reaction", "message_id": id, "emoji": "👍", "on": true})).await;
    assert_eq!(ann_ws.next_of("error").await["code"], "NOT_FOUND", "no reactions to a tombstone");
    bob_ws.send(json!({"type": "chat_message", "content": "re", "reply_to": id})).await;
    assert_eq!(bob_ws.next_of("error").await["code"], "NOT_FOUND", "no replies to a tombstone");

    // The room's owner deletes anyone's message.
    let carls = post(&mut carl_ws, "spam").await;
    ann_ws.send(json!({"type": "delete", "message_id": carls["id"]})).await;
    assert_eq!(carl_ws.next_of("message_deleted").await["message_id"], carls["id"]);
}

#[tokio::test]
async fn a_deleted_message_counts_in_no_unread_figure() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, .. } = server.two_in_a_room().await;
    let first = post(&mut ann_ws, "one @bob").await;
    post(&mut ann_ws, "two").await;
    let figures = |listing: Value| {
        let rooms = listing["chatrooms"].as_array().unwrap().clone();
        let room = rooms.into_iter().find(|r| r["id"] == room.as_str()).unwrap();
        (room["unread"].clone(), room["mentions"].clone())
    };
    assert_eq!(figures(bob.get("/api/v1/chatrooms").await.body), (json!(2), json!(1)));
    let mut watch = bob.try_socket("/ws/notifications").await.expect("notifications");
    assert_eq!(delete(&ann, &room, first["id"].as_str().unwrap()).await.status, StatusCode::OK);
    assert_eq!(figures(bob.get("/api/v1/chatrooms").await.body), (json!(1), json!(0)));
    // The live badge follows.
    loop {
        let frame = watch.next().await;
        if frame["type"] == "unread"
            && frame["chatroom_id"] == room.as_str()
            && frame["unread"] == 1
        {
            assert_eq!(frame["mentions"], 0);
            break;
        }
    }
}

#[tokio::test]
async fn a_reply_quotes_the_original_as_it_is_now_and_notifies_its_author() {
    let server = TestServer::start().await;
    let Pair { ann, room, mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;
    let long = format!("question {}", "é".repeat(200));
    let original = post(&mut ann_ws, &long).await;
    let id = text(&original, "id");
    let mut watch = ann.try_socket("/ws/notifications").await.expect("notifications");
    bob_ws.next_of("chat_message").await;

    bob_ws
        .send(
            json!({"type": "chat_message", "content": "answer", "reply_to": id, "client_id": "r1"}),
        )
        .await;
    let reply = bob_ws.next_of("chat_message").await;
    assert_eq!(reply["client_id"], "r1");
    let excerpt: String = long.chars().take(100).collect();
    assert_eq!(reply["reply_to"], json!({"id": id, "username": "ann", "excerpt": excerpt}));
    assert_eq!(reply["mentions"], json!(["ann"]), "the original's author is notified");
    loop {
        let frame = watch.next().await;
        if frame["type"] == "mention" {
            assert_eq!(frame["message"]["id"], reply["id"]);
            break;
        }
    }

    // A reply to nothing, to another room's message, or not an id.
    let other = ann.create_room("Other").await;
    let mut other_ws = ann.connect(&other, "").await;
    let elsewhere = text(&post(&mut other_ws, "elsewhere").await, "id");
    for target in [elsewhere, uuid::Uuid::now_v7().to_string()] {
        bob_ws.send(json!({"type": "chat_message", "content": "x", "reply_to": target, "client_id": "r2"})).await;
        let refused = bob_ws.next_of("error").await;
        assert_eq!(
            (refused["code"].clone(), refused["client_id"].clone()),
            (json!("NOT_FOUND"), json!("r2"))
        );
    }
    bob_ws.send(json!({"type": "chat_message", "content": "x", "reply_to": "nope"})).await;
    assert_eq!(bob_ws.next_of("error").await["code"], "INVALID_FRAME");

    // The quote follows the original's edits, then its deletion.
    let reply_id = text(&reply, "id");
    assert_eq!(patch(&ann, &room, &id, json!("better question")).await.status, StatusCode::OK);
    assert_eq!(in_history(&ann, &room, &reply_id).await["reply_to"]["excerpt"], "better question");
    assert_eq!(delete(&ann, &room, &id).await.status, StatusCode::OK);
    let quoted = in_history(&ann, &room, &reply_id).await["reply_to"].clone();
    assert_eq!(quoted, json!({"id": id, "username": "ann", "excerpt": ""}));
}

/// The frames of `kind`s among what a socket receives until `until` (a
/// chat message's content) arrives.
async fn frames_until(ws: &mut Ws, until: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = ws.next().await;
        if frame["type"] == "chat_message" && frame["content"] == until {
            return frames;
        }
        if ["chat_message", "message_edited", "message_deleted"]
            .contains(&frame["type"].as_str().unwrap_or(""))
        {
            frames.push(frame);
        }
    }
}

#[tokio::test]
async fn resume_replays_the_changes_missed_in_order_across_a_restart() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, bob_ws } = server.two_in_a_room().await;
    let old = post(&mut ann_ws, "an old message").await;
    let older = post(&mut ann_ws, "another old one").await;
    let seen = post(&mut ann_ws, "the last bob saw").await;
    drop(bob_ws);
    // While bob is away: an edit and a deletion of messages older than the
    // one he resumes after, and a new message.
    assert_eq!(
        patch(&ann, &room, old["id"].as_str().unwrap(), json!("old, edited")).await.status,
        StatusCode::OK
    );
    assert_eq!(delete(&ann, &room, older["id"].as_str().unwrap()).await.status, StatusCode::OK);
    post(&mut ann_ws, "new while away").await;
    drop(ann_ws);
    let server = server.restart().await;
    let bob = bob.at(&server.base());
    let mut ann_ws = ann.at(&server.base()).connect(&room, "").await;

    let mut bob_ws = bob.connect(&room, &format!("?after={}", seen["id"].as_str().unwrap())).await;
    post(&mut ann_ws, "live").await;
    let frames = frames_until(&mut bob_ws, "live").await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message_edited", "message_deleted", "chat_message"], "{frames:?}");
    assert_eq!(frames[0]["message_id"], old["id"]);
    assert_eq!(frames[0]["content"], "old, edited");
    assert_eq!(frames[1]["message_id"], older["id"]);
    assert_eq!(frames[2]["content"], "new while away");
}

#[tokio::test]
async fn changes_reach_every_instance_and_resume_on_another() {
    let one = TestServer::start().await;
    let two = one.sibling().await;
    let ann = one.user("ann").await;
    let bob = one.user("bob").await.at(&two.base());
    let room = ann.create_room("Both").await;
    bob.join(&room).await;
    let mut ann_ws = ann.connect(&room, "").await;
    let mut bob_ws = bob.connect(&room, "").await;
    let message = post(&mut ann_ws, "first").await;
    let id = text(&message, "id");
    assert_eq!(bob_ws.next_of("chat_message").await["id"], id.as_str());

    ann_ws.send(json!({"type": "edit", "message_id": id, "content": "first, edited"})).await;
    assert_eq!(bob_ws.next_of("message_edited").await["content"], "first, edited");
    ann_ws.next_of("message_edited").await;
    // Messages and changes keep one order on both instances.
    let second = post(&mut bob_ws, "second").await;
    bob_ws.send(json!({"type": "delete", "message_id": second["id"]})).await;
    assert_eq!(ann_ws.next_of("chat_message").await["content"], "second");
    assert_eq!(bob_ws.next_of("message_deleted").await["message_id"], second["id"]);
    assert_eq!(ann_ws.next_of("message_deleted").await["message_id"], second["id"]);

    // One more change while bob is away, resumed on the other instance.
    drop(bob_ws);
    ann_ws.send(json!({"type": "edit", "message_id": id, "content": "first, again"})).await;
    ann_ws.next_of("message_edited").await;
    let bob_on_one = bob.at(&one.base());
    let mut bob_ws =
        bob_on_one.connect(&room, &format!("?after={}", second["id"].as_str().unwrap())).await;
    post(&mut ann_ws, "live").await;
    let frames = frames_until(&mut bob_ws, "live").await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message_deleted", "message_edited"], "{frames:?}");
    assert_eq!(frames[1]["content"], "first, again");
}
