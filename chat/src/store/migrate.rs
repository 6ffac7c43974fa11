//! Creates the database when missing and applies the migrations in `sql/`.

use tokio_postgres::Client;

use super::{Connection, StoreError};

/// Every migration, in order; a migration never changes once released.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../../sql/0001_init.sql")),
    (2, include_str!("../../../sql/0002_messages_order_key.sql")),
    (3, include_str!("../../../sql/0003_attachments.sql")),
    (4, include_str!("../../../sql/0004_reactions.sql")),
    (5, include_str!("../../../sql/0005_mentions_and_read_markers.sql")),
    (6, include_str!("../../../sql/0006_attachment_links.sql")),
    (7, include_str!("../../../sql/0007_private_rooms.sql")),
    (8, include_str!("../../../sql/0008_edits_and_search.sql")),
    (9, include_str!("../../../sql/0009_identity_keys.sql")),
    (10, include_str!("../../../sql/0010_encrypted_rooms.sql")),
];

/// Any fixed number: serialises migrations of instances starting together.
const MIGRATION_LOCK: i64 = 0x63_68_61_74;

/// Creates the database named in `config` if it does not exist yet.
pub(crate) async fn create_database_if_missing(connection: &Connection) -> Result<(), StoreError> {
    let Some(name) = connection.config.get_dbname() else { return Ok(()) };
    let mut admin = connection.config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(connection.tls.clone()).await?;
    tokio::spawn(connection);
    let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?;
    if exists.is_none() {
        let quoted = name.replace('"', "\"\"");
        match client.batch_execute(&format!("CREATE DATABASE \"{quoted}\"")).await {
            Ok(()) => tracing::info!(database = name, "created database"),
            // Another instance created it first.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Applies every migration not applied yet, each in its own transaction.
pub(crate) async fn run(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .or_else(ignore_concurrent_create)?;
    for &(version, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        let applied =
            tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[&version]).await?;
        if applied.is_none() {
            tx.batch_execute(sql).await?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&version]).await?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Two instances racing on `CREATE TABLE IF NOT EXISTS` can collide on the type name.
fn ignore_concurrent_create(e: tokio_postgres::Error) -> Result<(), tokio_postgres::Error> {
    match e.code() {
        Some(code) if *code == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => Ok(()),
        _ => Err(e),
    }
}
