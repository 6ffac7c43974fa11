//! Encrypted rooms, spoken to by the RustCrypto client of `testkit::e2e`:
//! the server keeps envelopes and ciphertext and decides who may hold which
//! key, and never sees a key or a plaintext.
//!
//! - `rooms`: sharing keys, sealed messages and edits, rotations.
//! - `files`: encrypted uploads.
//! - `canaries`: nothing a conversation says reaches the database, the
//!   broker or the logs.
//! - `recovery`: a second device, two instances, a resume.

mod canaries;
mod files;
mod recovery;
mod rooms;

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::e2e::{self, Identity};

use crate::support::{Client, Reply, TestServer, Ws};

/// The passphrase each test user seals their key with.
pub(crate) const PASSPHRASE: &str = "a long passphrase nobody guesses";
/// The fewest iterations the server takes.
pub(crate) const ITERATIONS: u32 = 310_000;

/// A user with an identity key, as a client that remembers its room keys.
pub(crate) struct Member {
    pub(crate) client: Client,
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) identity: Identity,
    /// Room → epoch → key.
    keys: HashMap<(String, u64), [u8; 32]>,
}

impl Member {
    /// Registers `name`, signs in and stores a fresh identity key.
    pub(crate) async fn join(server: &TestServer, name: &str) -> Self {
        let client = server.user(name).await;
        let id = client.get("/api/v1/auth/me").await.body["id"].as_str().unwrap().to_owned();
        let identity = Identity::generate();
        let stored = client
            .send(
                reqwest::Method::PUT,
                "/api/v1/keys",
                Some(identity.key_body(&id, PASSPHRASE, ITERATIONS)),
            )
            .await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
        Self { client, name: name.to_owned(), id, identity, keys: HashMap::new() }
    }

    /// Creates an encrypted room and shares its first key with itself.
    pub(crate) async fn create_room(&mut self, name: &str) -> String {
        let made =
            self.client.post("/api/v1/chatrooms", json!({"name": name, "encrypted": true})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        assert_eq!(
            (made.body["private"].as_bool(), made.body["epoch"].as_u64()),
            (Some(true), Some(1))
        );
        let room = made.body["id"].as_str().unwrap().to_owned();
        let key = e2e::room_key();
        let shared = self.share(&room, 1, &key, &[self.recipient()]).await;
        assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
        self.keys.insert((room.clone(), 1), key);
        room
    }

    /// Adds `other` to `room`.
    pub(crate) async fn add(&self, room: &str, other: &Member) -> Reply {
        self.client
            .post(&format!("/api/v1/chatrooms/{room}/members"), json!({"username": other.name}))
            .await
    }

    /// Who this member is, as an envelope names its recipient.
    pub(crate) fn recipient(&self) -> (String, String, String) {
        (self.name.clone(), self.identity.public_key(), self.id.clone())
    }

    /// `POST …/keys` with `key` wrapped for each of `to` at `epoch`.
    pub(crate) async fn share(
        &self,
        room: &str,
        epoch: u64,
        key: &[u8; 32],
        to: &[(String, String, String)],
    ) -> Reply {
        let envelopes: Vec<Value> = to
            .iter()
            .map(|(name, public, id)| e2e::envelope(key, room, epoch, (name, public, id)).unwrap())
            .collect();
        self.client
            .post(
                &format!("/api/v1/chatrooms/{room}/keys"),
                json!({"epoch": epoch, "envelopes": envelopes}),
            )
            .await
    }

    /// `GET …/keys`.
    pub(crate) async fn room_keys(&self, room: &str) -> Reply {
        self.client.get(&format!("/api/v1/chatrooms/{room}/keys")).await
    }

    /// Reads the room's keys and opens every envelope addressed to it.
    pub(crate) async fn fetch_keys(&mut self, room: &str) -> u64 {
        let keys = self.room_keys(room).await;
        assert_eq!(keys.status, StatusCode::OK, "{}", keys.body);
        for envelope in keys.body["envelopes"].as_array().unwrap() {
            assert_eq!(envelope["recipient"], self.name.as_str());
            let key = self.identity.open_envelope(envelope, room, &self.id).unwrap();
            self.keys.insert((room.to_owned(), envelope["epoch"].as_u64().unwrap()), key);
        }
        keys.body["epoch"].as_u64().unwrap()
    }

    /// This member's key of `room` at `epoch`.
    pub(crate) fn key(&self, room: &str, epoch: u64) -> [u8; 32] {
        *self
            .keys
            .get(&(room.to_owned(), epoch))
            .unwrap_or_else(|| panic!("no key for epoch {epoch}"))
    }

    /// Remembers a key this member made.
    pub(crate) fn remember(&mut self, room: &str, epoch: u64, key: [u8; 32]) {
        self.keys.insert((room.to_owned(), epoch), key);
    }

    /// A `chat_message` frame sealing `plaintext` at `epoch`.
    pub(crate) fn sealed_frame(
        &self,
        room: &str,
        epoch: u64,
        plaintext: &Value,
        client_id: &str,
    ) -> Value {
        let sealed =
            e2e::seal_message(&self.key(room, epoch), room, epoch, &self.id, None, plaintext);
        json!({"type": "chat_message", "encrypted": sealed, "client_id": client_id})
    }

    /// The plaintext of a stored message (or, with `edit_of`, of an edit).
    pub(crate) fn open(&self, room: &str, message: &Value, edit_of: Option<&str>) -> Value {
        let sealed = &message["encrypted"];
        let epoch = sealed["epoch"].as_u64().unwrap();
        let sender = message["user_id"].as_str().unwrap();
        e2e::open_message(&self.key(room, epoch), room, sender, edit_of, sealed).unwrap()
    }
}

/// Sends `frame` and waits for its acknowledgement (or an error frame).
pub(crate) async fn send(ws: &mut Ws, frame: Value) -> Value {
    ws.send(frame).await;
    loop {
        let reply = ws.next().await;
        if reply["type"] == "chat_message" || reply["type"] == "error" {
            return reply;
        }
    }
}
