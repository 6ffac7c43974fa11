//! Abuse resistance: floods of registrations, rooms, handshakes and
//! connections are refused (429 `RATE_LIMITED` with `Retry-After`, or 503
//! `UNAVAILABLE` when password hashing is full), counted in `/metrics`, and
//! never starve the users who behave.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::TcpStream;

use crate::support::{Client, PASSWORD, PATIENCE, Reply, TestServer};

/// Registers `name`, whatever the answer (the harness's `register` expects 201).
async fn try_register(client: &Client, name: &str) -> Reply {
    client.post("/api/v1/auth/register", json!({"username": name, "password": PASSWORD})).await
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

/// `rate_limited_total` for `limit`, as the server's `/metrics` says (asked
/// again while the server is refusing this client's connections).
async fn refusals(server: &TestServer, limit: &str) -> u64 {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let text = loop {
        let reply = reqwest::get(server.url("/metrics")).await.unwrap();
        if reply.status() == StatusCode::OK {
            break reply.text().await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "/metrics answered {}", reply.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let prefix = format!("rate_limited_total{{limit=\"{limit}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_REGISTER", "2/3600s")]).await;
    let client = server.client();
    for name in ["ann", "bob"] {
        assert_eq!(client.register(name).await.status, StatusCode::CREATED);
    }
    let refused = try_register(&client, "cat").await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!((1..=3600).contains(&retry_after(&refused)));
    assert_eq!(refusals(&server, "register").await, 1);
    // Nothing was stored for the refused one.
    let rows = server.db.query_strings("SELECT count(*) FROM users WHERE username = 'cat'").await;
    assert_eq!(rows[0].as_deref(), Some("0"));
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let register = |server: &TestServer, name: &str, forwarded: &str| {
        let request = server
            .client()
            .http
            .post(server.url("/api/v1/auth/register"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": name, "password": PASSWORD}));
        async move { request.send().await.unwrap().status() }
    };
    let limit = ("RATE_LIMIT_REGISTER", "1/3600s");
    let proxied = TestServer::start_with_env(&[limit, ("TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    assert_eq!(register(&proxied, "ann", "198.51.100.1").await, StatusCode::CREATED);
    assert_eq!(register(&proxied, "bob", "198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register(&proxied, "cat", "198.51.100.2").await, StatusCode::CREATED);

    // Without trusted proxies the header is the client's word, and ignored.
    let direct = TestServer::start_with_env(&[limit]).await;
    assert_eq!(register(&direct, "ann", "198.51.100.1").await, StatusCode::CREATED);
    assert_eq!(register(&direct, "bob", "198.51.100.2").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn room_creation_is_limited_per_user() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_ROOMS", "2/3600s")]).await;
    let ann = server.user("ann").await;
    for name in ["one", "two"] {
        ann.create_room(name).await;
    }
    let refused = ann.post("/api/v1/chatrooms", json!({"name": "three"})).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!(retry_after(&refused) >= 1);
    assert_eq!(refusals(&server, "rooms").await, 1);
    // Another user has a budget of his own.
    server.user("bob").await.create_room("three").await;
}

#[tokio::test]
async fn uploads_are_limited_per_user() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_UPLOADS", "2/3600s")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("Files").await;
    let upload = |client: &crate::support::Client, name: &str| {
        let url = format!("{}/api/v1/chatrooms/{room}/attachments?filename={name}", client.base);
        let cookie = format!("session_id={}", client.cookie.clone().unwrap_or_default());
        client.http.post(url).header("cookie", cookie).body(b"hello".to_vec()).send()
    };
    for name in ["a.txt", "b.txt"] {
        assert_eq!(upload(&ann, name).await.unwrap().status(), StatusCode::CREATED);
    }
    let refused = upload(&ann, "c.txt").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refusals(&server, "uploads").await, 1);
    assert_eq!(ann.history(&room, "").await.len(), 2, "the refused file posted nothing");
}

#[tokio::test]
async fn websocket_handshakes_are_limited_per_client_address() {
    let server = TestServer::start_with_env(&[("RATE_LIMIT_HANDSHAKES", "2/60s")]).await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let _first = ann.connect(&room, "").await;
    let _second = ann.connect(&room, "").await;
    assert_eq!(ann.try_connect(&room, "").await.err(), Some(429));
    assert_eq!(refusals(&server, "handshakes").await, 1);
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_open_sockets() {
    let server = TestServer::start_with_env(&[("MAX_SOCKETS_PER_USER", "2")]).await;
    let pair = server.two_in_a_room().await;
    let (ann, room) = (&pair.ann, &pair.room);
    let _second = ann.connect(room, "").await;
    assert_eq!(ann.try_connect(room, "").await.err(), Some(429));
    assert_eq!(refusals(&server, "sockets_per_user").await, 1);
    // Another user has places of his own.
    let _bob = pair.bob.connect(room, "").await;
    // A closed socket gives its place back.
    drop(pair.ann_ws);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while ann.try_connect(room, "").await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_from_one_address_are_capped() {
    let server = TestServer::start_with_env(&[("MAX_CONNECTIONS_PER_IP", "3")]).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // A fresh client (a connection of its own) is told to come back later.
    let refused = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
    drop(idle.pop());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = reqwest::get(server.url("/health")).await.unwrap();
        if reply.status() == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refusals(&server, "connections_per_ip").await >= 1);
}

/// Many registrations at once from one address, with the per-address limit
/// lifted: those beyond the hashing queue are refused with 503 and
/// `Retry-After` (none fails otherwise), and an existing user logs in while
/// the accepted ones are still being hashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_flood_does_not_starve_logins() {
    const FLOOD: usize = 60;
    let server = TestServer::start().await;
    let mut ann = server.client();
    ann.register("ann").await;
    let registrations: Vec<_> = (0..FLOOD)
        .map(|n| {
            let client = server.client();
            tokio::spawn(async move { try_register(&client, &format!("flood_{n}")).await })
        })
        .collect();
    // Wait until the queue is full: the first refusals have come back.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while refusals(&server, "password_hashing").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the hashing queue never filled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ann.login("ann").await.status, StatusCode::OK);
    let pending = registrations.iter().filter(|task| !task.is_finished()).count();
    assert!(pending > 0, "the login waited for every registration");
    let (mut created, mut busy) = (0, 0);
    for task in registrations {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
                assert!(retry_after(&reply) >= 1);
                busy += 1;
            }
            other => panic!("registration answered {other}: {}", reply.body),
        }
    }
    assert!(created > 0 && busy > 0, "{created} created, {busy} refused");
}
