//! Mentions, read markers and unread counts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Client, TestServer};

/// The room `id` as `client`'s `GET /chatrooms` shows it.
async fn listing(client: &Client, id: &str) -> Value {
    let reply = client.get("/api/v1/chatrooms").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body["chatrooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|room| room["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("room {id} not listed: {}", reply.body))
}

#[tokio::test]
async fn mentions_are_stored_and_unread_counts_follow_the_marker() {
    let server = TestServer::start().await;
    let mut pair = server.two_in_a_room().await;
    let carol = server.user("carol").await;
    let room = pair.room.clone();

    let fresh = listing(&pair.bob, &room).await;
    assert_eq!((fresh["is_member"].clone(), fresh["unread"].clone()), (json!(true), json!(0)));
    assert_eq!(fresh["mentions"], 0);
    let outside = listing(&carol, &room).await;
    assert_eq!(outside["is_member"], false);
    assert!(outside.get("unread").is_none() && outside.get("mentions").is_none(), "{outside}");

    let mut ids = Vec::new();
    for (i, text) in ["hello all", "@BOB look", "mail bob@example.com", "@carol @nobody_here"]
        .into_iter()
        .enumerate()
    {
        pair.ann_ws.say(text, &format!("m{i}")).await;
        let frame = pair.ann_ws.next_of("chat_message").await;
        ids.push((frame["id"].as_str().unwrap().to_owned(), frame["mentions"].clone()));
    }
    let mentions: Vec<Value> = ids.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(mentions, [json!([]), json!(["bob"]), json!([]), json!(["carol"])]);
    let history = pair.bob.history(&room, "").await;
    assert_eq!(history[1]["mentions"], json!(["bob"]), "stored with the message");

    let bob_sees = listing(&pair.bob, &room).await;
    assert_eq!((bob_sees["unread"].clone(), bob_sees["mentions"].clone()), (json!(4), json!(1)));
    let ann_sees = listing(&pair.ann, &room).await;
    assert_eq!(ann_sees["unread"], 0, "her own messages are not unread to her");

    let read = |client: &Client, room: &str, message: &str| {
        let (client, path) = (client.clone(), format!("/api/v1/chatrooms/{room}/read"));
        let body = json!({ "message_id": message });
        async move { client.post(&path, body).await }
    };
    let reply = read(&pair.bob, &room, &ids[1].0).await;
    assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, json!({"success": true})));
    let after = listing(&pair.bob, &room).await;
    assert_eq!((after["unread"].clone(), after["mentions"].clone()), (json!(2), json!(0)));
    // Never back.
    assert_eq!(read(&pair.bob, &room, &ids[0].0).await.status, StatusCode::OK);
    assert_eq!(listing(&pair.bob, &room).await["unread"], 2);

    // A message of another room, an unknown one, a non-member, a bad body: refused, no write.
    let other = pair.bob.create_room("Other").await;
    let mut there = pair.bob.connect(&other, "").await;
    there.say("elsewhere", "o1").await;
    let foreign = there.next_of("chat_message").await["id"].as_str().unwrap().to_owned();
    read(&pair.bob, &room, &foreign).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let unknown = uuid::Uuid::new_v4().to_string();
    read(&pair.bob, &room, &unknown).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    read(&carol, &room, &ids[3].0).await.assert_error(StatusCode::FORBIDDEN, "NOT_A_MEMBER");
    let path = format!("/api/v1/chatrooms/{room}/read");
    pair.bob
        .post(&path, json!({"message_id": 7}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_eq!(listing(&pair.bob, &room).await["unread"], 2, "unchanged");
    let _ = &mut pair;
}
