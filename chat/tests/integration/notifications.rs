//! `/ws/notifications`: a user's unread figures and mentions, for all of
//! their rooms, across instances, closed on logout.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, TestServer, Ws};

/// The next `unread` frame for `room`.
async fn unread(ws: &mut Ws, room: &str) -> (u64, u64) {
    loop {
        let frame = ws.next_of("unread").await;
        if frame["chatroom_id"] == room {
            return (frame["unread"].as_u64().unwrap(), frame["mentions"].as_u64().unwrap());
        }
    }
}

async fn notifications(client: &Client) -> Ws {
    client.try_socket("/ws/notifications").await.expect("notifications socket")
}

async fn read_up_to(client: &Client, room: &str, message: &str) {
    let reply = client
        .post(&format!("/api/v1/chatrooms/{room}/read"), json!({"message_id": message}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn unread_figures_and_mentions_arrive_as_they_change() {
    let server = TestServer::start().await;
    let mut pair = server.two_in_a_room().await;
    let room = pair.room.clone();
    let mut bob = notifications(&pair.bob).await;
    assert_eq!(unread(&mut bob, &room).await, (0, 0), "the figures on connecting");

    pair.ann_ws.say("hi @bob", "m1").await;
    let mention = bob.next_of("mention").await;
    assert_eq!(mention["message"]["content"], "hi @bob");
    assert_eq!(mention["message"]["mentions"], json!(["bob"]));
    assert_eq!(unread(&mut bob, &room).await, (1, 1));
    pair.ann_ws.next_of("chat_message").await;
    pair.ann_ws.say("plain", "m2").await;
    let last: Value = pair.ann_ws.next_of("chat_message").await;
    assert_eq!(unread(&mut bob, &room).await, (2, 1));

    // His own messages do not count.
    pair.bob_ws.say("me", "b1").await;
    read_up_to(&pair.bob, &room, last["id"].as_str().unwrap()).await;
    assert_eq!(unread(&mut bob, &room).await, (0, 0), "read: nothing left");

    // A room joined later is watched too.
    let other = pair.ann.create_room("Later").await;
    pair.bob.join(&other).await;
    assert_eq!(unread(&mut bob, &other).await, (0, 0));
    let mut there = pair.ann.connect(&other, "").await;
    there.say("in the new room", "l1").await;
    assert_eq!(unread(&mut bob, &other).await, (1, 0));
}

#[tokio::test]
async fn figures_cross_instances() {
    let a = TestServer::start().await;
    let b = a.sibling().await;
    let mut pair = a.two_in_a_room().await;
    let room = pair.room.clone();
    let bob_on_b = pair.bob.at(&b.base());
    let mut bob = notifications(&bob_on_b).await;
    assert_eq!(unread(&mut bob, &room).await, (0, 0));
    // Instances hear of each other within a few seconds; say until B counts.
    let mut sent = 0;
    let figures = loop {
        sent += 1;
        pair.ann_ws.say(&format!("@Bob number {sent}"), &format!("x{sent}")).await;
        let frame =
            bob.next_before(tokio::time::Instant::now() + std::time::Duration::from_secs(1)).await;
        if let Some(frame) = frame.filter(|f| f["type"] == "mention") {
            assert_eq!(frame["message"]["mentions"], json!(["bob"]));
            break unread(&mut bob, &room).await;
        }
        assert!(sent < 30, "instance B never heard of the messages on A");
    };
    assert!(figures.0 >= 1 && figures.1 >= 1, "{figures:?}");
    // Read on A: B's socket hears of it.
    let newest =
        pair.bob.history(&room, "").await.last().unwrap()["id"].as_str().unwrap().to_owned();
    read_up_to(&pair.bob, &room, &newest).await;
    loop {
        if unread(&mut bob, &room).await == (0, 0) {
            break;
        }
    }
}

#[tokio::test]
async fn the_socket_needs_a_session_and_closes_on_logout() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    assert_eq!(server.client().try_socket("/ws/notifications").await.err(), Some(401));
    let mut foreign = ann.clone();
    foreign.origin = Some("https://evil.example".into());
    assert_eq!(foreign.try_socket("/ws/notifications").await.err(), Some(403));

    let mut socket = notifications(&ann).await;
    let reply = ann.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let (code, _) = socket.closed().await;
    assert_eq!(code, Some(CloseCode::Policy));
}

/// A file's caption mentions like a typed message: the mentioned user is
/// notified, and the mention counts in their figures.
#[tokio::test]
async fn an_upload_whose_caption_mentions_someone_notifies_them() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let room = pair.room.clone();
    let mut bob = notifications(&pair.bob).await;
    assert_eq!(unread(&mut bob, &room).await, (0, 0));

    let url = format!(
        "{}/api/v1/chatrooms/{room}/attachments?filename=notes.txt&caption=%40bob%20see%20the%20notes",
        pair.ann.base
    );
    let response = pair
        .ann
        .http
        .post(url)
        .header("cookie", format!("session_id={}", pair.ann.cookie.as_deref().unwrap()))
        .header("content-type", "text/plain")
        .body("the notes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["mentions"], json!(["bob"]), "{message}");

    let mention = bob.next_of("mention").await;
    assert_eq!(mention["message"]["content"], "@bob see the notes");
    assert_eq!(unread(&mut bob, &room).await, (1, 1));
    let listed = pair.bob.get("/api/v1/chatrooms").await.body["chatrooms"][0].clone();
    assert_eq!((listed["unread"].clone(), listed["mentions"].clone()), (json!(1), json!(1)));
    let history = pair.bob.history(&room, "").await;
    assert_eq!(history[0]["mentions"], json!(["bob"]), "stored with the message");
}
