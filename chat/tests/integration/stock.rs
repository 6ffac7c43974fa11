//! The chat side of the stock path: commands out through RabbitMQ, replies in,
//! each reply stored once; the broker's absence is reported, not hidden.

use std::time::Duration;

use protocol::broker::{COMMANDS_QUEUE, RESPONSES_EXCHANGE, StockReply};
use serde_json::json;
use service::amqp::lapin::options::QueueDeclareOptions;
use service::amqp::lapin::types::FieldTable;
use service::amqp::{self, Unroutable};

use crate::support::{PATIENCE, Pair, TestServer};

/// Messages waiting in a queue of the test's vhost.
async fn queued(server: &TestServer, queue: &str) -> u32 {
    let connection = amqp::connect(&server.vhost.url(), "test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let options = QueueDeclareOptions { passive: true, ..Default::default() };
    let count = channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .unwrap()
        .message_count();
    let _ = connection.close(200, "done".into()).await;
    count
}

/// Publishes a reply as a bot would.
async fn publish_reply(server: &TestServer, reply: &StockReply) {
    let connection = amqp::connect(&server.vhost.url(), "test-bot").await.unwrap();
    let channel = amqp::confirm_channel(&connection).await.unwrap();
    amqp::publish_json(&channel, RESPONSES_EXCHANGE, "", reply, Unroutable::Fail).await.unwrap();
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test]
async fn invalid_codes_never_reach_the_broker() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    for bad in ["/stock=", "/stock=AAPL US", "/stock=DROP;TABLE", "/stock=ÄPPL"] {
        ws.say(bad, "bad").await;
        assert_eq!(ws.next_of("error").await["code"], "INVALID_STOCK_CODE", "{bad}");
    }
    ws.say("/stock=MSFT.US", "good").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while queued(&server, COMMANDS_QUEUE).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the valid command never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reply_reaches_the_room_and_a_duplicate_is_stored_once() {
    let server = TestServer::start().await;
    let Pair { ann, room, mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;
    let reply = StockReply {
        command_id: uuid::Uuid::now_v7(),
        chatroom_id: room.parse().unwrap(),
        content: "AAPL.US quote is $181.18 per share".into(),
    };
    publish_reply(&server, &reply).await;
    publish_reply(&server, &reply).await;
    for ws in [&mut ann_ws, &mut bob_ws] {
        let message = ws.next_of("chat_message").await;
        assert_eq!(message["content"], "AAPL.US quote is $181.18 per share");
        assert_eq!(message["username"], "StockBot");
        assert_eq!(message["is_bot"], true);
    }
    // The duplicate is acked and dropped: the next message in the room is ann's.
    ann_ws.say("thanks", "t").await;
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "thanks");
    let history = ann.history(&room, "").await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["is_bot"], true);
    assert_eq!(queued(&server, "stock.responses").await, 0, "both copies were acked");
}

#[tokio::test]
async fn a_reply_for_an_unknown_room_is_dropped_without_harm() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    let stray = StockReply {
        command_id: uuid::Uuid::now_v7(),
        chatroom_id: uuid::Uuid::now_v7(),
        content: "x".into(),
    };
    publish_reply(&server, &stray).await;
    ws.say("unaffected", "u").await;
    assert_eq!(ws.next_of("chat_message").await["content"], "unaffected");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while queued(&server, "stock.responses").await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the stray reply was never acked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl").arg("-q").args(args).status().unwrap();
    assert!(status.success(), "rabbitmqctl {args:?}");
}

async fn wait_for_readiness(server: &TestServer, ready: bool) -> serde_json::Value {
    let client = server.client();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = client.get("/health/ready").await;
        if (reply.status == reqwest::StatusCode::OK) == ready {
            return reply.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "readiness never became {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_lost_broker_gives_unavailable_and_the_server_recovers_by_itself() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;

    // The broker loses everything of ours: connections, exchanges, queues.
    let vhost = server.vhost.name().to_owned();
    rabbitmqctl(&["delete_vhost", &vhost]);
    let not_ready = wait_for_readiness(&server, false).await;
    assert_eq!(
        not_ready,
        json!({"status": "not_ready", "database": "connected", "rabbitmq": "disconnected"})
    );
    ws.say("/stock=AAPL.US", "s1").await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "UNAVAILABLE");
    assert_eq!(refused["client_id"], "s1");
    ws.say("chat goes on", "c").await;
    assert_eq!(ws.next_of("chat_message").await["content"], "chat goes on");

    // The broker is back, empty: the server reconnects and declares the topology again.
    rabbitmqctl(&["add_vhost", &vhost]);
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
    wait_for_readiness(&server, true).await;
    ws.say("/stock=AAPL.US", "s2").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while queued(&server, COMMANDS_QUEUE).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the command after recovery never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_rooms_owner_deletes_a_bot_reply_that_nobody_edits() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, mut bob_ws } = server.two_in_a_room().await;
    let reply = StockReply {
        command_id: uuid::Uuid::now_v7(),
        chatroom_id: room.parse().unwrap(),
        content: "AAPL.US quote is $181.18 per share".into(),
    };
    publish_reply(&server, &reply).await;
    let id = ann_ws.next_of("chat_message").await["id"].as_str().unwrap().to_owned();
    bob_ws.next_of("chat_message").await;
    let path = format!("/api/v1/chatrooms/{room}/messages/{id}");
    for client in [&ann, &bob] {
        let edit = client.send(reqwest::Method::PATCH, &path, Some(json!({"content": "$1"}))).await;
        edit.assert_error(reqwest::StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let by_bob = bob.send(reqwest::Method::DELETE, &path, None).await;
    by_bob.assert_error(reqwest::StatusCode::FORBIDDEN, "FORBIDDEN");
    let by_owner = ann.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(by_owner.status, reqwest::StatusCode::OK, "{}", by_owner.body);
    assert_eq!(bob_ws.next_of("message_deleted").await["message_id"], id.as_str());
    // A redelivered reply to the same command is not stored again.
    publish_reply(&server, &reply).await;
    ann_ws.say("after", "a").await;
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "after");
}
