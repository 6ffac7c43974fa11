//! Abuse limits: login per client IP, messages and stock commands per user,
//! the connection cap, and silent WebSockets.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, TestServer};

#[tokio::test]
async fn logins_are_limited_per_client_ip_with_retry_after() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_LOGIN", "3/300s")]).await;
    let client = server.client();
    client.register("ann").await;
    for _ in 0..3 {
        let reply = client
            .post("/api/v1/auth/login", json!({"username": "ann", "password": "wrong password"}))
            .await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    // Even the right password is refused now: the attempts are used up.
    let reply =
        client.post("/api/v1/auth/login", json!({"username": "ann", "password": PASSWORD})).await;
    reply.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    let retry_after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=100).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn messages_and_stock_commands_are_limited_per_user() {
    let server = TestServer::start_with_env(&[
        ("RATE_LIMIT_MESSAGES", "3/60s"),
        ("RATE_LIMIT_STOCK", "2/60s"),
    ])
    .await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let room = ann.create_room("General").await;
    bob.join(&room).await;
    let mut ws = ann.connect(&room, "").await;
    for i in 0..3 {
        ws.say(&format!("m{i}"), &format!("m{i}")).await;
        assert_eq!(ws.next_of("chat_message").await["content"], format!("m{i}"));
    }
    ws.say("one too many", "m3").await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "RATE_LIMITED");
    assert_eq!(refused["client_id"], "m3");

    for i in 0..2 {
        ws.say("/stock=AAPL.US", &format!("s{i}")).await;
    }
    ws.say("/stock=AAPL.US", "s2").await;
    assert_eq!(ws.next_of("error").await["client_id"], "s2");

    // Another user has a budget of his own.
    let mut bob_ws = bob.connect(&room, "").await;
    bob_ws.say("hello", "b").await;
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "hello");
    assert_eq!(ann.history(&room, "").await.len(), 4);
}

#[tokio::test]
async fn limits_can_be_turned_off() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_MESSAGES", "off")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    for i in 0..100 {
        ws.say(&format!("m{i}"), &format!("m{i}")).await;
    }
    for i in 0..100 {
        assert_eq!(ws.next_of("chat_message").await["content"], format!("m{i}"));
    }
}

#[tokio::test]
async fn a_silent_websocket_is_pinged_then_closed() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start_with_env(&[("WS_IDLE_TIMEOUT", "2")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    // Read the raw bytes, so no pong is ever sent, until the server hangs up.
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.stream.get_mut() else {
        panic!("plain TCP")
    };
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), tcp.read_to_end(&mut bytes))
        .await
        .unwrap()
        .unwrap();
    // Server frames are unmasked: a ping is 0x89, a close is 0x88 then the code.
    assert!(bytes.windows(2).any(|w| w == [0x89, 0x00]), "the server pings before giving up");
    let away = 1001u16.to_be_bytes();
    assert!(
        bytes.windows(4).any(|w| w[0] == 0x88 && w[2..] == away),
        "closed with 1001: {bytes:02x?}"
    );
}

#[tokio::test]
async fn an_answering_websocket_stays_open() {
    let server = TestServer::start_with_env(&[("WS_IDLE_TIMEOUT", "2")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    // Reading answers pings with pongs (tungstenite does it), so the socket lives on.
    ws.assert_quiet(Duration::from_secs(4)).await;
    ws.say("still here", "s").await;
    assert_eq!(ws.next_of("chat_message").await["content"], "still here");
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_place() {
    let server = TestServer::start_with_env(&[("MAX_CONNECTIONS", "3")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    // ann's pooled HTTP connection and two sockets fill the cap.
    let first = ann.connect(&room, "").await;
    let _second = ann.connect(&room, "").await;
    let third = tokio::spawn({
        let ann = ann.clone();
        let room = room.clone();
        async move { ann.connect(&room, "").await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "the third socket waits while the server is full");
    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(15), third).await.unwrap().unwrap();
    assert_eq!(third.next().await["type"], "presence");
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_format() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    ws.say("counted", "c").await;
    ws.next_of("chat_message").await;
    ws.say("/stock=AAPL.US", "s").await;
    // The stock command is counted once the broker confirms it; poll for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let text = loop {
        let reply = reqwest::get(server.url("/metrics")).await.unwrap();
        assert!(reply.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = reply.text().await.unwrap();
        if text.contains("stock_requests_total") || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for metric in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "websocket_connections_active",
        "messages_sent_total",
        "room_writer_wait_seconds_bucket",
        "room_writer_batch_size_bucket",
        "room_writer_insert_seconds_bucket",
        "stock_requests_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "build_info{binary=\"chat\"",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    assert!(text.contains("route=\"/api/v1/chatrooms\""), "routes are labelled by template");
    assert!(!text.contains(&room), "no raw ids in labels");
}

/// With `METRICS_ADDR`, `/metrics` is served there alone: the public port
/// answers 404 for it.
#[tokio::test]
async fn metrics_addr_moves_metrics_off_the_public_port() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = TestServer::start_with_env(&[("METRICS_ADDR", &free.to_string())]).await;
    let public = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let private = reqwest::get(format!("http://{free}/metrics")).await.unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    let text = private.text().await.unwrap();
    assert!(text.contains("process_cpu_seconds_total"), "{text}");
    let health = reqwest::get(format!("http://{free}/health")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
