//! A client of the encrypted rooms' scheme (`docs/encryption.md`) built on
//! RustCrypto, independent of the page's WebCrypto code: identity keys and
//! their passphrase backup, room keys wrapped in envelopes, sealed messages,
//! edits and files. Tests use it to speak to the server as a second client
//! would, and check it against the known-answer vectors in `vectors/e2e.json`.
//!
//! Every function takes and returns the wire forms (base64url without
//! padding, UUIDs as lower-case hyphenated text), so what a test sends is
//! what a browser would.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aes_kw::KekAes256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;

/// The vectors, as `scripts/e2e-vectors.py` wrote them.
pub const VECTORS: &str = include_str!("../vectors/e2e.json");

/// What went wrong opening something: the wrong key, a broken or forged
/// ciphertext, or a malformed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Base64url without padding.
pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn from_b64u(text: &str) -> Result<Vec<u8>, Refused> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| Refused("not base64url"))
}

/// `n` random bytes from the operating system.
pub fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS gives random bytes");
    bytes
}

/// A fresh room key (or file key): 32 random bytes.
pub fn room_key() -> [u8; 32] {
    random()
}

/// A user's ECDH P-256 identity key pair.
#[derive(Clone)]
pub struct Identity {
    secret: SecretKey,
}

impl Identity {
    /// A new key pair.
    pub fn generate() -> Self {
        loop {
            if let Ok(secret) = SecretKey::from_slice(&random::<32>()) {
                return Self { secret };
            }
        }
    }

    /// The key pair whose private half is `pkcs8` (DER).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, Refused> {
        let secret = SecretKey::from_pkcs8_der(pkcs8).map_err(|_| Refused("not a PKCS#8 key"))?;
        Ok(Self { secret })
    }

    /// The uncompressed public point, 65 bytes, base64url.
    pub fn public_key(&self) -> String {
        b64u(&self.secret.public_key().to_sec1_bytes())
    }

    /// The private key as PKCS#8 DER.
    pub fn pkcs8(&self) -> Vec<u8> {
        self.secret.to_pkcs8_der().expect("a P-256 key encodes").as_bytes().to_vec()
    }

    /// `PUT /api/v1/keys`'s body: the public key and the private key sealed
    /// under `passphrase` for `user_id`.
    pub fn key_body(&self, user_id: &str, passphrase: &str, iterations: u32) -> Value {
        let salt = random::<16>();
        let iv = random::<12>();
        let ciphertext = seal_backup(&self.pkcs8(), user_id, passphrase, &salt, iterations, &iv);
        json!({
            "public_key": self.public_key(),
            "backup": {
                "salt": b64u(&salt),
                "iterations": iterations,
                "iv": b64u(&iv),
                "ciphertext": b64u(&ciphertext),
            },
        })
    }

    /// Restores the key pair from `GET /api/v1/keys/me`'s `backup`.
    pub fn restore(backup: &Value, user_id: &str, passphrase: &str) -> Result<Self, Refused> {
        let field = |name: &str| backup[name].as_str().ok_or(Refused("backup field missing"));
        let salt = from_b64u(field("salt")?)?;
        let iv = from_b64u(field("iv")?)?;
        let ciphertext = from_b64u(field("ciphertext")?)?;
        let iterations = backup["iterations"].as_u64().ok_or(Refused("iterations missing"))?;
        let iterations = u32::try_from(iterations).map_err(|_| Refused("iterations too large"))?;
        let key = backup_key(passphrase, &salt, iterations);
        let aad = format!("chat-key-backup/v1|{user_id}");
        let pkcs8 = open_gcm(&key, &iv, &ciphertext, aad.as_bytes())?;
        Self::from_pkcs8(&pkcs8)
    }

    /// The room key an envelope addressed to this identity carries.
    pub fn open_envelope(
        &self,
        envelope: &Value,
        chatroom_id: &str,
        my_user_id: &str,
    ) -> Result<[u8; 32], Refused> {
        let epoch = envelope["epoch"].as_u64().ok_or(Refused("epoch missing"))?;
        let ephemeral = envelope["ephemeral_public_key"].as_str().ok_or(Refused("no key"))?;
        let wrapped = envelope["wrapped_key"].as_str().ok_or(Refused("no wrapped key"))?;
        let ephemeral = public_key(ephemeral)?;
        let kek = envelope_kek(&self.secret, &ephemeral, chatroom_id, epoch, my_user_id);
        let mut key = [0u8; 32];
        KekAes256::from(kek)
            .unwrap(&from_b64u(wrapped)?, &mut key)
            .map_err(|_| Refused("the envelope does not open with this key"))?;
        Ok(key)
    }
}

/// The key PBKDF2-SHA256 derives from a passphrase.
pub fn backup_key(passphrase: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), salt, iterations, &mut key);
    key
}

/// The backup's ciphertext: `pkcs8` under the passphrase's key.
pub fn seal_backup(
    pkcs8: &[u8],
    user_id: &str,
    passphrase: &str,
    salt: &[u8],
    iterations: u32,
    iv: &[u8; 12],
) -> Vec<u8> {
    let key = backup_key(passphrase, salt, iterations);
    seal_gcm(&key, iv, pkcs8, format!("chat-key-backup/v1|{user_id}").as_bytes())
}

/// A P-256 point from its base64url uncompressed form.
pub fn public_key(text: &str) -> Result<PublicKey, Refused> {
    PublicKey::from_sec1_bytes(&from_b64u(text)?).map_err(|_| Refused("not a P-256 point"))
}

/// The key-encryption key of an envelope: HKDF-SHA256 over the ECDH
/// shared x coordinate, empty salt, the scheme's info.
pub fn envelope_kek(
    secret: &SecretKey,
    other: &PublicKey,
    chatroom_id: &str,
    epoch: u64,
    recipient_user_id: &str,
) -> [u8; 32] {
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), other.as_affine());
    let info = format!("chat-room-key/v1|{chatroom_id}|{epoch}|{recipient_user_id}");
    let mut kek = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&[]), shared.raw_secret_bytes())
        .expand(info.as_bytes(), &mut kek)
        .expect("32 bytes is a valid HKDF length");
    kek
}

/// An envelope for `recipient` (`username`, public key, user id): `room_key`
/// wrapped with a fresh ephemeral key pair, as `POST …/keys` takes it.
pub fn envelope(
    room_key: &[u8; 32],
    chatroom_id: &str,
    epoch: u64,
    recipient: (&str, &str, &str),
) -> Result<Value, Refused> {
    let (username, recipient_public, recipient_id) = recipient;
    let ephemeral = Identity::generate();
    let wrapped =
        wrap_for(&ephemeral.secret, room_key, chatroom_id, epoch, recipient_public, recipient_id)?;
    Ok(json!({
        "recipient": username,
        "ephemeral_public_key": ephemeral.public_key(),
        "wrapped_key": b64u(&wrapped),
    }))
}

/// `room_key` under AES-KW with the key-encryption key of `ephemeral` and
/// the recipient.
pub fn wrap_for(
    ephemeral: &SecretKey,
    room_key: &[u8; 32],
    chatroom_id: &str,
    epoch: u64,
    recipient_public: &str,
    recipient_id: &str,
) -> Result<Vec<u8>, Refused> {
    let recipient = public_key(recipient_public)?;
    let kek = envelope_kek(ephemeral, &recipient, chatroom_id, epoch, recipient_id);
    let mut wrapped = [0u8; 40];
    KekAes256::from(kek).wrap(room_key, &mut wrapped).map_err(|_| Refused("wrap failed"))?;
    Ok(wrapped.to_vec())
}

/// A message's (or, with `edit_of`, an edit's) additional data.
pub fn message_aad(
    chatroom_id: &str,
    epoch: u64,
    sender_id: &str,
    edit_of: Option<&str>,
) -> String {
    let mut aad = format!("chat-msg/v1|{chatroom_id}|{epoch}|{sender_id}");
    if let Some(message_id) = edit_of {
        aad.push('|');
        aad.push_str(message_id);
    }
    aad
}

/// The `encrypted` object of a message: `plaintext` (the JSON the scheme
/// names) sealed under `room_key` with a random iv.
pub fn seal_message(
    room_key: &[u8; 32],
    chatroom_id: &str,
    epoch: u64,
    sender_id: &str,
    edit_of: Option<&str>,
    plaintext: &Value,
) -> Value {
    let aad = message_aad(chatroom_id, epoch, sender_id, edit_of);
    let iv = random::<12>();
    let ciphertext = seal_gcm(room_key, &iv, plaintext.to_string().as_bytes(), aad.as_bytes());
    json!({ "epoch": epoch, "iv": b64u(&iv), "ciphertext": b64u(&ciphertext) })
}

/// The plaintext JSON of a message's (or edit's) `encrypted` object.
pub fn open_message(
    room_key: &[u8; 32],
    chatroom_id: &str,
    sender_id: &str,
    edit_of: Option<&str>,
    sealed: &Value,
) -> Result<Value, Refused> {
    let epoch = sealed["epoch"].as_u64().ok_or(Refused("epoch missing"))?;
    let iv = from_b64u(sealed["iv"].as_str().ok_or(Refused("iv missing"))?)?;
    let ciphertext = from_b64u(sealed["ciphertext"].as_str().ok_or(Refused("no ciphertext"))?)?;
    let aad = message_aad(chatroom_id, epoch, sender_id, edit_of);
    let plaintext = open_gcm(room_key, &iv, &ciphertext, aad.as_bytes())?;
    serde_json::from_slice(&plaintext).map_err(|_| Refused("the plaintext is not JSON"))
}

/// A file sealed with a fresh key and iv (no additional data): the bytes
/// to upload, and the key and iv for the message's plaintext.
pub fn seal_file(bytes: &[u8]) -> (Vec<u8>, [u8; 32], [u8; 12]) {
    let key = room_key();
    let iv = random::<12>();
    (seal_gcm(&key, &iv, bytes, &[]), key, iv)
}

/// AES-256-GCM.
pub fn seal_gcm(key: &[u8; 32], iv: &[u8; 12], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    Aes256Gcm::new(key.into())
        .encrypt(Nonce::from_slice(iv), Payload { msg: plaintext, aad })
        .expect("AES-GCM seals any plaintext of sane size")
}

/// AES-256-GCM, refusing a wrong key or a changed ciphertext.
pub fn open_gcm(key: &[u8], iv: &[u8], ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Refused> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Refused("keys are 32 bytes"))?;
    if iv.len() != 12 {
        return Err(Refused("ivs are 12 bytes"));
    }
    cipher
        .decrypt(Nonce::from_slice(iv), Payload { msg: ciphertext, aad })
        .map_err(|_| Refused("does not open: wrong key, or changed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    fn bytes(v: &Value) -> Vec<u8> {
        from_b64u(v.as_str().unwrap()).unwrap()
    }

    fn key32(v: &Value) -> [u8; 32] {
        bytes(v).try_into().unwrap()
    }

    fn secret_of(jwk: &Value) -> SecretKey {
        SecretKey::from_slice(&bytes(&jwk["d"])).unwrap()
    }

    #[test]
    fn envelope_matches_the_vector() {
        let v = vectors()["envelope"].clone();
        let (room, user) =
            (v["chatroom_id"].as_str().unwrap(), v["recipient_user_id"].as_str().unwrap());
        let epoch = v["epoch"].as_u64().unwrap();
        let recipient = secret_of(&v["recipient_private_jwk"]);
        let ephemeral = secret_of(&v["ephemeral_private_jwk"]);
        assert_eq!(b64u(&recipient.public_key().to_sec1_bytes()), v["recipient_public_key"]);
        assert_eq!(b64u(&ephemeral.public_key().to_sec1_bytes()), v["ephemeral_public_key"]);
        let shared = p256::ecdh::diffie_hellman(
            ephemeral.to_nonzero_scalar(),
            recipient.public_key().as_affine(),
        );
        assert_eq!(b64u(shared.raw_secret_bytes()), v["shared"]);
        let kek = envelope_kek(&ephemeral, &recipient.public_key(), room, epoch, user);
        assert_eq!(b64u(&kek), v["kek"]);
        let room_key = key32(&v["room_key"]);
        let recipient_public = v["recipient_public_key"].as_str().unwrap();
        let wrapped = wrap_for(&ephemeral, &room_key, room, epoch, recipient_public, user).unwrap();
        assert_eq!(b64u(&wrapped), v["wrapped_key"]);
        // And the recipient's side, from its PKCS#8.
        let me = Identity::from_pkcs8(&bytes(&v["recipient_private_pkcs8"])).unwrap();
        let envelope = json!({
            "epoch": epoch,
            "ephemeral_public_key": v["ephemeral_public_key"],
            "wrapped_key": v["wrapped_key"],
        });
        assert_eq!(me.open_envelope(&envelope, room, user).unwrap(), room_key);
    }

    #[test]
    fn an_envelope_opens_only_for_its_room_epoch_and_recipient() {
        let v = vectors()["envelope"].clone();
        let (room, user) =
            (v["chatroom_id"].as_str().unwrap(), v["recipient_user_id"].as_str().unwrap());
        let me = Identity::from_pkcs8(&bytes(&v["recipient_private_pkcs8"])).unwrap();
        let envelope = |epoch: u64| {
            json!({
                "epoch": epoch,
                "ephemeral_public_key": v["ephemeral_public_key"],
                "wrapped_key": v["wrapped_key"],
            })
        };
        assert!(me.open_envelope(&envelope(4), room, user).is_err(), "another epoch");
        assert!(me.open_envelope(&envelope(3), user, user).is_err(), "another room");
        assert!(me.open_envelope(&envelope(3), room, room).is_err(), "another recipient");
        assert!(Identity::generate().open_envelope(&envelope(3), room, user).is_err());
    }

    #[test]
    fn messages_and_edits_match_the_vectors() {
        for (name, edit_of) in [("message", None), ("edit", Some("message_id"))] {
            let v = vectors()[name].clone();
            let room = v["chatroom_id"].as_str().unwrap();
            let sender = v["sender_user_id"].as_str().unwrap();
            let edit_of = edit_of.map(|field| v[field].as_str().unwrap());
            let epoch = v["epoch"].as_u64().unwrap();
            assert_eq!(message_aad(room, epoch, sender, edit_of), v["aad"]);
            let key = key32(&v["room_key"]);
            let iv: [u8; 12] = bytes(&v["iv"]).try_into().unwrap();
            let plaintext = v["plaintext"].as_str().unwrap();
            let sealed =
                seal_gcm(&key, &iv, plaintext.as_bytes(), v["aad"].as_str().unwrap().as_bytes());
            assert_eq!(b64u(&sealed), v["ciphertext"], "{name}");
            let object = json!({ "epoch": epoch, "iv": v["iv"], "ciphertext": v["ciphertext"] });
            let opened = open_message(&key, room, sender, edit_of, &object).unwrap();
            assert_eq!(opened, serde_json::from_str::<Value>(plaintext).unwrap());
            // Bound to its sender and, for an edit, to its message.
            assert!(open_message(&key, room, room, edit_of, &object).is_err());
            assert!(open_message(&key, room, sender, edit_of.xor(Some(room)), &object).is_err());
        }
    }

    #[test]
    fn the_backup_matches_the_vector_and_refuses_a_wrong_passphrase() {
        let v = vectors()["backup"].clone();
        let user = v["user_id"].as_str().unwrap();
        let passphrase = v["passphrase"].as_str().unwrap();
        let iterations = u32::try_from(v["iterations"].as_u64().unwrap()).unwrap();
        let salt = bytes(&v["salt"]);
        assert_eq!(b64u(&backup_key(passphrase, &salt, iterations)), v["derived_key"]);
        let iv: [u8; 12] = bytes(&v["iv"]).try_into().unwrap();
        let sealed = seal_backup(&bytes(&v["pkcs8"]), user, passphrase, &salt, iterations, &iv);
        assert_eq!(b64u(&sealed), v["ciphertext"]);
        let restored = Identity::restore(&v, user, passphrase).unwrap();
        assert_eq!(restored.public_key(), v["public_key"]);
        assert_eq!(
            Identity::restore(&v, user, "wrong passphrase").err(),
            Some(Refused("does not open: wrong key, or changed"))
        );
        assert!(Identity::restore(&v, "someone-else", passphrase).is_err(), "bound to its user");
    }

    #[test]
    fn files_match_the_vector() {
        let v = vectors()["file"].clone();
        let key = key32(&v["key"]);
        let iv: [u8; 12] = bytes(&v["iv"]).try_into().unwrap();
        assert_eq!(b64u(&seal_gcm(&key, &iv, &bytes(&v["plaintext"]), &[])), v["ciphertext"]);
        let (sealed, key, iv) = seal_file(b"hello");
        assert_eq!(open_gcm(&key, &iv, &sealed, &[]).unwrap(), b"hello");
    }

    #[test]
    fn a_fresh_identity_round_trips_through_its_backup() {
        let me = Identity::generate();
        let body = me.key_body("u1", "pass phrase", 1000);
        let restored = Identity::restore(&body["backup"], "u1", "pass phrase").unwrap();
        assert_eq!(restored.public_key(), me.public_key());
        let key = room_key();
        let sent = envelope(&key, "r1", 1, ("ann", &me.public_key(), "u1")).unwrap();
        let sent = json!({ "epoch": 1, "ephemeral_public_key": sent["ephemeral_public_key"], "wrapped_key": sent["wrapped_key"] });
        assert_eq!(restored.open_envelope(&sent, "r1", "u1").unwrap(), key);
    }
}
