//! The hostile-input property: arbitrary Unicode (U+0000, lone surrogates in
//! JSON escapes, bidirectional and zero-width characters, 10 KB strings)
//! through every text field of every REST endpoint and WebSocket frame,
//! against the real server. Nothing answers 5xx or panics, nothing is
//! half-written, and an honest user posting meanwhile loses nothing.
//!
//! Cases are drawn by proptest (no shrinking: each case talks to a live
//! server); a failure names the input.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Client, TestServer};

/// Cases per run.
const CASES: usize = 40;
/// The largest frame the server reads.
const MAX_FRAME: usize = 64 * 1024;
/// The most encoded text put in one part of a URI.
const MAX_URI_TEXT: usize = 12 * 1024;

/// Pieces a hostile client reaches for.
const NASTY: [&str; 14] = [
    "\u{0}",
    "\u{202e}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{061c}",
    "\u{2066}",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\r\n",
    "%00",
    "../",
    "\u{1F44D}",
];

/// Arbitrary Unicode, strings of the nasty pieces, or 10 KB of either.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(&NASTY[..]).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => "[a-z]{1,8}",
    ];
    let mixed = proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat());
    prop_oneof![
        4 => mixed,
        2 => any::<String>(),
        1 => (any::<char>(), 1usize..3).prop_map(|(c, n)| c.to_string().repeat(10 * 1024 / n)),
    ]
}

/// One case: a string per field, and whether JSON escapes get a lone surrogate.
#[derive(Clone)]
struct Case {
    texts: Vec<String>,
    surrogate: bool,
}

/// A failure names the input: each string's start and length.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let texts: Vec<String> = self
            .texts
            .iter()
            .map(|t| {
                format!(
                    "{:?}… ({} chars)",
                    t.chars().take(40).collect::<String>(),
                    t.chars().count()
                )
            })
            .collect();
        f.debug_struct("Case").field("texts", &texts).field("surrogate", &self.surrogate).finish()
    }
}

fn case() -> impl Strategy<Value = Case> {
    (proptest::collection::vec(hostile_text(), 8), any::<bool>())
        .prop_map(|(texts, surrogate)| Case { texts, surrogate })
}

/// `text` as a JSON string literal, with a lone surrogate escape inside when asked.
fn literal(text: &str, surrogate: bool) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    if surrogate { format!("\"\\ud800{}", &quoted[1..]) } else { quoted }
}

/// `text` percent-encoded for a path or query, cut to what a URI may hold
/// (clients refuse longer ones before sending).
fn encoded(text: &str) -> String {
    let mut encoded = String::new();
    for c in text.chars() {
        let mut buffer = [0u8; 4];
        let piece: String =
            form_urlencoded::byte_serialize(c.encode_utf8(&mut buffer).as_bytes()).collect();
        if encoded.len() + piece.len() > MAX_URI_TEXT {
            break;
        }
        encoded.push_str(&piece);
    }
    encoded
}

/// Sends a raw body; the status.
async fn raw(client: &Client, method: Method, path: &str, body: String) -> u16 {
    let mut request = client.http.request(method, format!("{}{path}", client.base));
    if let Some(cookie) = &client.cookie {
        request = request.header("cookie", format!("session_id={cookie}"));
    }
    let response = request
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    response.status().as_u16()
}

/// Every REST endpoint that reads text, with the case's strings; the
/// statuses, each named.
async fn rest(client: &Client, room: &str, message: &str, case: &Case) -> Vec<(String, u16)> {
    let t = &case.texts;
    let s = case.surrogate;
    let mut statuses = Vec::new();
    let bodies = [
        (
            "register",
            "/api/v1/auth/register",
            format!(
                "{{\"username\":{},\"password\":{},\"email\":{}}}",
                literal(&t[0], s),
                literal(&t[1], false),
                literal(&t[2], false)
            ),
        ),
        (
            "login",
            "/api/v1/auth/login",
            format!(
                "{{\"username\":{},\"password\":{}}}",
                literal(&t[0], false),
                literal(&t[1], s)
            ),
        ),
        ("create room", "/api/v1/chatrooms", format!("{{\"name\":{}}}", literal(&t[3], s))),
        (
            "read marker",
            &format!("/api/v1/chatrooms/{room}/read"),
            format!("{{\"message_id\":{}}}", literal(&t[4], s)),
        ),
        (
            "add member",
            &format!("/api/v1/chatrooms/{room}/members"),
            format!("{{\"username\":{}}}", literal(&t[0], s)),
        ),
        ("direct room", "/api/v1/direct", format!("{{\"username\":{}}}", literal(&t[1], s))),
        (
            "private room",
            "/api/v1/chatrooms",
            format!("{{\"name\":{},\"private\":true}}", literal(&t[2], s)),
        ),
    ];
    for (name, path, body) in bodies {
        statuses.push((name.to_owned(), raw(client, Method::POST, path, body).await));
    }
    let join = format!("/api/v1/chatrooms/{}/join", encoded(&t[5]));
    statuses.push(("join".into(), raw(client, Method::POST, &join, "{}".into()).await));
    let page = format!(
        "/api/v1/chatrooms/{room}/messages?limit={}&before={}",
        encoded(&t[6]),
        encoded(&t[7])
    );
    statuses.push(("history".into(), client.get(&page).await.status.as_u16()));
    let around = format!("/api/v1/chatrooms/{room}/messages?around={}", encoded(&t[4]));
    statuses.push(("history around".into(), client.get(&around).await.status.as_u16()));
    let members = format!("/api/v1/chatrooms/{}/members", encoded(&t[5]));
    statuses.push(("members".into(), client.get(&members).await.status.as_u16()));
    let member = format!("/api/v1/chatrooms/{room}/members/{}", encoded(&t[6]));
    let removed = raw(client, Method::DELETE, &member, String::new()).await;
    statuses.push(("remove member".into(), removed));
    let edit = format!("/api/v1/chatrooms/{room}/messages/{message}");
    let body = format!("{{\"content\":{}}}", literal(&t[1], s));
    statuses.push(("edit".into(), raw(client, Method::PATCH, &edit, body).await));
    let stranger = format!("/api/v1/chatrooms/{room}/messages/{}", encoded(&t[2]));
    let body = format!("{{\"content\":{}}}", literal(&t[0], false));
    statuses.push(("edit by path".into(), raw(client, Method::PATCH, &stranger, body).await));
    statuses.push(("delete".into(), raw(client, Method::DELETE, &stranger, String::new()).await));
    let search = format!(
        "/api/v1/search?q={}&chatroom_id={}&before={}&limit={}",
        encoded(&t[3]),
        encoded(&t[4]),
        encoded(&t[5]),
        encoded(&t[6])
    );
    statuses.push(("search".into(), client.get(&search).await.status.as_u16()));
    let search = format!("/api/v1/search?q={}", encoded(&t[7]));
    statuses.push(("search words".into(), client.get(&search).await.status.as_u16()));
    let key = format!(
        "{{\"public_key\":{},\"backup\":{{\"salt\":{},\"iterations\":310000,\"iv\":{},\"ciphertext\":{}}}}}",
        literal(&t[0], s),
        literal(&t[1], false),
        literal(&t[2], false),
        literal(&t[3], s)
    );
    statuses.push(("identity key".into(), raw(client, Method::PUT, "/api/v1/keys", key).await));
    let keys = format!("/api/v1/chatrooms/{room}/keys");
    statuses.push(("room keys".into(), client.get(&keys).await.status.as_u16()));
    let envelopes = format!(
        "{{\"epoch\":1,\"envelopes\":[{{\"recipient\":{},\"ephemeral_public_key\":{},\"wrapped_key\":{}}}]}}",
        literal(&t[5], s),
        literal(&t[6], false),
        literal(&t[7], s)
    );
    statuses.push(("share room key".into(), raw(client, Method::POST, &keys, envelopes).await));
    let sealed = format!(
        "{{\"encrypted\":{{\"epoch\":1,\"iv\":{},\"ciphertext\":{}}}}}",
        literal(&t[3], s),
        literal(&t[4], false)
    );
    statuses.push(("sealed edit".into(), raw(client, Method::PATCH, &edit, sealed).await));
    let sealed_upload =
        format!("/api/v1/chatrooms/{room}/attachments?encrypted={}", encoded(&t[1]));
    statuses.push((
        "sealed upload".into(),
        raw(client, Method::POST, &sealed_upload, t[2].clone()).await,
    ));
    let someone = format!("/api/v1/users/{}/key", encoded(&t[4]));
    statuses.push(("public key".into(), client.get(&someone).await.status.as_u16()));
    let file = format!("/api/v1/attachments/{}", encoded(&t[2]));
    statuses.push(("download".into(), client.get(&file).await.status.as_u16()));
    let upload = format!(
        "{}/api/v1/chatrooms/{room}/attachments?filename={}&caption={}&client_id={}",
        client.base,
        encoded(&t[5]),
        encoded(&t[6]),
        encoded(&t[7]),
    );
    let uploaded = client
        .http
        .post(upload)
        .header("cookie", format!("session_id={}", client.cookie.as_deref().unwrap()))
        .header("content-type", &t[4].chars().filter(char::is_ascii_graphic).collect::<String>())
        .body(t[0].clone().into_bytes())
        .send()
        .await
        .expect("upload sent");
    statuses.push(("upload".into(), uploaded.status().as_u16()));
    let replay = format!("?after={}", encoded(&t[3]));
    let handshake = match client.try_connect(room, &replay).await {
        Ok(_) => 101,
        Err(status) => status,
    };
    statuses.push(("handshake ?after=".into(), handshake));
    statuses
}

/// Every client frame that carries text, with the case's strings.
fn frames(message: &str, case: &Case) -> Vec<String> {
    let t = &case.texts;
    let s = case.surrogate;
    vec![
        format!(
            "{{\"type\":\"chat_message\",\"content\":{},\"client_id\":{}}}",
            literal(&t[0], s),
            literal(&t[1], false)
        ),
        format!(
            "{{\"type\":\"chat_message\",\"content\":{},\"client_id\":{}}}",
            literal(&t[2], false),
            literal(&t[3], s)
        ),
        format!("{{\"content\":{}}}", literal(&t[4], false)),
        format!(
            "{{\"type\":\"reaction\",\"message_id\":\"{message}\",\"emoji\":{},\"on\":true}}",
            literal(&t[5], s)
        ),
        format!(
            "{{\"type\":\"reaction\",\"message_id\":{},\"emoji\":\"\u{1F44D}\",\"on\":false}}",
            literal(&t[6], false)
        ),
        format!("{{\"type\":{},\"content\":\"x\"}}", literal(&t[7], s)),
        format!(
            "{{\"type\":\"edit\",\"message_id\":\"{message}\",\"content\":{}}}",
            literal(&t[1], s)
        ),
        format!("{{\"type\":\"delete\",\"message_id\":{}}}", literal(&t[2], s)),
        format!(
            "{{\"type\":\"chat_message\",\"content\":\"re\",\"reply_to\":{}}}",
            literal(&t[3], s)
        ),
        json!({"type": "typing", "content": t[0]}).to_string(),
        format!(
            "{{\"type\":\"chat_message\",\"encrypted\":{{\"epoch\":1,\"iv\":{},\"ciphertext\":{}}},\"attachment_ids\":[{}]}}",
            literal(&t[4], s),
            literal(&t[5], false),
            literal(&t[6], s)
        ),
        format!(
            "{{\"type\":\"edit\",\"message_id\":\"{message}\",\"encrypted\":{{\"epoch\":2,\"iv\":{},\"ciphertext\":{}}}}}",
            literal(&t[7], false),
            literal(&t[0], s)
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_every_field_breaks_nothing_and_costs_an_honest_user_nothing() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let honest_room = pair.bob.create_room("honest").await;
    let mut honest = pair.bob.connect(&honest_room, "").await;
    let mut hostile = pair.ann.connect(&pair.room, "").await;
    hostile.say("a message to react to", "target").await;
    let target = hostile.next_of("chat_message").await["id"].as_str().unwrap().to_owned();

    // A fresh connection per request: the server may close one after a
    // refusal it answers before reading the body (413), and a pooled
    // connection reused at that moment fails on the client's side.
    let hostile_client = Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
        ..pair.ann.clone()
    };
    let mut runner = TestRunner::new(Config { cases: CASES as u32, ..Config::default() });
    let strategy = case();
    let mut honest_sent = 0;
    for n in 0..CASES {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        honest.say(&format!("honest {n}"), &format!("h{n}")).await;
        honest_sent += 1;
        for (endpoint, status) in rest(&hostile_client, &pair.room, &target, &case).await {
            assert!(status < 500, "{endpoint} answered {status} for {case:?}");
        }
        // A frame over 64 KiB closes the socket (1009), as documented.
        for frame in frames(&target, &case).into_iter().filter(|f| f.len() < MAX_FRAME) {
            hostile.send_text(&frame).await;
        }
        // The socket still serves its user after every case: a marker
        // frame is acknowledged after whatever the case's frames caused.
        hostile.say(&format!("marker {n}"), &format!("marker{n}")).await;
        loop {
            let frame = hostile.next().await;
            let kind = frame["type"].as_str().unwrap_or_default().to_owned();
            assert!(
                [
                    "chat_message",
                    "error",
                    "reactions",
                    "message_edited",
                    "presence",
                    "user_joined",
                    "user_left",
                    "typing"
                ]
                .contains(&kind.as_str()),
                "unexpected {frame} for {case:?}"
            );
            if kind == "error" {
                assert_ne!(frame["code"], "UNAVAILABLE", "{frame} for {case:?}");
            }
            if frame["client_id"] == format!("marker{n}") && kind == "chat_message" {
                break;
            }
        }
    }
    let mut acknowledged = 0;
    while acknowledged < honest_sent {
        let frame = honest.next_of("chat_message").await;
        assert_eq!(frame["client_id"], format!("h{acknowledged}"));
        acknowledged += 1;
    }
    assert_honest_history(&pair.bob, &honest_room, honest_sent).await;
    assert_nothing_half_written(&server).await;
}

async fn assert_honest_history(bob: &Client, room: &str, sent: usize) {
    let history: Vec<Value> = bob.history(room, "?limit=100").await;
    let contents: Vec<&str> = history.iter().map(|m| m["content"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..sent).map(|n| format!("honest {n}")).collect();
    assert_eq!(contents, expected);
}

/// Every stored row is whole: no file without its message or its bytes, and
/// every room name is one the rules allow.
async fn assert_nothing_half_written(server: &TestServer) {
    let orphans = server
        .db
        .query_strings(
            "SELECT count(*) FROM attachments a
             WHERE a.size = 0 AND a.sha256 = ''
                OR NOT EXISTS (SELECT 1 FROM attachment_chunks c WHERE c.attachment_id = a.id)
                   AND a.size > 0",
        )
        .await;
    assert_eq!(orphans[0].as_deref(), Some("0"), "half-written attachments");
    let names = server.db.query_strings("SELECT name FROM chatrooms").await;
    for name in names.into_iter().flatten() {
        assert!(
            protocol::text::check_visible_name(&name).is_ok() && !name.is_empty(),
            "stored room name {name:?}"
        );
    }
}
