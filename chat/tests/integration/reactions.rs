//! Reactions: toggled by a `reaction` frame, stored, broadcast as the
//! message's whole state, shown in history and replay, on every instance.

use serde_json::{Value, json};

use crate::support::{TestServer, Ws};

/// Sends `emoji` on `message` (on or off) and returns the next frame that is
/// a `reactions` state or an `error`.
async fn react(ws: &mut Ws, message: &str, emoji: &str, on: bool) -> Value {
    ws.send(json!({"type": "reaction", "message_id": message, "emoji": emoji, "on": on})).await;
    loop {
        let frame = ws.next().await;
        if frame["type"] == "reactions" || frame["type"] == "error" {
            return frame;
        }
    }
}

/// The next `reactions` frame on `ws`.
async fn next_state(ws: &mut Ws) -> Value {
    ws.next_of("reactions").await
}

#[tokio::test]
async fn reactions_are_toggled_idempotently_and_shown_everywhere() {
    let server = TestServer::start().await;
    let mut pair = server.two_in_a_room().await;
    pair.ann_ws.say("hello", "m1").await;
    let message = pair.bob_ws.next_of("chat_message").await;
    assert_eq!(message["reactions"], json!([]), "a new message has none");
    let id = message["id"].as_str().unwrap().to_owned();
    pair.ann_ws.next_of("chat_message").await;

    let state = react(&mut pair.bob_ws, &id, "👍", true).await;
    let expected = json!([{"emoji": "👍", "count": 1, "users": ["bob"]}]);
    assert_eq!(state, json!({"type": "reactions", "message_id": id, "reactions": expected}));
    assert_eq!(next_state(&mut pair.ann_ws).await["reactions"], expected, "ann sees it too");

    // Again: nothing changes.
    assert_eq!(react(&mut pair.bob_ws, &id, "👍", true).await["reactions"], expected);
    assert_eq!(next_state(&mut pair.ann_ws).await["reactions"], expected);
    let state = react(&mut pair.ann_ws, &id, "👍", true).await;
    let both = json!([{"emoji": "👍", "count": 2, "users": ["bob", "ann"]}]);
    assert_eq!(state["reactions"], both);
    let state = react(&mut pair.ann_ws, &id, "🎉", true).await;
    assert_eq!(state["reactions"][1], json!({"emoji": "🎉", "count": 1, "users": ["ann"]}));
    // Off, twice: idempotent.
    react(&mut pair.ann_ws, &id, "🎉", false).await;
    let state = react(&mut pair.ann_ws, &id, "🎉", false).await;
    assert_eq!(state["reactions"], both);

    let history = pair.bob.history(&pair.room, "").await;
    assert_eq!(history[0]["reactions"], both, "history carries them");
}

#[tokio::test]
async fn bad_reactions_are_refused_and_write_nothing() {
    let server = TestServer::start().await;
    let mut pair = server.two_in_a_room().await;
    let other_room = pair.ann.create_room("Elsewhere").await;
    let mut elsewhere = pair.ann.connect(&other_room, "").await;
    elsewhere.say("over here", "x1").await;
    let foreign = elsewhere.next_of("chat_message").await["id"].as_str().unwrap().to_owned();
    pair.ann_ws.say("hello", "m1").await;
    let id = pair.ann_ws.next_of("chat_message").await["id"].as_str().unwrap().to_owned();

    let unknown = uuid::Uuid::new_v4().to_string();
    for (message, emoji, code) in [
        (unknown.as_str(), "👍", "NOT_FOUND"),
        (foreign.as_str(), "👍", "NOT_FOUND"),
        (id.as_str(), "a", "INVALID_FRAME"),
        (id.as_str(), "👍👍", "INVALID_FRAME"),
        (id.as_str(), "<script>", "INVALID_FRAME"),
        (id.as_str(), &"👍".repeat(9), "INVALID_FRAME"),
    ] {
        let refusal = react(&mut pair.ann_ws, message, emoji, true).await;
        assert_eq!(refusal["type"], "error", "{message} {emoji}: {refusal}");
        assert_eq!(refusal["code"], code, "{message} {emoji}: {refusal}");
    }
    pair.ann_ws
        .send(json!({"type": "reaction", "message_id": "nope", "emoji": "👍", "on": true}))
        .await;
    assert_eq!(pair.ann_ws.next_of("error").await["code"], "INVALID_FRAME");
    pair.ann_ws.send(json!({"type": "reaction", "message_id": id, "emoji": "👍"})).await;
    assert_eq!(pair.ann_ws.next_of("error").await["code"], "INVALID_FRAME");
    let rows = server.db.query_strings("SELECT count(*) FROM reactions").await;
    assert_eq!(rows[0].as_deref(), Some("0"), "nothing was written");

    // Twenty distinct emoji per user and message, not twenty-one.
    let twenty = [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰",
        "😗", "😙", "😚", "🙂", "🤗",
    ];
    for emoji in twenty {
        assert_eq!(react(&mut pair.ann_ws, &id, emoji, true).await["type"], "reactions");
    }
    assert_eq!(react(&mut pair.ann_ws, &id, "🤩", true).await["code"], "FORBIDDEN");
    assert_eq!(
        react(&mut pair.ann_ws, &id, "😀", true).await["type"],
        "reactions",
        "a repeat is fine"
    );
    assert_eq!(
        react(&mut pair.bob_ws, &id, "🤩", true).await["type"],
        "reactions",
        "bob has his own"
    );
}

#[tokio::test]
async fn concurrent_toggles_on_two_instances_end_in_one_state_everywhere() {
    let a = TestServer::start().await;
    let b = a.sibling().await;
    let host = a.user("host").await;
    let room = host.create_room("General").await;
    let mut people = Vec::new();
    for (name, server) in [("ann", &a), ("bob", &b), ("cat", &a), ("dan", &b)] {
        let mut client = server.client();
        client.register(name).await;
        client.login(name).await;
        client.join(&room).await;
        let ws = client.connect(&room, "").await;
        people.push(ws);
    }
    people[0].say("react to me", "m1").await;
    let id = people[0].next_of("chat_message").await["id"].as_str().unwrap().to_owned();
    for ws in &mut people[1..] {
        ws.next_of("chat_message").await;
    }
    // Each toggles 👍 on and off several times at once; the last word is on.
    let rounds = 6;
    let mut tasks = Vec::new();
    for mut ws in people.drain(..) {
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..rounds {
                let on = round % 2 == 0 || round == rounds - 1;
                ws.send(json!({"type": "reaction", "message_id": id, "emoji": "👍", "on": on}))
                    .await;
            }
            ws
        }));
    }
    for task in tasks {
        people.push(task.await.unwrap());
    }
    // Every socket's last state is the stored one, once all changes are in.
    let total = 4 * rounds as usize;
    let mut lasts = Vec::new();
    for ws in &mut people {
        let mut last = Value::Null;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        while let Some(frame) = ws.next_before(deadline).await {
            if frame["type"] == "reactions" {
                last = frame;
            }
        }
        lasts.push(last);
    }
    let stored = a
        .db
        .query_strings(&format!(
            "SELECT string_agg(username, ',' ORDER BY username) FROM reactions WHERE message_id = '{id}'"
        ))
        .await;
    for last in lasts {
        let mut users: Vec<String> = last["reactions"][0]["users"]
            .as_array()
            .map(|u| u.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        users.sort();
        assert_eq!(Some(users.join(",")), stored[0].clone(), "after {total} toggles: {last}");
    }
}
