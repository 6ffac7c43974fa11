//! Identity keys: each user's public key, and the private key's backup,
//! which only the user's passphrase opens.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};

/// The private key sealed on the client: AES-256-GCM under
/// PBKDF2-SHA256(passphrase, salt, iterations); every field as the client
/// sent it (base64url), checked by the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyBackup {
    /// 16 bytes.
    pub(crate) salt: String,
    /// PBKDF2 iterations.
    pub(crate) iterations: u32,
    /// 12 bytes.
    pub(crate) iv: String,
    /// The sealed PKCS#8 private key.
    pub(crate) ciphertext: String,
}

/// A user's identity key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityKey {
    /// The uncompressed P-256 point (65 bytes).
    pub(crate) public_key: Vec<u8>,
    /// The private key's backup.
    pub(crate) backup: KeyBackup,
}

/// Someone's public key, as others look it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKeyOf {
    /// The user and their key.
    Found {
        /// Their id.
        user_id: Uuid,
        /// Their name as stored.
        username: String,
        /// The uncompressed P-256 point.
        public_key: Vec<u8>,
    },
    /// The user has no identity key yet.
    NoKey,
    /// No user has that name.
    NoUser,
}

impl Store {
    /// Stores `user`'s identity key. False when the user has one and
    /// `replace` is not asked for. A replaced key takes the envelopes
    /// wrapped for the old one with it: the user shows in every encrypted
    /// room's `missing` again, and members share the room key anew.
    pub(crate) async fn put_identity_key(
        &self,
        user: Uuid,
        key: &IdentityKey,
        replace: bool,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO identity_keys (user_id, public_key, backup) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE
                 SET public_key = EXCLUDED.public_key, backup = EXCLUDED.backup,
                     created_at = now()
                 WHERE $4",
            )
            .await?;
        let stored =
            tx.execute(&statement, &[&user, &key.public_key, &Json(&key.backup), &replace]).await?;
        if stored == 1 && replace {
            tx.execute("DELETE FROM room_key_envelopes WHERE recipient_id = $1", &[&user]).await?;
        }
        tx.commit().await?;
        Ok(stored == 1)
    }

    /// `user`'s identity key, when they have one.
    pub(crate) async fn identity_key(&self, user: Uuid) -> Result<Option<IdentityKey>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT public_key, backup FROM identity_keys WHERE user_id = $1")
            .await?;
        Ok(client.query_opt(&statement, &[&user]).await?.map(|row| {
            let Json(backup) = row.get::<_, Json<KeyBackup>>(1);
            IdentityKey { public_key: row.get(0), backup }
        }))
    }

    /// The public key of the user named `username` (any case).
    pub(crate) async fn public_key_of(&self, username: &str) -> Result<PublicKeyOf, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT u.id, u.username, k.public_key FROM users u
                 LEFT JOIN identity_keys k ON k.user_id = u.id
                 WHERE lower(u.username) = lower($1)",
            )
            .await?;
        Ok(match client.query_opt(&statement, &[&username]).await? {
            None => PublicKeyOf::NoUser,
            Some(row) => match row.get::<_, Option<Vec<u8>>>(2) {
                None => PublicKeyOf::NoKey,
                Some(public_key) => {
                    PublicKeyOf::Found { user_id: row.get(0), username: row.get(1), public_key }
                }
            },
        })
    }
}
