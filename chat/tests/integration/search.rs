//! Search: whole words in the caller's rooms, case and accents aside,
//! phrases and exclusions; edits found under their new text, deletions and
//! rooms left never; `?around=` opens a result in context.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, PATIENCE, Pair, TestServer, Ws};

async fn post(ws: &mut Ws, content: &str) -> String {
    let client_id = uuid::Uuid::now_v7().to_string();
    ws.say(content, &client_id).await;
    loop {
        let frame = ws.next().await;
        if frame["type"] == "chat_message" && frame["client_id"] == client_id.as_str() {
            return frame["id"].as_str().unwrap().to_owned();
        }
    }
}

fn query(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn search(client: &Client, q: &str, extra: &str) -> Vec<Value> {
    let reply = client.get(&format!("/api/v1/search?q={}{extra}", query(q))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["results"].as_array().unwrap().clone()
}

fn contents(results: &[Value]) -> Vec<&str> {
    results.iter().map(|m| m["content"].as_str().unwrap()).collect()
}

/// Searches until the results' contents are `expected`: indexing happens a
/// moment after a message is stored.
async fn eventually(client: &Client, q: &str, extra: &str, expected: &[&str]) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let results = search(client, q, extra).await;
        if contents(&results) == expected {
            return results;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "searching {q:?} found {:?}, not {expected:?}",
            contents(&results)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn search_reads_words_as_web_search_does() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, .. } = server.two_in_a_room().await;
    post(&mut ann_ws, "Un café au lait, s'il vous plaît").await;
    post(&mut ann_ws, "the quick brown fox").await;
    post(&mut ann_ws, "quick tests are brown bread").await;
    let last = post(&mut ann_ws, "cafeteria is not a café").await;

    let found = eventually(
        &bob,
        "CAFE",
        "",
        &["cafeteria is not a café", "Un café au lait, s'il vous plaît"],
    )
    .await;
    assert_eq!(found[0]["id"], last.as_str(), "newest first");
    assert_eq!(found[0]["chatroom_id"], room.as_str());
    assert_eq!(found[0]["username"], "ann");
    eventually(&bob, "quick -fox", "", &["quick tests are brown bread"]).await;
    eventually(&bob, "\"brown fox\"", "", &["the quick brown fox"]).await;
    eventually(&bob, "brown", "", &["quick tests are brown bread", "the quick brown fox"]).await;
    eventually(&bob, "caf", "", &[]).await;
    eventually(&bob, "!!!", "", &[]).await;

    // Pages: `limit`, then `before` the last result.
    let page = search(&bob, "quick OR café", "&limit=2").await;
    assert_eq!(page.len(), 2);
    let before = page[1]["id"].as_str().unwrap();
    let rest = search(&bob, "quick OR café", &format!("&limit=2&before={before}")).await;
    assert_eq!(contents(&rest), ["the quick brown fox", "Un café au lait, s'il vous plaît"]);

    // Bad requests.
    for bad in [
        "",
        "q=",
        "q=%20%20",
        "q=a%00b",
        &format!("q={}", "a".repeat(257)),
        "q=x&limit=0",
        "q=x&limit=51",
        "q=x&chatroom_id=nope",
        "q=x&before=nope",
    ] {
        let reply = bob.get(&format!("/api/v1/search?{bad}")).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let unknown = uuid::Uuid::now_v7();
    // `before` is any message id: results older than it.
    assert!(search(&bob, "quick", &format!("&before={}", uuid::Uuid::nil())).await.is_empty());
    bob.get(&format!("/api/v1/search?q=x&chatroom_id={unknown}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    server
        .client()
        .get("/api/v1/search?q=x")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    drop(ann);
}

#[tokio::test]
async fn search_follows_edits_deletions_and_membership() {
    let server = TestServer::start().await;
    let Pair { ann, bob, room, mut ann_ws, .. } = server.two_in_a_room().await;
    let elsewhere = ann.create_room("Elsewhere").await;
    let mut elsewhere_ws = ann.connect(&elsewhere, "").await;
    let typo = post(&mut ann_ws, "the meeting is on tuesdya").await;
    let gone = post(&mut ann_ws, "tuesday lunch is cancelled").await;
    post(&mut elsewhere_ws, "tuesday in another room").await;

    eventually(&ann, "tuesday", "", &["tuesday in another room", "tuesday lunch is cancelled"])
        .await;
    eventually(&bob, "tuesday", "", &["tuesday lunch is cancelled"]).await;
    let path = format!("/api/v1/chatrooms/{room}/messages/{typo}");
    let edited =
        ann.send(Method::PATCH, &path, Some(json!({"content": "the meeting is on tuesday"}))).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    // An edit is searchable once acknowledged.
    assert_eq!(
        contents(&search(&bob, "tuesday", "").await),
        ["tuesday lunch is cancelled", "the meeting is on tuesday"]
    );
    assert!(search(&bob, "tuesdya", "").await.is_empty(), "the old text is not found");

    let path = format!("/api/v1/chatrooms/{room}/messages/{gone}");
    assert_eq!(ann.send(Method::DELETE, &path, None).await.status, StatusCode::OK);
    assert_eq!(contents(&search(&bob, "tuesday", "").await), ["the meeting is on tuesday"]);
    assert_eq!(
        contents(&search(&ann, "tuesday", &format!("&chatroom_id={elsewhere}")).await),
        ["tuesday in another room"]
    );
    bob.get(&format!("/api/v1/search?q=tuesday&chatroom_id={elsewhere}"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "NOT_A_MEMBER");

    // A result opens in context.
    let around = bob.history(&room, &format!("?around={typo}&limit=3")).await;
    assert!(around.iter().any(|m| m["id"] == typo.as_str()));

    // Bob leaves: the room's messages are no longer his to find.
    let leave =
        bob.send(Method::DELETE, &format!("/api/v1/chatrooms/{room}/members/bob"), None).await;
    assert_eq!(leave.status, StatusCode::OK, "{}", leave.body);
    assert!(search(&bob, "tuesday", "").await.is_empty(), "never a room the caller left");
    assert_eq!(search(&ann, "tuesday", "").await.len(), 2);
}

#[tokio::test]
async fn messages_stored_before_a_restart_are_found_after_it() {
    let server = TestServer::start().await;
    let Pair { bob, mut ann_ws, .. } = server.two_in_a_room().await;
    post(&mut ann_ws, "persistent words survive").await;
    drop(ann_ws);
    let server = server.restart().await;
    let bob = bob.at(&server.base());
    eventually(&bob, "persistent", "", &["persistent words survive"]).await;
    // Words lost with a stopped process are caught up when the next starts.
    server.db.query_strings("DELETE FROM message_words").await;
    let server = server.restart().await;
    eventually(&bob.at(&server.base()), "survive", "", &["persistent words survive"]).await;
}
