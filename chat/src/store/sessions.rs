//! The `sessions` table: only a hash of each token is stored.

use time::OffsetDateTime;

use super::{Store, StoreError, User};

impl Store {
    /// Records a session for `user_id` until `expires_at`.
    pub(crate) async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: uuid::Uuid,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            )
            .await?;
        client.execute(&statement, &[&token_hash, &user_id, &expires_at]).await?;
        Ok(())
    }

    /// The user of an unexpired session, and when it expires.
    pub(crate) async fn session_user(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(User, OffsetDateTime)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT u.id, u.username, u.email, u.created_at, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > now()",
            )
            .await?;
        let row = client.query_opt(&statement, &[&token_hash]).await?;
        Ok(row.map(|row| (User::from_row(&row), row.get("expires_at"))))
    }

    /// Ends a session; true when it existed.
    pub(crate) async fn delete_session(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("DELETE FROM sessions WHERE token_hash = $1").await?;
        Ok(client.execute(&statement, &[&token_hash]).await? > 0)
    }

    /// Removes expired sessions; returns how many.
    pub(crate) async fn delete_expired_sessions(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let statement =
            client.prepare_cached("DELETE FROM sessions WHERE expires_at <= now()").await?;
        Ok(client.execute(&statement, &[]).await?)
    }
}
