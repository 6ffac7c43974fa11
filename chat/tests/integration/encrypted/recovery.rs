//! A second device, a second instance and a resume: each gets messages its
//! client can open.

use reqwest::StatusCode;
use serde_json::json;
use testkit::e2e::Identity;

use super::{Member, PASSPHRASE, send};
use crate::support::TestServer;

#[tokio::test]
async fn a_second_device_restores_the_key_from_its_backup_and_reads_the_history() {
    let server = TestServer::start().await;
    let mut ann = Member::join(&server, "ann").await;
    let room = ann.create_room("Diary").await;
    let mut ws = ann.client.connect(&room, "").await;
    for (n, text) in ["first", "second"].iter().enumerate() {
        let sent =
            send(&mut ws, ann.sealed_frame(&room, 1, &json!({"content": text}), &format!("d{n}")))
                .await;
        assert_eq!(sent["type"], "chat_message", "{sent}");
    }

    // Another browser: signed in, but holding no key.
    let mut device = server.client();
    device.login("ann").await;
    let mine = device.get("/api/v1/keys/me").await;
    assert_eq!(mine.status, StatusCode::OK);
    let backup = mine.body["backup"].clone();
    assert!(Identity::restore(&backup, &ann.id, "not the passphrase").is_err());
    assert_eq!(
        device.get("/api/v1/keys/me").await.body,
        mine.body,
        "a failed attempt changes nothing"
    );
    let restored = Identity::restore(&backup, &ann.id, PASSPHRASE).unwrap();
    assert_eq!(restored.public_key(), mine.body["public_key"]);

    let keys = device.get(&format!("/api/v1/chatrooms/{room}/keys")).await.body;
    let key = restored.open_envelope(&keys["envelopes"][0], &room, &ann.id).unwrap();
    let texts: Vec<String> = device
        .history(&room, "")
        .await
        .iter()
        .map(|m| {
            let opened =
                testkit::e2e::open_message(&key, &room, &ann.id, None, &m["encrypted"]).unwrap();
            opened["content"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(texts, ["first", "second"]);
}

#[tokio::test]
async fn two_instances_and_a_resume_deliver_messages_clients_can_open() {
    let server = TestServer::start().await;
    let sibling = server.sibling().await;
    let mut ann = Member::join(&server, "ann").await;
    let mut bob = Member::join(&server, "bob").await;
    let room = ann.create_room("Across").await;
    assert_eq!(ann.add(&room, &bob).await.status, StatusCode::CREATED);
    assert_eq!(
        ann.share(&room, 1, &ann.key(&room, 1), &[bob.recipient()]).await.status,
        StatusCode::OK
    );
    bob.fetch_keys(&room).await;
    let bob_there = bob.client.at(&sibling.base());
    let mut bob_ws = bob_there.connect(&room, "").await;
    let mut ann_ws = ann.client.connect(&room, "").await;

    let first =
        send(&mut ann_ws, ann.sealed_frame(&room, 1, &json!({"content": "one"}), "a1")).await;
    let seen = bob_ws.next_of("chat_message").await;
    assert_eq!(seen["encrypted"], first["encrypted"], "carried between instances unchanged");
    assert_eq!(bob.open(&room, &seen, None)["content"], "one");

    drop(bob_ws);
    for (n, text) in ["two", "three"].iter().enumerate() {
        send(&mut ann_ws, ann.sealed_frame(&room, 1, &json!({"content": text}), &format!("b{n}")))
            .await;
    }
    let after = format!("?after={}", first["id"].as_str().unwrap());
    let mut resumed = bob_there.connect(&room, &after).await;
    for text in ["two", "three"] {
        let replayed = resumed.next_of("chat_message").await;
        assert_eq!(bob.open(&room, &replayed, None)["content"], text);
    }
}
