//! `/ws/chat/{id}`: the handshake, every frame, and every close code.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::broker::StockCommand;
use reqwest::StatusCode;
use serde_json::{Value, json};
use service::amqp::lapin::options::{BasicAckOptions, BasicConsumeOptions};
use service::amqp::lapin::types::FieldTable;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{PATIENCE, Pair, TestServer, Ws};

#[tokio::test]
async fn the_handshake_checks_session_room_membership_and_origin() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = ann.create_room("General").await;
    assert_eq!(server.client().try_connect(&room, "").await.err(), Some(401));
    assert_eq!(bob.try_connect(&room, "").await.err(), Some(403), "not a member");
    assert_eq!(ann.try_connect(&uuid::Uuid::now_v7().to_string(), "").await.err(), Some(404));
    assert_eq!(ann.try_connect("not-a-uuid", "").await.err(), Some(404));
    assert_eq!(ann.try_connect(&room, "?after=nope").await.err(), Some(400));

    let mut foreign = ann.clone();
    foreign.origin = Some("https://evil.example".into());
    assert_eq!(foreign.try_connect(&room, "").await.err(), Some(403));
    let mut same_site = ann.clone();
    same_site.origin = Some(format!("http://{}", server.addr));
    assert!(same_site.try_connect(&room, "").await.is_ok());

    // A plain GET on the WebSocket path is not a handshake.
    let plain = ann.get(&format!("/ws/chat/{room}")).await;
    plain.assert_error(reqwest::StatusCode::UPGRADE_REQUIRED, "UPGRADE_REQUIRED");
}

#[tokio::test]
async fn two_users_talk_live_with_presence() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = ann.create_room("General").await;
    bob.join(&room).await;

    let mut ann_ws = ann.connect(&room, "").await;
    assert_eq!(ann_ws.next().await, json!({"type": "presence", "users": ["ann"]}));
    let mut bob_ws = bob.connect(&room, "").await;
    assert_eq!(bob_ws.next().await, json!({"type": "presence", "users": ["ann", "bob"]}));
    assert_eq!(ann_ws.next().await, json!({"type": "user_joined", "username": "bob"}));

    ann_ws.say("  hello bob  ", "c-1").await;
    let ack = ann_ws.next().await;
    let seen = bob_ws.next().await;
    assert_eq!(ack, seen);
    assert_eq!(ack["type"], "chat_message");
    assert_eq!(ack["content"], "hello bob");
    assert_eq!(ack["username"], "ann");
    assert_eq!(ack["is_bot"], false);
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["chatroom_id"], room.as_str());
    assert_eq!(ack["user_id"], ann.get("/api/v1/auth/me").await.body["id"]);
    let id: uuid::Uuid = ack["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7);

    // An older client's frame: content and no type.
    bob_ws.send(json!({"content": "hi ann"})).await;
    let reply = ann_ws.next().await;
    assert_eq!(reply["content"], "hi ann");
    assert!(reply.get("client_id").is_none());
    assert_eq!(bob_ws.next().await, reply);

    drop(bob_ws);
    assert_eq!(ann_ws.next().await, json!({"type": "user_left", "username": "bob"}));
}

#[tokio::test]
async fn typing_reaches_the_others_only() {
    let server = TestServer::start().await;
    let Pair { mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;
    ann_ws.next_of("user_joined").await;
    ann_ws.send(json!({"type": "typing"})).await;
    assert_eq!(bob_ws.next_of("typing").await, json!({"type": "typing", "username": "ann"}));
    ann_ws.say("done typing", "c").await;
    // Ann's next frame is her acknowledgement, not her own typing notice.
    assert_eq!(ann_ws.next().await["type"], "chat_message");
}

#[tokio::test]
async fn a_big_room_hears_presence_as_diffs_of_its_first_hundred_and_goes_back() {
    let server = TestServer::start().await;
    let host = server.user("host").await;
    let room = host.create_room("Stadium").await;
    let mut host_ws = host.connect(&room, "").await;
    let mut crowd = Vec::new();
    for n in 0..99 {
        let fan = server.user(&format!("fan{n:03}")).await;
        fan.join(&room).await;
        let mut ws = fan.connect(&room, "").await;
        ws.next_of("presence").await;
        crowd.push(ws);
    }
    // 100 online, each told of the others one by one; the 101st makes the
    // room big: it is given the list everyone holds, and the count.
    let late = server.user("latecomer").await;
    late.join(&room).await;
    let mut late_ws = late.connect(&room, "").await;
    let presence = late_ws.next_of("presence").await;
    let users = presence["users"].as_array().unwrap();
    assert_eq!(users.len(), 100, "the first hundred names");
    assert_eq!(users[0], "fan000", "sorted");
    assert_eq!(users[99], "host");
    assert_eq!(presence["online"], 101);
    // The latecomer sorts past the first hundred: only the count moves.
    let diff = json!({"type": "presence_diff", "joined": [], "left": [], "online": 101});
    assert_eq!(next_diff(&mut host_ws).await, diff);
    assert_eq!(next_diff(&mut late_ws).await, diff);

    // A name that sorts first enters the list and pushes the last one out.
    let first = server.user("aaron").await;
    first.join(&room).await;
    let mut first_ws = first.connect(&room, "").await;
    first_ws.next_of("presence").await;
    assert_eq!(
        next_diff(&mut host_ws).await,
        json!({"type": "presence_diff", "joined": ["aaron"], "left": ["host"], "online": 102})
    );
    drop(first_ws);
    assert_eq!(
        next_diff(&mut host_ws).await,
        json!({"type": "presence_diff", "joined": ["host"], "left": ["aaron"], "online": 101})
    );

    // Back to 100: one last diff, then per-user frames again.
    drop(late_ws);
    assert_eq!(
        next_diff(&mut host_ws).await,
        json!({"type": "presence_diff", "joined": [], "left": [], "online": 100})
    );
    drop(crowd.remove(0));
    assert_eq!(
        host_ws.next_of("user_left").await,
        json!({"type": "user_left", "username": "fan000"})
    );
    drop(crowd);
}

/// The next `presence_diff`, past the per-user frames of the room's filling.
async fn next_diff(ws: &mut Ws) -> Value {
    loop {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("presence_diff") => return frame,
            Some("user_joined" | "user_left") => {
                let name = frame["username"].as_str().unwrap_or_default();
                assert!(name.starts_with("fan"), "a per-user frame in a big room: {frame}");
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_typer_reaches_the_room_at_most_once_every_two_seconds_from_any_socket() {
    let server = TestServer::start().await;
    let Pair { ann, mut ann_ws, mut bob_ws, room, .. } = server.two_in_a_room().await;
    ann_ws.next_of("user_joined").await;
    let mut ann_again = ann.connect(&room, "").await;
    ann_again.next_of("presence").await;
    ann_ws.send(json!({"type": "typing"})).await;
    ann_again.send(json!({"type": "typing"})).await;
    ann_ws.send(json!({"type": "typing"})).await;
    assert_eq!(bob_ws.next_of("typing").await, json!({"type": "typing", "username": "ann"}));
    // The other two came within the interval: nothing more, until ann speaks.
    ann_ws.say("there", "t1").await;
    let next = bob_ws.next().await;
    assert_eq!(next["type"], "chat_message", "no second typing notice: {next}");
}

#[tokio::test]
async fn refused_frames_get_their_error_code_and_store_nothing() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = ann.create_room("General").await;
    bob.join(&room).await;
    let mut ws = ann.connect(&room, "").await;
    let mut bob_ws = bob.connect(&room, "").await;
    ws.next_of("user_joined").await;
    let long = "x".repeat(1001);
    let long_command = format!("/stock={}", "A".repeat(21));
    let cases = [
        (
            json!({"type": "chat_message", "content": "   ", "client_id": "e1"}),
            "EMPTY_MESSAGE",
            Some("e1"),
        ),
        (
            json!({"type": "chat_message", "content": long, "client_id": "e2"}),
            "MESSAGE_TOO_LONG",
            Some("e2"),
        ),
        (
            json!({"type": "chat_message", "content": "/help", "client_id": "e3"}),
            "UNKNOWN_COMMAND",
            Some("e3"),
        ),
        (
            json!({"type": "chat_message", "content": "/stock=AA PL", "client_id": "e4"}),
            "INVALID_STOCK_CODE",
            Some("e4"),
        ),
        (json!({"type": "chat_message", "content": long_command}), "INVALID_STOCK_CODE", None),
        (json!({"type": "chat_message", "content": 42}), "INVALID_FRAME", None),
        (json!({"type": "shout", "content": "hi", "client_id": "e5"}), "INVALID_FRAME", Some("e5")),
        (json!({"type": "chat_message"}), "INVALID_FRAME", None),
        (json!({"content": "hi", "client_id": "x".repeat(65)}), "INVALID_FRAME", None),
        (json!([1, 2]), "INVALID_FRAME", None),
    ];
    for (frame, code, client_id) in cases {
        ws.send(frame.clone()).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], code, "{frame}");
        assert_eq!(error["client_id"].as_str(), client_id, "{frame}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send_text("{not json").await;
    assert_eq!(ws.next().await["code"], "INVALID_FRAME");
    ws.stream.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(ws.next().await["code"], "INVALID_FRAME");

    // The socket still works, nothing was stored, and bob saw none of it.
    ws.say("still here", "ok").await;
    assert_eq!(ws.next().await["content"], "still here");
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "still here");
    assert_eq!(ann.history(&room, "").await.len(), 1);
}

#[tokio::test]
async fn a_stock_command_is_published_to_rabbitmq_and_never_stored() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    ws.say(" /stock=aapl.us ", "s1").await;

    let connection = service::amqp::connect(&server.vhost.url(), "test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut commands = channel
        .basic_consume(
            "stock.commands".into(),
            "test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(15), commands.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let command: StockCommand = serde_json::from_slice(&delivery.data).unwrap();
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    assert_eq!(command.code, "aapl.us");
    assert_eq!(command.chatroom_id.to_string(), room);
    assert_eq!(
        command.user_id.to_string(),
        ann.get("/api/v1/auth/me").await.body["id"].as_str().unwrap()
    );
    assert_eq!(delivery.properties.delivery_mode(), &Some(2), "persistent");

    ws.assert_quiet(Duration::from_millis(300)).await;
    assert!(ann.history(&room, "").await.is_empty(), "the command text is never stored");
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    ws.next_of("presence").await;
    ws.say(&"x".repeat(65 * 1024), "big").await;
    assert_eq!(ws.closed().await.0, Some(CloseCode::Size));
    assert!(ann.history(&room, "").await.is_empty());
}

#[tokio::test]
async fn logout_closes_the_sessions_sockets_with_1008() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let mut other_session = server.client();
    other_session.login("ann").await;
    let room = ann.create_room("General").await;
    let mut first = ann.connect(&room, "").await;
    let mut second = ann.connect(&room, "").await;
    let mut kept = other_session.connect(&room, "").await;
    ann.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(first.closed().await.0, Some(CloseCode::Policy));
    assert_eq!(second.closed().await.0, Some(CloseCode::Policy));
    kept.say("still in", "k").await;
    assert_eq!(kept.next_of("chat_message").await["content"], "still in");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let mut server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    ws.say("before shutdown", "b").await;
    ws.next_of("chat_message").await;
    server.stop().await;
    assert_eq!(ws.closed().await.0, Some(CloseCode::Away));
}

/// On the stop signal the server first fails readiness, for `SHUTDOWN_GRACE`,
/// while it still serves everything (a load balancer moves new clients away),
/// and only then closes its sockets with 1001.
#[tokio::test]
async fn a_stopping_server_fails_readiness_first_then_closes_sockets() {
    let mut server = TestServer::start_with_env(&[("SHUTDOWN_GRACE", "5")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    server.signal_stop();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let ready = loop {
        let ready = ann.get("/health/ready").await;
        if ready.status == StatusCode::SERVICE_UNAVAILABLE {
            break ready;
        }
        assert!(tokio::time::Instant::now() < deadline, "readiness never failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ready.body["shutting_down"], true);
    // Still served meanwhile: requests, and messages on open sockets.
    assert_eq!(ann.get("/api/v1/auth/me").await.status, StatusCode::OK);
    ws.say("during the grace", "g").await;
    assert_eq!(ws.next_of("chat_message").await["content"], "during the grace");
    assert_eq!(ws.closed().await.0, Some(CloseCode::Away));
}

#[tokio::test]
async fn a_client_too_slow_to_read_gets_resync_and_1013() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = ann.create_room("General").await;
    bob.join(&room).await;
    let mut slow = bob.connect(&room, "").await;
    let (mut sink, mut acks) = ann.connect(&room, "").await.stream.split();
    // Ann reads her acknowledgements; bob reads nothing while she floods the
    // room, so his socket buffers fill, then his queue.
    let total = 6000;
    let reader = tokio::spawn(async move {
        let mut stored = 0;
        while stored < total {
            match acks.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"chat_message\"") => stored += 1,
                Some(Ok(_)) => {}
                other => panic!("ann's socket ended: {other:?}"),
            }
        }
    });
    let text = "y".repeat(1000);
    for i in 0..total {
        let frame = json!({"type": "chat_message", "content": text, "client_id": format!("f{i}")});
        sink.send(Message::Text(frame.to_string().into())).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), reader).await.expect("all stored").unwrap();

    let (code, frames) = slow.closed().await;
    assert_eq!(code, Some(CloseCode::Again));
    assert_eq!(frames.last(), Some(&json!({"type": "resync"})));
    assert!(frames.len() < total, "bob was cut off, not served everything");
    assert_eq!(ann.history(&room, "?limit=1").await[0]["client_id"], format!("f{}", total - 1));
}
