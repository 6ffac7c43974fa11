//! Encrypted rooms in the page: its WebCrypto module against the
//! known-answer vectors, the page and the RustCrypto client reading each
//! other's messages and keys, a second browser restoring the key with the
//! passphrase, and the page rotating the key when a member leaves.

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::e2e;

use super::chrome::Chromedriver;
use super::page::Page;
use crate::encrypted::{Member, send};
use crate::support::TestServer;

const PASSPHRASE: &str = "tulips in the snow";

/// The checks of `testkit/vectors/e2e.json`, run on the page's own module;
/// returns the names of those that failed.
const KNOWN_ANSWERS: &str = r#"
    const v = arguments[0];
    const done = arguments[arguments.length - 1];
    (async () => {
        const e2e = await import('/assets/crypto.js');
        const subtle = crypto.subtle;
        const ECDH = { name: 'ECDH', namedCurve: 'P-256' };
        const failed = [];
        const check = (what, got, want) => { if (got !== want) failed.push(`${what}: ${got} != ${want}`); };
        const env = v.envelope;
        const ephemeral = await subtle.importKey('jwk', env.ephemeral_private_jwk, ECDH, false, ['deriveBits']);
        const recipient = await e2e.importIdentity(e2e.fromB64u(env.recipient_private_pkcs8));
        const shared = await e2e.sharedSecret(ephemeral, await e2e.importPublicKey(env.recipient_public_key));
        check('shared', e2e.b64u(shared), env.shared);
        check('kek', e2e.b64u(await e2e.envelopeKekBytes(shared, env.chatroom_id, env.epoch, env.recipient_user_id)), env.kek);
        const roomKey = await e2e.importRoomKey(e2e.fromB64u(env.room_key));
        const to = { username: 'r', userId: env.recipient_user_id, publicKey: env.recipient_public_key };
        const envelope = await e2e.wrapRoomKey(roomKey, env.chatroom_id, env.epoch, to,
            { privateKey: ephemeral, publicKey: env.ephemeral_public_key });
        check('wrapped_key', envelope.wrapped_key, env.wrapped_key);
        const opened = await e2e.unwrapRoomKey(recipient, { ...envelope, epoch: env.epoch }, env.chatroom_id, env.recipient_user_id);
        check('unwrapped', e2e.b64u(await subtle.exportKey('raw', opened)), env.room_key);
        for (const name of ['message', 'edit']) {
            const m = v[name];
            const key = await e2e.importRoomKey(e2e.fromB64u(m.room_key));
            const sealed = await e2e.sealMessage(key, m.chatroom_id, m.epoch, m.sender_user_id, m.plaintext,
                { editOf: m.message_id || null, iv: e2e.fromB64u(m.iv) });
            check(name, sealed.ciphertext, m.ciphertext);
            const plain = await e2e.openMessage(key, m.chatroom_id, m.sender_user_id, sealed, m.message_id || null);
            check(`${name} opened`, JSON.stringify(plain), JSON.stringify(JSON.parse(m.plaintext)));
        }
        const b = v.backup;
        check('pbkdf2', e2e.b64u(await e2e.backupKeyBytes(b.passphrase, e2e.fromB64u(b.salt), b.iterations)), b.derived_key);
        const backup = await e2e.sealBackup(e2e.fromB64u(b.pkcs8), b.user_id, b.passphrase,
            { iterations: b.iterations, salt: e2e.fromB64u(b.salt), iv: e2e.fromB64u(b.iv) });
        check('backup', backup.ciphertext, b.ciphertext);
        check('backup opened', e2e.b64u(await e2e.openBackup(b, b.user_id, b.passphrase)), b.pkcs8);
        const wrong = await e2e.openBackup(b, b.user_id, 'not it').then(() => 'opened', () => 'refused');
        check('wrong passphrase', wrong, 'refused');
        const f = v.file;
        const fileKey = await e2e.importRoomKey(e2e.fromB64u(f.key));
        const file = await e2e.sealFile(e2e.fromB64u(f.plaintext), { key: fileKey, iv: e2e.fromB64u(f.iv) });
        check('file', e2e.b64u(file.ciphertext), f.ciphertext);
        return failed;
    })().then(done, (error) => done([`threw: ${error}`]));
"#;

#[tokio::test]
async fn the_page_module_matches_the_known_answer_vectors() {
    let driver = chromedriver_or_skip!("the_page_module_matches_the_known_answer_vectors");
    let server = TestServer::start().await;
    let page = Page::open(&driver, "alice", &server.url("/")).await;
    let vectors: Value = serde_json::from_str(e2e::VECTORS).unwrap();
    let failed = page.js_async(KNOWN_ANSWERS, vec![vectors]).await;
    assert_eq!(failed, json!([]), "the page's WebCrypto module disagrees with the vectors");
    page.close().await;
}

/// What this browser's IndexedDB holds for the signed-in user.
const STORED_KEY: &str = r#"
    const done = arguments[arguments.length - 1];
    fetch('/api/v1/auth/me').then((r) => r.json()).then((me) => {
        const open = indexedDB.open('chat-keys');
        open.onsuccess = () => {
            const get = open.result.transaction('identities').objectStore('identities').get(me.id);
            get.onsuccess = () => {
                const key = get.result && get.result.privateKey;
                done(key ? { kind: key.type, extractable: key.extractable, algorithm: key.algorithm.name } : null);
            };
        };
    });
"#;

/// Types the passphrase into the dialog the page opens, and unlocks.
async fn unlock(page: &Page, passphrase: &str) {
    page.type_into("encryption-passphrase", passphrase).await;
    page.click("encryption-unlock").await;
}

/// Creates an encrypted room through the page, choosing the passphrase.
async fn create_encrypted(page: &Page, name: &str) {
    page.type_into("new-room-name", name).await;
    page.click("new-room-encrypted").await;
    page.click("create-room").await;
    unlock(page, PASSPHRASE).await;
    page.wait_in_room(name).await;
}

/// The room id the page has open.
async fn open_room_id(page: &Page) -> String {
    let id = page.js("return (location.hash.match(/room=(.*)$/) || [])[1] || null;", vec![]).await;
    id.as_str().unwrap().to_owned()
}

/// Waits until a message shows `text`, decrypted; returns its attributes.
async fn wait_decrypted(page: &Page, text: &str) {
    let script = "return Array.from(document.querySelectorAll('[data-testid=\"message\"][data-encrypted=\"true\"]'))
                      .some((li) => li.querySelector('[data-testid=\"message-content\"]').textContent === arguments[0]);";
    page.wait_for(&format!("{text:?} decrypted"), script, vec![json!(text)]).await;
}

#[tokio::test]
async fn the_page_and_the_rust_client_read_each_other() {
    let driver = chromedriver_or_skip!("the_page_and_the_rust_client_read_each_other");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    alice.register().await;
    create_encrypted(&alice, "Vault").await;
    let room = open_room_id(&alice).await;
    let lock = "return !document.querySelector('[data-testid=\"chat-encrypted\"]').hidden
                    && !!document.querySelector('[data-testid=\"encrypted-mark\"]');";
    alice.wait_for("the lock on the room", lock, vec![]).await;
    // The private key is in IndexedDB, and the page itself cannot read it out.
    let stored = alice.js_async(STORED_KEY, vec![]).await;
    assert_eq!(stored, json!({"kind": "private", "extractable": false, "algorithm": "ECDH"}));
    let alice_id = alice
        .js_async(
            "const done = arguments[arguments.length - 1];
         fetch('/api/v1/auth/me').then((r) => r.json()).then((me) => done(me.id));",
            vec![],
        )
        .await;

    // Bob is the Rust client; the page adds him and sends him the key by itself.
    let mut bob = Member::join(&server, "bob").await;
    alice.click("members-button").await;
    alice.type_into("member-add-input", "bob").await;
    alice.click("member-add").await;
    let mut epoch = 0;
    for _ in 0..300 {
        let keys = bob.room_keys(&room).await.body;
        if keys["envelopes"].as_array().is_some_and(|e| !e.is_empty()) {
            epoch = bob.fetch_keys(&room).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(epoch >= 1, "the page shared the room key with bob");
    let mut bob_ws = bob.client.connect(&room, "").await;

    // The page seals, Rust opens.
    alice.say("hello from the page, @bob").await;
    let received = bob_ws.next_of("chat_message").await;
    assert_eq!(received["content"], "", "the server sees no text");
    let epoch = received["encrypted"]["epoch"].as_u64().unwrap();
    bob.fetch_keys(&room).await;
    let opened = bob.open(&room, &received, None);
    assert_eq!(opened["content"], "hello from the page, @bob");
    assert_eq!(opened["mentions"], json!(["bob"]));

    // Rust seals, the page opens; a message under a key the page lacks says so.
    let sent = send(
        &mut bob_ws,
        bob.sealed_frame(&room, epoch, &json!({"content": "hello from Rust, @alice"}), "r1"),
    )
    .await;
    assert_eq!(sent["type"], "chat_message", "{sent}");
    wait_decrypted(&alice, "hello from Rust, @alice").await;
    let mention = "return Array.from(document.querySelectorAll('[data-testid=\"message\"][data-mentions-me=\"true\"]')).length;";
    assert_eq!(alice.js(mention, vec![]).await, json!(1));
    let real_key = bob.key(&room, epoch);
    bob.remember(&room, epoch, e2e::room_key());
    let forged = send(
        &mut bob_ws,
        bob.sealed_frame(&room, epoch, &json!({"content": "canary-unreadable"}), "r2"),
    )
    .await;
    let ciphertext = forged["encrypted"]["ciphertext"].as_str().unwrap().to_owned();
    let undecryptable = "return document.querySelectorAll('[data-testid=\"message\"][data-undecryptable=\"true\"]').length === 1;";
    alice.wait_for("the unreadable message marked", undecryptable, vec![]).await;
    let text = alice
        .js("return document.querySelector('[data-testid=\"messages\"]').textContent;", vec![])
        .await;
    let text = text.as_str().unwrap();
    assert!(!text.contains(&ciphertext[..20]) && !text.contains("canary-unreadable"), "{text}");

    // Files both ways: an image sealed by Rust shows decrypted from a blob:
    // URL; a file the page seals opens in Rust, under its name.
    bob.remember(&room, epoch, real_key);
    let (sealed, key, iv) = e2e::seal_file(super::PNG);
    let (status, file) =
        bob.client.upload(&room, "encrypted=true", "application/octet-stream", sealed).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let attachment = json!({"id": file["id"], "filename": "dot.png", "content_type": "image/png",
                            "size": super::PNG.len(), "key": e2e::b64u(&key), "iv": e2e::b64u(&iv)});
    let mut frame = bob.sealed_frame(
        &room,
        epoch,
        &json!({"content": "a dot", "attachments": [attachment]}),
        "r3",
    );
    frame["attachment_ids"] = json!([file["id"]]);
    assert_eq!(send(&mut bob_ws, frame).await["type"], "chat_message");
    let image = "const img = document.querySelector('[data-encrypted=\"true\"] img[data-testid=\"attachment-image\"]');
                 return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 2;";
    alice.wait_for("the decrypted image shown", image, vec![]).await;
    let path = std::env::temp_dir().join(format!("notes-{}.txt", uuid::Uuid::new_v4()));
    std::fs::write(&path, "canary file from the page").unwrap();
    alice.testid("file-input").await.send_keys(path.to_str().unwrap()).await.unwrap();
    let received = loop {
        let frame = bob_ws.next_of("chat_message").await;
        if frame["user_id"] != json!(bob.id) {
            break frame;
        }
    };
    let _ = std::fs::remove_file(&path);
    let plain = bob.open(&room, &received, None);
    let shown = &plain["attachments"][0];
    assert_eq!(shown["filename"].as_str(), path.file_name().and_then(|n| n.to_str()));
    assert_eq!(received["attachments"][0]["filename"], "", "no name in the clear");
    let url = received["attachments"][0]["url"].as_str().unwrap();
    let bytes = bob
        .client
        .http
        .get(format!("{}{url}", bob.client.base))
        .header("cookie", format!("session_id={}", bob.client.cookie.as_deref().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let key = e2e::from_b64u(shown["key"].as_str().unwrap()).unwrap();
    let iv = e2e::from_b64u(shown["iv"].as_str().unwrap()).unwrap();
    assert_eq!(e2e::open_gcm(&key, &iv, &bytes, &[]).unwrap(), b"canary file from the page");

    // An edit made in the page (the up arrow) is sealed with the message's id.
    let input = alice.testid("message-input").await;
    input.click().await.unwrap();
    alice.press(fantoccini::key::Key::Up).await;
    let field = alice.testid("edit-input").await;
    field.clear().await.unwrap();
    field.send_keys("hello again, edited").await.unwrap();
    alice.click("save-edit").await;
    let edited = bob_ws.next_of("message_edited").await;
    let mut as_message = edited.clone();
    as_message["user_id"] = json!(alice_id);
    let message_id = edited["message_id"].as_str().unwrap().to_owned();
    let opened = bob.open(&room, &as_message, Some(&message_id));
    assert_eq!(opened["content"], "hello again, edited");
    assert_eq!(
        opened["attachments"][0]["filename"].as_str(),
        path.file_name().and_then(|n| n.to_str()),
        "an edit of a file's message keeps the file"
    );
    wait_decrypted(&alice, "hello again, edited").await;

    // A stock command is announced as in the clear before it is sent.
    let input = alice.testid("message-input").await;
    input.send_keys("/stock=AAPL.US").await.unwrap();
    let notice = "return !document.querySelector('[data-testid=\"stock-notice\"]').hidden;";
    alice.wait_for("the notice that a stock command is not encrypted", notice, vec![]).await;
    input.clear().await.unwrap();

    // Bob leaves: the page's next message rotates the key without him.
    let left = bob
        .client
        .send(reqwest::Method::DELETE, &format!("/api/v1/chatrooms/{room}/members/bob"), None)
        .await;
    assert_eq!(left.status, StatusCode::OK);
    alice.say("after bob left").await;
    wait_decrypted(&alice, "after bob left").await;
    let epochs: Vec<Option<String>> = server
        .db
        .query_strings(&format!(
            "SELECT epoch::text || ':' || rotation_needed::text FROM chatrooms WHERE id = '{room}'"
        ))
        .await;
    assert_eq!(epochs, vec![Some(format!("{}:false", epoch + 1))]);
    bob.room_keys(&room).await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    alice.close().await;
}

#[tokio::test]
async fn a_second_browser_restores_the_key_with_the_passphrase() {
    let driver = chromedriver_or_skip!("a_second_browser_restores_the_key_with_the_passphrase");
    let server = TestServer::start().await;
    let first = Page::open(&driver, "alice", &server.url("/")).await;
    first.register().await;
    create_encrypted(&first, "Diary").await;
    first.say("written in the first browser").await;
    wait_decrypted(&first, "written in the first browser").await;

    let second = Page::open(&driver, "alice", &server.url("/")).await;
    second.login().await;
    second.join_room("Diary").await;
    unlock(&second, "not the passphrase").await;
    let refused = "const e = document.querySelector('[data-testid=\"encryption-error\"]');
                   return !e.hidden && e.textContent.includes('does not open');";
    second.wait_for("the wrong passphrase refused", refused, vec![]).await;
    unlock(&second, PASSPHRASE).await;
    wait_decrypted(&second, "written in the first browser").await;
    // The first browser is unharmed, and the two talk.
    // The dialog gave focus back; a person clicks the message box to type.
    second.click("message-input").await;
    second.say("and read in the second").await;
    wait_decrypted(&second, "and read in the second").await;
    wait_decrypted(&first, "and read in the second").await;
    first.close().await;
    second.close().await;
}
