//! Private rooms, members and direct messages: who sees a room, who adds
//! and removes, and how every socket concerned hears of it, on one instance
//! and across two.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, PATIENCE, Reply, TestServer, Ws};

async fn private_room(owner: &Client, name: &str) -> String {
    let reply = owner.post("/api/v1/chatrooms", json!({"name": name, "private": true})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["private"], true);
    assert_eq!(reply.body["kind"], "room");
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn add(client: &Client, room: &str, username: &str) -> Reply {
    client.post(&format!("/api/v1/chatrooms/{room}/members"), json!({"username": username})).await
}

async fn remove(client: &Client, room: &str, username: &str) -> Reply {
    client.send(Method::DELETE, &format!("/api/v1/chatrooms/{room}/members/{username}"), None).await
}

async fn members(client: &Client, room: &str) -> Vec<(String, String)> {
    let reply = client.get(&format!("/api/v1/chatrooms/{room}/members")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(m["joined_at"].is_string() && m["user_id"].is_string(), "{m}");
            (m["username"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn listed(client: &Client) -> Vec<Value> {
    let reply = client.get("/api/v1/chatrooms").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["chatrooms"].as_array().unwrap().clone()
}

async fn lists(client: &Client, room: &str) -> bool {
    listed(client).await.iter().any(|r| r["id"] == room)
}

/// `client`'s notifications socket, once it is live: the user creates a
/// room of their own and the socket has given its figures.
async fn notifications(client: &Client) -> Ws {
    let own = client.create_room(&format!("Own {}", uuid::Uuid::now_v7().simple())).await;
    let mut ws = client.try_socket("/ws/notifications").await.expect("notifications socket");
    about(&mut ws, "unread", &own).await;
    ws
}

/// The next notification of `kind` that names `room` (in `chatroom_id` or
/// `chatroom.id`), passing over any other.
async fn about(ws: &mut Ws, kind: &str, room: &str) -> Value {
    loop {
        let frame = ws.next().await;
        if frame["type"] == kind
            && (frame["chatroom_id"] == room || frame["chatroom"]["id"] == room)
        {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_private_room_is_invisible_to_non_members() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = private_room(&ann, "Secret").await;
    assert!(lists(&ann, &room).await);
    assert!(!lists(&bob, &room).await, "not listed to a non-member");

    let base = format!("/api/v1/chatrooms/{room}");
    bob.post(&format!("{base}/join"), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    bob.get(&format!("{base}/messages")).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    bob.get(&format!("{base}/members")).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    add(&bob, &room, "bob").await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let read = json!({"message_id": uuid::Uuid::now_v7()});
    bob.post(&format!("{base}/read"), read).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(bob.try_connect(&room, "").await.err(), Some(404), "the socket too");

    // A file in it is not served to him either.
    let upload = ann.post(&format!("{base}/attachments?filename=a.txt"), json!("hi")).await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.body);
    let file = upload.body["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(ann.get(&file).await.status, StatusCode::OK);
    assert_eq!(bob.get(&file).await.status, StatusCode::NOT_FOUND);

    // Its name tells nobody outside it anything: a public room may take it.
    let public = bob.post("/api/v1/chatrooms", json!({"name": "secret"})).await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
    let again = private_room(&bob, "Secret").await;
    assert_ne!(again, room);
}

#[tokio::test]
async fn any_member_adds_the_owner_removes_and_anyone_leaves() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let carl = server.user("carl").await;
    let room = private_room(&ann, "Team").await;

    assert_eq!(add(&ann, &room, "bob").await.status, StatusCode::CREATED);
    assert_eq!(add(&bob, &room, "CARL").await.status, StatusCode::CREATED, "any member, any case");
    assert_eq!(add(&bob, &room, "carl").await.status, StatusCode::OK, "a member already");
    add(&bob, &room, "nobody").await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    add(&bob, &room, "StockBot").await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    for hostile in ["ca\u{0}rl", &"c".repeat(10_000), "carl'; --", "", "🙂"] {
        add(&bob, &room, hostile).await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
        let direct = bob.post("/api/v1/direct", json!({"username": hostile})).await;
        direct.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    }
    remove(&ann, &room, "ca%00rl").await.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    let roles = members(&carl, &room).await;
    let expected = [("ann", "owner"), ("bob", "member"), ("carl", "member")];
    assert_eq!(roles, expected.map(|(u, r)| (u.to_owned(), r.to_owned())));
    assert!(lists(&carl, &room).await, "the room is his to see now");

    remove(&bob, &room, "carl").await.assert_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_eq!(remove(&carl, &room, "carl").await.status, StatusCode::OK, "leaving");
    assert!(!lists(&carl, &room).await, "gone from his list");
    carl.get(&format!("/api/v1/chatrooms/{room}/messages"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    remove(&ann, &room, "carl").await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(remove(&ann, &room, "bob").await.status, StatusCode::OK, "the owner removes");
    assert_eq!(members(&ann, &room).await, [("ann".to_owned(), "owner".to_owned())]);
}

#[tokio::test]
async fn when_the_owner_leaves_the_longest_standing_member_owns_the_room() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let carl = server.user("carl").await;
    let room = private_room(&ann, "Club").await;
    add(&ann, &room, "bob").await;
    add(&ann, &room, "carl").await;

    assert_eq!(remove(&ann, &room, "ann").await.status, StatusCode::OK);
    let roles = members(&bob, &room).await;
    assert_eq!(roles, [("bob", "owner"), ("carl", "member")].map(|(u, r)| (u.into(), r.into())));
    let listed = listed(&bob).await;
    let entry = listed.iter().find(|r| r["id"] == room.as_str()).unwrap();
    let bob_id = bob.get("/api/v1/auth/me").await.body["id"].clone();
    assert_eq!(entry["created_by"], bob_id, "created_by names the owner");
    assert_eq!(remove(&bob, &room, "carl").await.status, StatusCode::OK, "he owns it now");
    assert!(!lists(&carl, &room).await);
}

#[tokio::test]
async fn members_hear_of_changes_and_a_removed_member_is_cut_off_at_once() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let carl = server.user("carl").await;
    let room = private_room(&ann, "Ops").await;
    add(&ann, &room, "bob").await;
    let mut ann_ws = ann.connect(&room, "").await;
    let mut bob_ws = bob.connect(&room, "").await;
    let mut carl_notes = notifications(&carl).await;
    let mut bob_notes = notifications(&bob).await;

    assert_eq!(add(&bob, &room, "carl").await.status, StatusCode::CREATED);
    let added = json!({"type": "member_added", "username": "carl", "by": "bob"});
    assert_eq!(ann_ws.next_of("member_added").await, added);
    assert_eq!(bob_ws.next_of("member_added").await, added);
    let announced = about(&mut carl_notes, "room_added", &room).await;
    assert_eq!(announced["chatroom"]["name"], "Ops");
    assert_eq!(announced["chatroom"]["private"], true);
    assert_eq!(about(&mut carl_notes, "unread", &room).await["unread"], 0);

    assert_eq!(remove(&ann, &room, "bob").await.status, StatusCode::OK);
    let (code, _) = bob_ws.closed().await;
    assert_eq!(code, Some(CloseCode::Library(4403)), "his socket to the room closes");
    let removed = json!({"type": "member_removed", "username": "bob", "by": "ann"});
    assert_eq!(ann_ws.next_of("member_removed").await, removed);
    assert_eq!(about(&mut bob_notes, "room_removed", &room).await["chatroom_id"], room.as_str());
    assert_eq!(bob.try_connect(&room, "").await.err(), Some(404), "and he cannot come back");

    // He no longer counts what is said there.
    ann_ws.say("after bob", "a1").await;
    ann_ws.next_of("chat_message").await;
    let entries = listed(&bob).await;
    assert!(entries.iter().all(|r| r["id"] != room.as_str()));
}

#[tokio::test]
async fn membership_changes_reach_the_other_instance() {
    let a = TestServer::start().await;
    let b = a.sibling().await;
    let ann = a.user("ann").await;
    let bob = a.user("bob").await.at(&b.base());
    let carl = a.user("carl").await.at(&b.base());
    let room = private_room(&ann, "Across").await;
    add(&ann, &room, "bob").await;
    let mut bob_ws = bob.connect(&room, "").await;
    bob_ws.next_of("presence").await;
    let mut carl_notes = notifications(&carl).await;

    assert_eq!(add(&ann, &room, "carl").await.status, StatusCode::CREATED, "through A");
    let announced = about(&mut carl_notes, "room_added", &room).await;
    assert_eq!(announced["chatroom"]["id"], room.as_str(), "carl hears of it on B");
    let added = bob_ws.next_of("member_added").await;
    assert_eq!(added["username"], "carl");

    assert_eq!(remove(&ann, &room, "bob").await.status, StatusCode::OK, "through A");
    let closed = bob_ws.closed_within(PATIENCE).await.expect("bob's socket on B closes");
    assert_eq!(closed.0, Some(CloseCode::Library(4403)));
}

#[tokio::test]
async fn one_direct_room_per_pair_with_fixed_members() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let carl = server.user("carl").await;
    let mut bob_notes = notifications(&bob).await;

    let made = ann.post("/api/v1/direct", json!({"username": "bob"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let room = made.body["id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["kind"], "direct");
    assert_eq!(made.body["private"], true);
    assert_eq!(made.body["peer"], "bob");
    let theirs = bob.post("/api/v1/direct", json!({"username": "Ann"})).await;
    assert_eq!(theirs.status, StatusCode::OK, "the same room, either order");
    assert_eq!(theirs.body["id"], room.as_str());
    assert_eq!(theirs.body["peer"], "ann");
    let announced = about(&mut bob_notes, "room_added", &room).await;
    assert_eq!(announced["chatroom"]["peer"], "ann", "bob hears of it, named after ann");

    let entry = listed(&ann).await.into_iter().find(|r| r["id"] == room.as_str()).unwrap();
    assert_eq!((entry["peer"].clone(), entry["is_member"].clone()), (json!("bob"), json!(true)));
    assert!(!lists(&carl, &room).await);
    add(&ann, &room, "carl").await.assert_error(StatusCode::CONFLICT, "DIRECT_ROOM");
    remove(&ann, &room, "bob").await.assert_error(StatusCode::CONFLICT, "DIRECT_ROOM");
    remove(&ann, &room, "ann").await.assert_error(StatusCode::CONFLICT, "DIRECT_ROOM");
    let missing = ann.post("/api/v1/direct", json!({"username": "nobody"})).await;
    missing.assert_error(StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    let notes = ann.post("/api/v1/direct", json!({"username": "ann"})).await;
    assert_eq!(notes.status, StatusCode::CREATED, "notes to self");
    assert_eq!(notes.body["peer"], "ann");
    let roles = members(&ann, notes.body["id"].as_str().unwrap()).await;
    assert_eq!(roles, [("ann".to_owned(), "owner".to_owned())]);

    let mut ann_ws = ann.connect(&room, "").await;
    ann_ws.say("hello bob", "d1").await;
    assert_eq!(ann_ws.next_of("chat_message").await["content"], "hello bob");
    let mut bob_ws = bob.connect(&room, "").await;
    assert_eq!(bob.history(&room, "").await.len(), 1);
    bob_ws.say("hi ann", "d2").await;
    assert_eq!(ann_ws.next_of("chat_message").await["content"], "hi ann");
}

#[tokio::test]
async fn room_creation_checks_its_fields() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    // An encrypted room needs its creator's identity key first.
    let sealed = ann.post("/api/v1/chatrooms", json!({"name": "Vault", "encrypted": true})).await;
    sealed.assert_error(StatusCode::CONFLICT, "NO_IDENTITY_KEY");
    let nameless = ann.post("/api/v1/chatrooms", json!({"name": " ", "private": true})).await;
    nameless.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let public = ann.post("/api/v1/chatrooms", json!({"name": "Open"})).await;
    assert_eq!(
        (public.body["private"].clone(), public.body["kind"].clone()),
        (json!(false), json!("room"))
    );
}
