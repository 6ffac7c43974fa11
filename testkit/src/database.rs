//! A fresh PostgreSQL database per test.

use tokio_postgres::NoTls;
use uuid::Uuid;

/// Where the machine's PostgreSQL listens (trust auth).
const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// A database name no other test uses; the database itself is created by the
/// code under test (`chat` creates its database when missing) and dropped,
/// with every connection to it, when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Reserves a unique database name.
    pub fn new() -> Self {
        Self { name: format!("chat_test_{}", Uuid::new_v4().simple()) }
    }

    /// The URL of the database, for `DATABASE_URL`.
    pub fn url(&self) -> String {
        format!("{SERVER_URL}/{}", self.name)
    }

    /// Creates the (empty) database, for code that does not create its own.
    pub async fn create(&self) {
        let (client, connection) =
            tokio_postgres::connect(&format!("{SERVER_URL}/postgres"), NoTls)
                .await
                .expect("connect to the server");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {}", self.name))
            .await
            .expect("create database");
    }

    /// Runs one SQL statement against the test database and returns the first
    /// column of each row as text; for tests that look behind the API.
    pub async fn query_strings(&self, sql: &str) -> Vec<Option<String>> {
        let (client, connection) =
            tokio_postgres::connect(&self.url(), NoTls).await.expect("connect to test database");
        tokio::spawn(connection);
        let rows = client.simple_query(sql).await.expect("query test database");
        rows.iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
                _ => None,
            })
            .collect()
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok((client, connection)) =
                        tokio_postgres::connect(&format!("{SERVER_URL}/postgres"), NoTls).await
                    {
                        tokio::spawn(connection);
                        let _ = client.batch_execute(&sql).await;
                    }
                });
            }
        })
        .join();
    }
}
