//! After a conversation full of canaries (text, a reply, an edit, a file's
//! name and bytes), none of them is in a dump of the database, in the
//! cluster's `chat.events` traffic, or in the server's own debug log. The
//! same search finds a plain room's control phrase in all three, so the
//! test can fail.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use reqwest::StatusCode;
use serde_json::json;
use testkit::e2e;

use super::{Member, send};
use crate::support::{ChatProcess, TestServer};

const CANARIES: [&str; 4] =
    ["canary-text-7f3a91", "canary-edit-2b64c0", "canary-name-91c2de.pdf", "canary-body-55e1f7"];
const CONTROL: &str = "control-phrase-0d4e8b";

#[tokio::test]
async fn no_canary_reaches_the_database_the_broker_or_the_logs() {
    let server = TestServer::start().await;
    let log = std::env::temp_dir().join(format!("chat-canaries-{}.log", uuid::Uuid::new_v4()));
    let process = ChatProcess::spawn_logging(&server.db, &server.vhost, &log).await;

    // Everything the instances tell each other.
    let connection = service::amqp::connect(&server.vhost.url(), "canary-tap").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let exclusive = QueueDeclareOptions { exclusive: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), exclusive, FieldTable::default()).await.unwrap();
    let bind = QueueBindOptions::default();
    channel
        .queue_bind(
            queue.name().as_str().into(),
            "chat.events".into(),
            "".into(),
            bind,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let mut deliveries = channel
        .basic_consume(queue.name().as_str().into(), "tap".into(), no_ack, FieldTable::default())
        .await
        .unwrap();

    let mut ann = Member::join(&server, "ann").await;
    let mut bob = Member::join(&server, "bob").await;
    ann.client = ann.client.at(&process.base);
    let room = ann.create_room("Canaries").await;
    assert_eq!(ann.add(&room, &bob).await.status, StatusCode::CREATED);
    assert_eq!(
        ann.share(&room, 1, &ann.key(&room, 1), &[bob.recipient()]).await.status,
        StatusCode::OK
    );
    bob.fetch_keys(&room).await;
    let mut ann_ws = ann.client.connect(&room, "").await;
    let mut bob_ws = bob.client.connect(&room, "").await;

    let first =
        send(&mut ann_ws, ann.sealed_frame(&room, 1, &json!({"content": CANARIES[0]}), "k1")).await;
    let id = first["id"].as_str().unwrap();
    let mut reply =
        bob.sealed_frame(&room, 1, &json!({"content": format!("re: {}", CANARIES[0])}), "k2");
    reply["reply_to"] = json!(id);
    send(&mut bob_ws, reply).await;
    let edit = e2e::seal_message(
        &ann.key(&room, 1),
        &room,
        1,
        &ann.id,
        Some(id),
        &json!({"content": CANARIES[1]}),
    );
    ann_ws.send(json!({"type": "edit", "message_id": id, "encrypted": edit})).await;
    while bob_ws.next().await["type"] != "message_edited" {}
    let (sealed, key, iv) = e2e::seal_file(CANARIES[3].as_bytes());
    let (status, file) =
        ann.client.upload(&room, "encrypted=true", "application/octet-stream", sealed).await;
    assert_eq!(status, StatusCode::CREATED);
    let attachment = json!({"id": file["id"], "filename": CANARIES[2], "content_type": "application/pdf",
                            "size": 19, "key": e2e::b64u(&key), "iv": e2e::b64u(&iv)});
    let mut with_file =
        ann.sealed_frame(&room, 1, &json!({"content": "", "attachments": [attachment]}), "k3");
    with_file["attachment_ids"] = json!([file["id"]]);
    assert_eq!(send(&mut ann_ws, with_file).await["type"], "chat_message");

    // The control: the same path, in a plain room.
    let plain = ann.client.create_room("Plain").await;
    bob.client.join(&plain).await;
    let mut plain_bob = bob.client.connect(&plain, "").await;
    let mut plain_ann = ann.client.connect(&plain, "").await;
    plain_ann.say(CONTROL, "p1").await;
    plain_bob.next_of("chat_message").await;

    let mut traffic = Vec::new();
    let quiet = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while let Ok(Some(Ok(delivery))) = tokio::time::timeout_at(quiet, deliveries.next()).await {
        traffic.extend_from_slice(&delivery.data);
    }
    drop(process);
    let dump = std::process::Command::new("pg_dump")
        .arg(format!("--dbname={}", server.db.url()))
        .output()
        .expect("pg_dump runs (PostgreSQL's client tools)");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let logged = std::fs::read(&log).unwrap();
    let _ = std::fs::remove_file(&log);

    for (place, bytes) in
        [("the database dump", &dump.stdout), ("chat.events", &traffic), ("the log", &logged)]
    {
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains(CONTROL), "the control phrase should be in {place}");
        for canary in CANARIES {
            assert!(!text.contains(canary), "{canary} is in {place}");
        }
    }
}
