//! Hostile input and bounds (API.md, "Hostile input and bounds"): text that
//! cannot be stored is refused at every edge and costs no one else anything,
//! names are visible, nothing a request names grows without bound, and slow
//! or silent clients are cut off in time.

use std::time::Duration;

use futures_util::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Client, PATIENCE, TestServer};

/// Posts `query` to the room's uploads with `body`; the status and the reply.
async fn upload(client: &Client, room: &str, query: &str, body: &[u8]) -> (StatusCode, Value) {
    let url = format!("{}/api/v1/chatrooms/{room}/attachments?{query}", client.base);
    let response = client
        .http
        .post(url)
        .header("cookie", format!("session_id={}", client.cookie.as_deref().unwrap_or_default()))
        .header("content-type", "text/plain")
        .body(body.to_vec())
        .send()
        .await
        .expect("upload sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    server.db.query_strings(sql).await[0].as_deref().unwrap_or("0").parse().unwrap()
}

/// A user who sends U+0000 in every field a frame has, while another user
/// posts in another room: the poison is refused to its sender alone, and
/// every one of the other user's messages is stored and acknowledged.
#[tokio::test]
async fn nul_in_a_frame_is_refused_and_costs_no_one_else_a_message() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let other_room = pair.bob.create_room("elsewhere").await;
    let mut poison = pair.ann.connect(&pair.room, "").await;
    let mut honest = pair.bob.connect(&other_room, "").await;
    let sending = tokio::spawn(async move {
        for n in 0..30 {
            honest.say(&format!("honest {n}"), &format!("h{n}")).await;
        }
        let mut acknowledged = 0;
        while acknowledged < 30 {
            let frame = honest.next_of("chat_message").await;
            assert_eq!(frame["content"], format!("honest {acknowledged}"));
            acknowledged += 1;
        }
        acknowledged
    });
    for n in 0..30 {
        poison.say("bad\u{0}", &format!("p{n}")).await;
        let refused = poison.next_of("error").await;
        assert_eq!(refused["code"], "INVALID_FRAME", "{refused}");
        assert_eq!(refused["client_id"], format!("p{n}"), "{refused}");
    }
    poison.send(json!({"type": "chat_message", "content": "fine", "client_id": "a\u{0}"})).await;
    assert_eq!(poison.next_of("error").await["code"], "INVALID_FRAME");
    assert_eq!(sending.await.unwrap(), 30);
    assert_eq!(count(&server, "SELECT count(*) FROM messages").await, 30);
    // The poisoner's socket still works.
    poison.say("and now something fine", "ok").await;
    assert_eq!(poison.next_of("chat_message").await["client_id"], "ok");
}

/// Every REST field that takes text refuses U+0000 with `VALIDATION_ERROR`,
/// never a 500, and stores nothing.
#[tokio::test]
async fn nul_in_any_rest_field_is_a_validation_error() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let anon = server.client();
    let nul = "ann\u{0}";
    let refusals = [
        anon.post("/api/v1/auth/login", json!({"username": nul, "password": "whatever1"})).await,
        anon.post("/api/v1/auth/login", json!({"username": "ann", "password": "pass\u{0}word"}))
            .await,
        anon.post("/api/v1/auth/register", json!({"username": nul, "password": "whatever1"})).await,
        anon.post(
            "/api/v1/auth/register",
            json!({"username": "carol", "password": "pass\u{0}word"}),
        )
        .await,
        anon.post(
            "/api/v1/auth/register",
            json!({"username": "dave", "password": "whatever1", "email": "d\u{0}@x.io"}),
        )
        .await,
        pair.ann.post("/api/v1/chatrooms", json!({"name": "bad\u{0}room"})).await,
    ];
    for reply in refusals {
        reply.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    for query in
        ["filename=a%00.txt", "filename=a.txt&caption=x%00y", "filename=a.txt&client_id=c%00"]
    {
        let (status, reply) = upload(&pair.ann, &pair.room, query, b"hello").await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")),
            "{query}: {reply}"
        );
    }
    assert_eq!(count(&server, "SELECT count(*) FROM users").await, 3, "ann, bob and the bot");
    assert_eq!(count(&server, "SELECT count(*) FROM chatrooms").await, 1);
    assert_eq!(count(&server, "SELECT count(*) FROM attachments").await, 0);
    assert_eq!(count(&server, "SELECT count(*) FROM messages").await, 0);
}

/// Room and file names that would hide or reorder what they show are refused.
#[tokio::test]
async fn names_with_invisible_or_reordering_characters_are_refused() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    for name in [
        "evil\u{202e}gnp.exe",
        "zero\u{200b}width",
        "\u{feff}bom",
        "mark\u{200f}",
        "iso\u{2066}late",
    ] {
        pair.ann
            .post("/api/v1/chatrooms", json!({ "name": name }))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let (status, reply) =
            upload(&pair.ann, &pair.room, &format!("filename={encoded}"), b"x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {reply}");
        assert_eq!(reply["code"], "VALIDATION_ERROR");
    }
    // A message keeps its new lines and tabs.
    let mut ws = pair.ann.connect(&pair.room, "").await;
    ws.say("two\nlines\tand a tab", "c1").await;
    assert_eq!(ws.next_of("chat_message").await["content"], "two\nlines\tand a tab");
}

/// A thousand odd methods and paths leave `/metrics` the size it was.
#[tokio::test]
async fn odd_methods_and_paths_create_no_metric_series() {
    let server = TestServer::start().await;
    let client = server.client();
    // The series that requests label (method, route), without their values:
    // counts may grow, the series may not. (Background tasks add series of
    // their own, unrelated to requests, as the server runs.)
    let series = || async {
        let text = client.get("/metrics").await.body.as_str().unwrap().to_owned();
        let labelled: std::collections::BTreeSet<String> = text
            .lines()
            .filter(|line| line.contains("method=") || line.contains("route="))
            // This very request's own series are told apart by its route.
            .filter(|line| !line.contains("route=\"/metrics\""))
            .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
            .collect();
        labelled
    };
    // One of each kind first, so that the `other` and `unmatched` series exist.
    let odd =
        |n: usize| Method::from_bytes(format!("X{n}{}", "Y".repeat(n % 50)).as_bytes()).unwrap();
    client.send(odd(0), "/nowhere/0", None).await;
    client.get("/nowhere/0").await;
    series().await;
    let before = series().await;
    for n in 1..=1000 {
        let reply =
            client.send(odd(n), &format!("/nowhere/{n}/{}", "z".repeat(n % 97)), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        client.get(&format!("/api/v1/{n}")).await;
    }
    let after = series().await;
    assert!(
        after.iter().any(|s| s.contains("method=\"other\"")),
        "odd methods are counted as other"
    );
    assert!(
        after.iter().any(|s| s.contains("route=\"unmatched\"")),
        "unknown paths count as unmatched"
    );
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(new.is_empty(), "requests added series: {new:?}");
}

/// A connection that sends nothing, or one byte, is closed ten seconds after
/// accept, and so is one that keeps a request head coming a byte at a time.
#[tokio::test]
async fn a_silent_or_trickling_connection_is_closed_after_ten_seconds() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let closes = |prefix: &'static [u8], trickle: bool| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(prefix).await.unwrap();
        let opened = tokio::time::Instant::now();
        let mut buffer = [0u8; 256];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await;
            match read {
                Ok(Ok(0) | Err(_)) => return opened.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) if trickle => {
                    // A byte a second: hyper's own head timer would restart.
                    let _ = stream.write_all(b"X").await;
                }
                Err(_) => {}
            }
            assert!(opened.elapsed() < Duration::from_secs(30), "never closed");
        }
    };
    let (silent, one_byte, trickling) = tokio::join!(
        closes(b"", false),
        closes(b"G", false),
        closes(b"GET / HTTP/1.1\r\nX-Slow: ", true),
    );
    for (what, after) in [("silent", silent), ("one byte", one_byte), ("trickling", trickling)] {
        assert!(after >= Duration::from_secs(9), "{what}: closed after {after:?}");
    }
    // Served connections are not cut: a page after the deadline's time still loads.
    let client = server.client();
    assert_eq!(client.get("/health").await.status, StatusCode::OK);
}

/// Opens an upload of `declared` bytes and sends `sent` of them; returns the
/// connection (the upload in progress) once its transaction is open.
async fn start_upload(
    server: &TestServer,
    client: &Client,
    room: &str,
    declared: usize,
    sent: usize,
    open_before: usize,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/chatrooms/{room}/attachments?filename=slow.bin HTTP/1.1\r\nHost: x\r\n\
         Cookie: session_id={}\r\nContent-Length: {declared}\r\n\r\n",
        client.cookie.as_deref().unwrap()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![1u8; sent]).await.unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle in transaction'";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while count(server, waiting).await <= open_before as i64 {
        assert!(tokio::time::Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream
}

/// The status line of the answer on `stream`.
async fn answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut buffer = vec![0u8; 512];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buffer[..read]).lines().next().unwrap_or_default().to_owned()
}

/// One user has at most two uploads in progress; a third is 429, while
/// another user still uploads.
#[tokio::test]
async fn a_user_has_at_most_two_uploads_in_progress() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let mut first = start_upload(&server, &pair.ann, &pair.room, 10, 1, 0).await;
    let mut second = start_upload(&server, &pair.ann, &pair.room, 10, 1, 1).await;
    let (status, refused) = upload(&pair.ann, &pair.room, "filename=third.txt", b"hi").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED")),
        "{refused}"
    );
    let (status, _) = upload(&pair.bob, &pair.room, "filename=bob.txt", b"hi").await;
    assert_eq!(status, StatusCode::CREATED, "another user is not held up");
    first.write_all(&[1u8; 9]).await.unwrap();
    assert!(answer(&mut first).await.starts_with("HTTP/1.1 201"));
    let (status, _) = upload(&pair.ann, &pair.room, "filename=third.txt", b"hi").await;
    assert_eq!(status, StatusCode::CREATED, "a finished upload frees its place");
    second.write_all(&[1u8; 9]).await.unwrap();
    assert!(answer(&mut second).await.starts_with("HTTP/1.1 201"));
}

/// An upload that trickles in, a byte now and then (never idle long
/// enough for the idle timeout), is cut at `UPLOAD_TIMEOUT` with 408 and
/// leaves nothing stored.
#[tokio::test]
async fn an_upload_slower_than_upload_timeout_is_refused_with_nothing_stored() {
    let server = TestServer::start_with_env(&[("UPLOAD_TIMEOUT", "2s")]).await;
    let pair = server.two_in_a_room().await;
    let mut slow = start_upload(&server, &pair.ann, &pair.room, 1000, 1, 0).await;
    let started = tokio::time::Instant::now();
    let status = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = slow.write_all(b"x").await;
        let mut buffer = vec![0u8; 512];
        if let Ok(Ok(read)) =
            tokio::time::timeout(Duration::from_millis(10), slow.read(&mut buffer)).await
        {
            break String::from_utf8_lossy(&buffer[..read])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        assert!(started.elapsed() < PATIENCE, "the upload was never cut");
    };
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    assert_eq!(count(&server, "SELECT count(*) FROM attachments").await, 0);
    assert_eq!(count(&server, "SELECT count(*) FROM messages").await, 0);
}

/// Ranges past the end are clamped; no number overflows.
#[tokio::test]
async fn ranges_clamp_their_end_and_never_overflow() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let (status, message) = upload(&pair.ann, &pair.room, "filename=f.txt", b"hello world").await;
    assert_eq!(status, StatusCode::CREATED);
    let url = format!("{}{}", pair.ann.base, message["attachments"][0]["url"].as_str().unwrap());
    let get = |range: &'static str| {
        let (http, cookie, url) = (pair.ann.http.clone(), pair.ann.cookie.clone(), url.clone());
        async move {
            let response = http
                .get(url)
                .header("cookie", format!("session_id={}", cookie.unwrap()))
                .header("range", range)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let content_range = response
                .headers()
                .get("content-range")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, content_range, response.bytes().await.unwrap().to_vec())
        }
    };
    let cases: [(&str, StatusCode, &str, &[u8]); 5] = [
        (
            "bytes=0-18446744073709551615",
            StatusCode::PARTIAL_CONTENT,
            "bytes 0-10/11",
            b"hello world",
        ),
        (
            "bytes=1-18446744073709551615",
            StatusCode::PARTIAL_CONTENT,
            "bytes 1-10/11",
            b"ello world",
        ),
        (
            "bytes=6-999999999999999999999999999",
            StatusCode::PARTIAL_CONTENT,
            "bytes 6-10/11",
            b"world",
        ),
        ("bytes=11-", StatusCode::RANGE_NOT_SATISFIABLE, "bytes */11", b""),
        ("bytes=99999999999999999999999-", StatusCode::RANGE_NOT_SATISFIABLE, "bytes */11", b""),
    ];
    for (range, status, content_range, body) in cases {
        let (got, got_range, got_body) = get(range).await;
        assert_eq!((got, got_range.as_str()), (status, content_range), "{range}");
        if status == StatusCode::PARTIAL_CONTENT {
            assert_eq!(got_body, body, "{range}");
        }
    }
}

/// A text frame that is not UTF-8 closes the socket with 1007.
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    for path in [format!("/ws/chat/{}", pair.room), "/ws/notifications".to_owned()] {
        let mut ws = pair.ann.try_socket(&path).await.expect("handshake");
        ws.stream.flush().await.unwrap();
        // FIN + text, masked, one byte: 0xFF (a zero mask leaves it as is).
        let raw = ws.stream.get_mut();
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = raw else { panic!("plain TCP") };
        tcp.write_all(&[0x81, 0x81, 0, 0, 0, 0, 0xff]).await.unwrap();
        let (code, _) = ws.closed().await;
        assert_eq!(code, Some(CloseCode::Invalid), "{path}");
    }
}

/// Fifty distinct emoji on one message, from all its users together; a new
/// one beyond is `LIMIT_REACHED`, and one already there can still be added.
#[tokio::test]
async fn a_message_holds_at_most_fifty_distinct_emoji() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let carol = server.user("carol").await;
    carol.join(&pair.room).await;
    let mut ann = pair.ann.connect(&pair.room, "").await;
    ann.say("react to me", "m").await;
    let message_id = ann.next_of("chat_message").await["id"].as_str().unwrap().to_owned();
    let emoji: Vec<&str> =
        emojis::iter().map(emojis::Emoji::as_str).filter(|e| e.len() <= 32).take(51).collect();
    let mut bob = pair.bob.connect(&pair.room, "").await;
    let mut carol = carol.connect(&pair.room, "").await;
    let react = |emoji: &str| json!({"type": "reaction", "message_id": message_id, "emoji": emoji, "on": true});
    let mut sockets = [&mut ann, &mut bob, &mut carol];
    for (n, e) in emoji[..50].iter().enumerate() {
        let socket = &mut sockets[n / 20];
        socket.send(react(e)).await;
        // Each socket also hears the others' reactions: read up to this one.
        loop {
            let state = socket.next_of("reactions").await;
            if state["reactions"].as_array().unwrap().len() == n + 1 {
                break;
            }
        }
    }
    carol.send(react(emoji[50])).await;
    let refused = carol.next_of("error").await;
    assert_eq!(refused["code"], "LIMIT_REACHED", "{refused}");
    carol.send(react(emoji[0])).await;
    let state = carol.next_of("reactions").await;
    assert_eq!(state["reactions"][0]["count"], 2);
}

/// The notifications socket's greeting names every room, however many.
#[tokio::test]
async fn the_notifications_greeting_covers_every_room() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let rooms = 300;
    for n in 0..rooms {
        ann.create_room(&format!("room {n}")).await;
    }
    let mut ws = ann.try_socket("/ws/notifications").await.expect("handshake");
    let mut greeted = std::collections::HashSet::new();
    while greeted.len() < rooms {
        let frame = ws.next().await;
        assert_eq!(frame["type"], "unread", "{frame}");
        greeted.insert(frame["chatroom_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(greeted.len(), rooms);
}
