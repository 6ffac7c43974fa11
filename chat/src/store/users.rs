//! The `users` table.

use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Store, StoreError};

/// A registered account, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct User {
    /// Its id.
    pub(crate) id: Uuid,
    /// Unique regardless of case.
    pub(crate) username: String,
    /// Optional contact address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    /// When it registered.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
}

impl User {
    pub(super) fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            username: row.get("username"),
            email: row.get("email"),
            created_at: row.get("created_at"),
        }
    }
}

impl Store {
    /// Inserts a new account; a taken username (any case) is a unique violation.
    pub(crate) async fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: &str,
    ) -> Result<User, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO users (id, username, email, password_hash) VALUES ($1, $2, $3, $4)
                 RETURNING id, username, email, created_at",
            )
            .await?;
        let row = client
            .query_one(&statement, &[&Uuid::now_v7(), &username, &email, &password_hash])
            .await?;
        Ok(User::from_row(&row))
    }

    /// The account and its password hash, by username in any case.
    pub(crate) async fn find_credentials(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, username, email, created_at, password_hash FROM users
                 WHERE lower(username) = lower($1)",
            )
            .await?;
        let row = client.query_opt(&statement, &[&username]).await?;
        Ok(row.map(|row| (User::from_row(&row), row.get("password_hash"))))
    }
}

impl Store {
    /// The stored names of the users among `names` (lowercase).
    pub(crate) async fn usernames_among(
        &self,
        names: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT username FROM users WHERE lower(username) = ANY($1)")
            .await?;
        let rows = client.query(&statement, &[&names]).await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}
