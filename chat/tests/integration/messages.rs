//! Durable history: the 50-message window, paging, idempotency, replay, restart.

use serde_json::{Value, json};

use crate::support::{Pair, TestServer, Ws};

/// Sends `count` messages `prefix-0..` and waits for each acknowledgement.
async fn say_many(ws: &mut Ws, prefix: &str, count: usize) -> Vec<Value> {
    for i in 0..count {
        ws.say(&format!("{prefix}-{i}"), &format!("{prefix}-{i}")).await;
    }
    let mut acks = Vec::new();
    while acks.len() < count {
        let frame = ws.next_of("chat_message").await;
        acks.push(frame);
    }
    acks
}

fn contents(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["content"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn history_shows_the_last_fifty_oldest_first_and_pages_back() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    let acks = say_many(&mut ws, "m", 60).await;
    assert_eq!(contents(&acks), (0..60).map(|i| format!("m-{i}")).collect::<Vec<_>>());

    let window = ann.history(&room, "").await;
    assert_eq!(window.len(), 50);
    assert_eq!(contents(&window), contents(&acks[10..]));
    assert_eq!(
        window,
        acks[10..]
            .iter()
            .map(|a| {
                let mut m = a.clone();
                m.as_object_mut().unwrap().remove("type");
                m
            })
            .collect::<Vec<_>>()
    );

    let oldest_shown = window[0]["id"].as_str().unwrap();
    let older = ann.history(&room, &format!("?before={oldest_shown}")).await;
    assert_eq!(contents(&older), contents(&acks[..10]));
    let page = ann.history(&room, &format!("?before={oldest_shown}&limit=3")).await;
    assert_eq!(contents(&page), ["m-7", "m-8", "m-9"]);
    assert_eq!(ann.history(&room, "?limit=100").await.len(), 60);

    let time = window[0]["created_at"].as_str().unwrap();
    let by_time = ann.history(&room, &format!("?before={time}")).await;
    assert_eq!(contents(&by_time), contents(&acks[..10]));
    assert!(ann.history(&room, "?before=2000-01-01T00:00:00Z").await.is_empty());
}

#[tokio::test]
async fn around_opens_a_message_in_context() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    let acks = say_many(&mut ws, "m", 30).await;
    let id = |i: usize| acks[i]["id"].as_str().unwrap().to_owned();

    let page = ann.history(&room, &format!("?around={}&limit=5", id(10))).await;
    assert_eq!(contents(&page), ["m-8", "m-9", "m-10", "m-11", "m-12"], "two before, two after");
    let page = ann.history(&room, &format!("?around={}&limit=4", id(10))).await;
    assert_eq!(contents(&page), ["m-9", "m-10", "m-11", "m-12"], "an even page leans later");
    let first = ann.history(&room, &format!("?around={}&limit=5", id(0))).await;
    assert_eq!(contents(&first), ["m-0", "m-1", "m-2"], "nothing before the first");
    let last = ann.history(&room, &format!("?around={}", id(29))).await;
    assert_eq!(last.len(), 25, "the default page: 24 before, then the message");
    assert_eq!(contents(&last).last(), Some(&"m-29"));
}

#[tokio::test]
async fn paging_parameters_are_validated() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let other_room = ann.create_room("Other").await;
    let mut ws = ann.connect(&other_room, "").await;
    let foreign = say_many(&mut ws, "x", 1).await[0]["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7();
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?limit=-1",
        "?before=yesterday",
        &format!("?before={unknown}"),
        &format!("?before={foreign}"),
        "?around=nope",
        &format!("?around={unknown}"),
        &format!("?around={foreign}"),
        &format!("?around={foreign}&before={foreign}"),
    ] {
        let reply = ann.get(&format!("/api/v1/chatrooms/{room}/messages{query}")).await;
        reply.assert_error(reqwest::StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn a_resent_client_id_is_stored_once() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    ws.say("hello", "c-1").await;
    let first = ws.next_of("chat_message").await;
    ws.say("hello again", "c-1").await;
    let second = ws.next_of("chat_message").await;
    assert_eq!(first, second, "the resend is acknowledged with the stored message");
    assert_eq!(first["client_id"], "c-1");
    assert_eq!(contents(&ann.history(&room, "").await), ["hello"]);

    // Another user may use the same client_id.
    let bob = server.user("bob").await;
    bob.join(&room).await;
    let mut bob_ws = bob.connect(&room, "").await;
    bob_ws.say("hi", "c-1").await;
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "hi");
    assert_eq!(ann.history(&room, "").await.len(), 2);
}

#[tokio::test]
async fn resuming_with_after_replays_what_was_missed_once() {
    let server = TestServer::start().await;
    let Pair { bob, room, mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;
    let seen = say_many(&mut ann_ws, "before", 2).await;
    for expected in &seen {
        assert_eq!(&bob_ws.next_of("chat_message").await, expected);
    }
    drop(bob_ws);

    let missed = say_many(&mut ann_ws, "away", 3).await;
    let last_seen = seen[1]["id"].as_str().unwrap();
    let mut bob_ws = bob.connect(&room, &format!("?after={last_seen}")).await;
    assert_eq!(bob_ws.next().await["type"], "presence");
    for expected in &missed {
        assert_eq!(&bob_ws.next().await, expected);
    }
    ann_ws.say("live", "live").await;
    assert_eq!(bob_ws.next_of("chat_message").await["content"], "live");
    bob_ws.assert_quiet(std::time::Duration::from_millis(300)).await;
}

#[tokio::test]
async fn resuming_replays_at_most_500_and_otherwise_asks_for_resync() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    let acks = say_many(&mut ws, "m", 502).await;
    let id = |i: usize| acks[i]["id"].as_str().unwrap().to_owned();

    // 500 newer than the second message: all replayed, in order.
    let mut resumed = ann.connect(&room, &format!("?after={}", id(1))).await;
    assert_eq!(resumed.next().await["type"], "presence");
    for expected in &acks[2..] {
        assert_eq!(&resumed.next().await, expected);
    }

    // 501 newer than the first: more than the server replays.
    let mut behind = ann.connect(&room, &format!("?after={}", id(0))).await;
    assert_eq!(behind.next().await["type"], "presence");
    assert_eq!(behind.next().await, json!({"type": "resync"}));

    // An id the room does not have: the client cannot be caught up either.
    let unknown = uuid::Uuid::now_v7();
    let mut lost = ann.connect(&room, &format!("?after={unknown}")).await;
    assert_eq!(lost.next_of("resync").await, json!({"type": "resync"}));
}

#[tokio::test]
async fn history_survives_a_restart() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let mut ws = ann.connect(&room, "").await;
    let acks = say_many(&mut ws, "kept", 5).await;
    drop(ws);
    let server = server.restart().await;
    let mut ann = server.client();
    ann.login("ann").await;
    let history = ann.history(&room, "").await;
    assert_eq!(contents(&history), contents(&acks));
}

#[tokio::test]
async fn a_thousand_messages_between_two_clients_arrive_once_and_in_order() {
    let server = TestServer::start().await;
    let Pair { ann, room, mut ann_ws, mut bob_ws, .. } = server.two_in_a_room().await;
    ann_ws.next_of("user_joined").await;

    let started = std::time::Instant::now();
    for i in 0..1000 {
        ann_ws.say(&format!("n{i}"), &format!("n{i}")).await;
    }
    for i in 0..1000 {
        assert_eq!(bob_ws.next_of("chat_message").await["content"], format!("n{i}"));
    }
    // A figure for the log (run with --no-capture), never a pass/fail bound.
    println!("1000 messages ann -> bob: {:?}", started.elapsed());
    assert_eq!(ann.history(&room, "?limit=100").await.len(), 100);
    let stored = server.db.query_strings("SELECT count(*) FROM messages").await;
    assert_eq!(stored, vec![Some("1000".to_owned())]);
}

#[tokio::test]
async fn with_several_writers_every_room_keeps_its_order() {
    let server = TestServer::start_with_env(&[("ROOM_WRITERS", "3")]).await;
    let ann = server.user("ann").await;
    let mut rooms = Vec::new();
    for r in 0..6 {
        let room = ann.create_room(&format!("room {r}")).await;
        let ws = ann.connect(&room, "").await;
        rooms.push((room, ws));
    }
    // Interleaved, without waiting: the rooms' messages share the writers' queues.
    for i in 0..40 {
        for (r, (_, ws)) in rooms.iter_mut().enumerate() {
            ws.say(&format!("r{r}-{i}"), &format!("r{r}-{i}")).await;
        }
    }
    for (r, (room, ws)) in rooms.iter_mut().enumerate() {
        let expected: Vec<String> = (0..40).map(|i| format!("r{r}-{i}")).collect();
        let mut delivered = Vec::new();
        while delivered.len() < 40 {
            delivered.push(ws.next_of("chat_message").await);
        }
        assert_eq!(contents(&delivered), expected);
        assert_eq!(contents(&ann.history(room, "").await), expected);
    }
    let stored = server.db.query_strings("SELECT count(*) FROM messages").await;
    assert_eq!(stored, vec![Some("240".to_owned())]);
}
