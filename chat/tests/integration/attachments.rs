//! Files in rooms, against the real PostgreSQL: uploads stored with their
//! message in one transaction, downloads to members only, served safely.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Client, PATIENCE, TestServer};

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";

async fn download(client: &Client, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client
        .http
        .get(format!("{}{path}", client.base))
        .header("cookie", format!("session_id={}", client.cookie.as_deref().unwrap_or_default()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("download sent")
}

/// Rows of the attachment tables: nothing may be half-stored.
async fn stored_rows(server: &TestServer) -> (i64, i64) {
    let (client, connection) =
        tokio_postgres::connect(&server.db.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let files: i64 =
        client.query_one("SELECT count(*) FROM attachments", &[]).await.unwrap().get(0);
    let chunks: i64 =
        client.query_one("SELECT count(*) FROM attachment_chunks", &[]).await.unwrap().get(0);
    (files, chunks)
}

#[tokio::test]
async fn an_image_is_posted_live_and_served_inline_to_members() {
    let server = TestServer::start().await;
    let mut pair = server.two_in_a_room().await;
    let (status, message) = pair
        .ann
        .upload(&pair.room, "filename=dot.png&caption=look&client_id=u1", "image/png", PNG.to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["content"], "look");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["filename"], "dot.png");
    assert_eq!(attachment["content_type"], "image/png");
    assert_eq!(attachment["size"], PNG.len());
    let url = attachment["url"].as_str().unwrap().to_owned();

    // Live, on the other member's socket, with the same attachment.
    let live = pair.bob_ws.next_of("chat_message").await;
    assert_eq!(live["attachments"][0]["url"], url.as_str(), "{live}");
    // And in history.
    let history = pair.bob.history(&pair.room, "").await;
    assert_eq!(history.last().unwrap()["attachments"][0]["id"], attachment["id"]);

    let served = download(&pair.bob, &url, &[]).await;
    assert_eq!(served.status(), StatusCode::OK);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox; default-src 'none'");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

    let again = download(&pair.bob, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let part = download(&pair.bob, &url, &[("range", "bytes=1-3")]).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 1-3/{}", PNG.len()).as_str());
    assert_eq!(part.bytes().await.unwrap().as_ref(), &PNG[1..4]);
    let outside = download(&pair.bob, &url, &[("range", "bytes=5000-")]).await;
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // A resend stores nothing new and answers with the same message.
    let (status, repeat) = pair
        .ann
        .upload(&pair.room, "filename=dot.png&caption=look&client_id=u1", "image/png", PNG.to_vec())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repeat["id"], message["id"]);
    assert_eq!(stored_rows(&server).await, (1, 1));
}

#[tokio::test]
async fn html_claiming_to_be_an_image_is_only_ever_a_download() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let (status, message) =
        pair.ann.upload(&pair.room, "filename=cat.png", "image/png", html.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["attachments"][0]["content_type"], "application/octet-stream");
    let served = download(&pair.bob, message["attachments"][0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.headers()["content-type"], "application/octet-stream");
    assert!(served.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(served.bytes().await.unwrap().to_vec(), html);

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".to_vec();
    let (_, message) = pair.ann.upload(&pair.room, "filename=x.svg", "image/svg+xml", svg).await;
    let served = download(&pair.bob, message["attachments"][0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.headers()["content-type"], "application/octet-stream");
}

#[tokio::test]
async fn outsiders_and_bad_requests_are_refused_with_nothing_stored() {
    let server = TestServer::start_with_env(&[("MAX_UPLOAD_BYTES", "1000")]).await;
    let pair = server.two_in_a_room().await;
    let carol = server.user("carol").await;
    let room = pair.room.as_str();

    let (status, body) = carol.upload(room, "filename=a.txt", "text/plain", b"hi".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_A_MEMBER")));
    let (status, body) =
        pair.ann.upload(room, "filename=a.txt", "text/plain", vec![b'x'; 1001]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("PAYLOAD_TOO_LARGE"))
    );
    for name in ["..%2Fetc%2Fpasswd", "a%5Cb", "a%0Ab", "", "x%E2%80%AEgpj.exe"] {
        let (status, body) =
            pair.ann.upload(room, &format!("filename={name}"), "text/plain", b"hi".to_vec()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")),
            "{name}"
        );
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) =
        pair.ann.upload(&unknown, "filename=a", "text/plain", b"hi".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));

    // No Content-Length (chunked): 411.
    let head = format!(
        "POST /api/v1/chatrooms/{room}/attachments?filename=a.txt HTTP/1.1\r\nHost: x\r\n\
         Cookie: session_id={}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        pair.ann.cookie.as_deref().unwrap()
    );
    let answer = raw_exchange(&server, head).await;
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");

    // Unknown attachment ids, and a member of another room.
    let (_, message) = pair.ann.upload(room, "filename=a.txt", "text/plain", b"hi".to_vec()).await;
    let url = message["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(download(&carol, &url, &[]).await.status(), StatusCode::FORBIDDEN);
    let missing = format!("/api/v1/attachments/{}", uuid::Uuid::new_v4());
    assert_eq!(download(&pair.bob, &missing, &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        download(&pair.bob, "/api/v1/attachments/nope", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(stored_rows(&server).await, (1, 1), "only the one good upload is stored");
}

/// Sends `request` as it is and returns the start of the answer.
async fn raw_exchange(server: &TestServer, request: String) -> String {
    let addr = server.base().trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut socket = TcpStream::connect(addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(request.as_bytes()).unwrap();
        let mut answer = vec![0; 512];
        let read = socket.read(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[..read]).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_body_cut_short_stores_nothing() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let addr = server.base().trim_start_matches("http://").to_owned();
    let room = pair.room.clone();
    let cookie = pair.ann.cookie.clone().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /api/v1/chatrooms/{room}/attachments?filename=big.bin HTTP/1.1\r\nHost: x\r\n\
             Cookie: session_id={cookie}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: 600000\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).unwrap();
        // More than one chunk, then the connection drops.
        socket.write_all(&vec![7u8; 300_000]).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(socket);
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_rows(&server).await, (0, 0));
    assert!(pair.ann.history(&pair.room, "").await.is_empty());
}

#[tokio::test]
async fn the_storage_quota_counts_every_file_of_the_user() {
    let server = TestServer::start_with_env(&[("MAX_USER_STORAGE_BYTES", "1500")]).await;
    let pair = server.two_in_a_room().await;
    let (status, _) = pair.ann.upload(&pair.room, "filename=a", "text/plain", vec![1; 1000]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) =
        pair.ann.upload(&pair.room, "filename=b", "text/plain", vec![1; 1000]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("STORAGE_QUOTA_EXCEEDED"))
    );
    let (status, _) = pair.bob.upload(&pair.room, "filename=c", "text/plain", vec![1; 1000]).await;
    assert_eq!(status, StatusCode::CREATED, "another user's quota is their own");
    assert_eq!(stored_rows(&server).await, (2, 2));
}

#[tokio::test]
async fn a_large_file_round_trips_in_chunks_and_any_instance_serves_it() {
    let server = TestServer::start().await;
    let sibling = server.sibling().await;
    let pair = server.two_in_a_room().await;
    let file: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (status, message) = pair
        .ann
        .upload(&pair.room, "filename=data.bin", "application/octet-stream", file.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    let url = message["attachments"][0]["url"].as_str().unwrap().to_owned();
    let elsewhere = pair.bob.at(&sibling.base());
    let served = download(&elsewhere, &url, &[]).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), file);
    // A range across a chunk boundary.
    let part = download(&elsewhere, &url, &[("range", "bytes=262000-262300")]).await;
    assert_eq!(part.bytes().await.unwrap().as_ref(), &file[262_000..262_301]);
}

#[tokio::test]
async fn bytes_beyond_content_length_are_not_part_of_the_file() {
    let server = TestServer::start().await;
    let pair = server.two_in_a_room().await;
    let request = format!(
        "POST /api/v1/chatrooms/{}/attachments?filename=five.txt HTTP/1.1\r\nHost: x\r\n\
         Cookie: session_id={}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n\
         helloGARBAGE THAT IS NOT A REQUEST\r\n\r\n",
        pair.room,
        pair.ann.cookie.as_deref().unwrap()
    );
    let answer = raw_exchange(&server, request).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let history = pair.bob.history(&pair.room, "").await;
    let url = history[0]["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(history[0]["attachments"][0]["size"], 5);
    let served = download(&pair.bob, &url, &[]).await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"hello");
}

#[tokio::test]
async fn uploads_beyond_the_concurrency_cap_are_refused_while_one_is_in_progress() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with_env(&[("MAX_CONCURRENT_UPLOADS", "1")]).await;
    let pair = server.two_in_a_room().await;
    let addr = server.base().trim_start_matches("http://").to_owned();
    // One upload that has sent its head and part of its body, and waits.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/chatrooms/{}/attachments?filename=slow.bin HTTP/1.1\r\nHost: x\r\n\
         Cookie: session_id={}\r\nContent-Length: 1000\r\n\r\n",
        pair.room,
        pair.ann.cookie.as_deref().unwrap()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[1u8; 100]).await.unwrap();
    // The slow upload holds the slot once its transaction is open, waiting
    // for the rest of the body.
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle in transaction'";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while server.db.query_strings(waiting).await[0].as_deref() != Some("1") {
        assert!(tokio::time::Instant::now() < deadline, "the slow upload never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let file = b"hi".to_vec();
    let (status, refused) =
        pair.bob.upload(&pair.room, "filename=b.txt", "text/plain", file.clone()).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("UNAVAILABLE"))
    );
    // Finishing the slow one frees the slot.
    slow.write_all(&[1u8; 900]).await.unwrap();
    let mut answer = vec![0u8; 64];
    let read = tokio::time::timeout(PATIENCE, slow.read(&mut answer)).await.unwrap().unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 201"), "{}", String::from_utf8_lossy(&answer));
    let (status, _) = pair.bob.upload(&pair.room, "filename=c.txt", "text/plain", file).await;
    assert_eq!(status, StatusCode::CREATED);
}
