//! Encrypted files: nameless ciphertext, linked by the sealed message that
//! shows them.

use reqwest::StatusCode;
use serde_json::json;
use testkit::e2e;

use super::{Member, send};
use crate::support::TestServer;

#[tokio::test]
async fn encrypted_files_are_nameless_ciphertext_shown_by_one_message() {
    let server = TestServer::start().await;
    let mut ann = Member::join(&server, "ann").await;
    let mut bob = Member::join(&server, "bob").await;
    let room = ann.create_room("Files").await;
    assert_eq!(ann.add(&room, &bob).await.status, StatusCode::CREATED);
    assert_eq!(
        ann.share(&room, 1, &ann.key(&room, 1), &[bob.recipient()]).await.status,
        StatusCode::OK
    );
    bob.fetch_keys(&room).await;

    let (status, body) = ann
        .client
        .upload(&room, "filename=plan.txt", "application/octet-stream", b"plain".to_vec())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ENCRYPTION_REQUIRED"))
    );
    let (status, _) = ann
        .client
        .upload(&room, "encrypted=true&filename=plan.txt", "application/octet-stream", vec![1; 40])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a name would be in the clear");

    let (sealed, key, iv) = e2e::seal_file(b"the plan, in full");
    let (status, file) = ann
        .client
        .upload(&room, "encrypted=true", "application/octet-stream", sealed.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(file["size"].as_u64(), Some(sealed.len() as u64));
    assert_eq!(file["url"], format!("/api/v1/attachments/{id}"));
    assert!(ann.client.history(&room, "").await.is_empty(), "an upload posts nothing");

    let plaintext = json!({
        "content": "see attached",
        "attachments": [{
            "id": id, "filename": "plan.txt", "content_type": "text/plain",
            "size": 17, "key": e2e::b64u(&key), "iv": e2e::b64u(&iv),
        }],
    });
    let mut ann_ws = ann.client.connect(&room, "").await;
    let mut frame = ann.sealed_frame(&room, 1, &plaintext, "f1");
    frame["attachment_ids"] = json!([id]);
    let message = send(&mut ann_ws, frame.clone()).await;
    assert_eq!(message["type"], "chat_message", "{message}");
    assert_eq!(
        message["attachments"],
        json!([{"id": id, "filename": "", "content_type": "application/octet-stream",
                "size": sealed.len(), "url": file["url"]}])
    );
    // One message per file.
    frame["client_id"] = json!("f2");
    let again = send(&mut ann_ws, frame).await;
    assert_eq!(again["code"], "NOT_FOUND", "{again}");

    // Bob downloads the ciphertext and opens it with the key in the message.
    let opened = bob.open(&room, &message, None);
    let download = bob
        .client
        .http
        .get(format!("{}{}", bob.client.base, file["url"].as_str().unwrap()))
        .header("cookie", format!("session_id={}", bob.client.cookie.as_deref().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()["content-type"], "application/octet-stream");
    let bytes = download.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), sealed.as_slice());
    let file_key = e2e::from_b64u(opened["attachments"][0]["key"].as_str().unwrap()).unwrap();
    let file_iv = e2e::from_b64u(opened["attachments"][0]["iv"].as_str().unwrap()).unwrap();
    assert_eq!(e2e::open_gcm(&file_key, &file_iv, &bytes, &[]).unwrap(), b"the plan, in full");

    // Someone else's upload cannot be shown; a plain room takes no ciphertext.
    let (_, bobs) =
        bob.client.upload(&room, "encrypted=true", "application/octet-stream", vec![7; 32]).await;
    let mut stolen = ann.sealed_frame(&room, 1, &json!({"content": "mine"}), "f3");
    stolen["attachment_ids"] = json!([bobs["id"]]);
    assert_eq!(send(&mut ann_ws, stolen).await["code"], "NOT_FOUND");
    let open_room = ann.client.create_room("Open").await;
    let (status, _) = ann
        .client
        .upload(&open_room, "encrypted=true", "application/octet-stream", vec![1; 32])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Deleting the message deletes the file.
    let deleted = ann
        .client
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/chatrooms/{room}/messages/{}", message["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = bob.client.get(file["url"].as_str().unwrap()).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
