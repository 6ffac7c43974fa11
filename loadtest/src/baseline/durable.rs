//! The durable baseline: the simplest way to keep the server's promise that
//! a message is stored before anyone receives it. One task takes whatever
//! messages are queued, inserts them with one statement (its own
//! transaction, so one commit) into a table with one primary key, and only
//! then fans each out. No linger, no locks, no lookups: what the server's
//! write path adds to latency is measured against this.

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use super::{Room, broadcast};

/// The scratch table, dropped and created when the baseline starts.
const TABLE: &str = "loadtest_baseline";
/// Most messages in one commit (the server's writer takes up to this many too).
const MAX_BATCH: usize = 1024;

/// A message waiting for its commit.
pub(super) struct Pending {
    /// Where it goes once stored.
    pub(super) room: Room,
    /// Its room, as stored.
    pub(super) room_id: Uuid,
    /// What is stored.
    pub(super) content: String,
    /// The frame fanned out once stored.
    pub(super) frame: Utf8Bytes,
}

/// The handle connections queue their messages on.
#[derive(Clone)]
pub(super) struct Committer {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Committer {
    /// Connects, prepares the scratch table and starts the committing task.
    pub(super) async fn start(url: &str) -> anyhow::Result<Self> {
        let client = crate::database::connect(url).await?;
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {TABLE};
                 CREATE TABLE {TABLE} (room uuid, seq bigint, content text, PRIMARY KEY (room, seq))"
            ))
            .await
            .context("creating the durable baseline's table")?;
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(commit_batches(client, pending));
        Ok(Self { queue })
    }

    /// Queues a message; it is fanned out once committed.
    pub(super) fn append(&self, pending: Pending) {
        // The task ends only when every handle is gone.
        let _ = self.queue.send(pending);
    }
}

/// Commits what is queued, batch after batch, and fans each batch out after
/// its commit. A batch that fails to commit is reported and dropped (its
/// senders see no ack, which the load test counts as lost).
async fn commit_batches(client: Client, mut pending: mpsc::UnboundedReceiver<Pending>) {
    let insert =
        format!("INSERT INTO {TABLE} SELECT * FROM unnest($1::uuid[], $2::int8[], $3::text[])");
    let insert = match client.prepare(&insert).await {
        Ok(statement) => statement,
        Err(error) => {
            eprintln!("durable baseline: preparing the insert failed: {error}");
            return;
        }
    };
    let mut next_seq = 0_i64;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rooms: Vec<Uuid> = batch.iter().map(|p| p.room_id).collect();
        let seqs: Vec<i64> = (next_seq..).take(batch.len()).collect();
        next_seq += seqs.len() as i64;
        let contents: Vec<&str> = batch.iter().map(|p| p.content.as_str()).collect();
        match client.execute(&insert, &[&rooms, &seqs, &contents]).await {
            Ok(_) => batch.iter().for_each(|p| broadcast(&p.room, &p.frame)),
            Err(error) => eprintln!("durable baseline: a commit failed: {error}"),
        }
        batch.clear();
    }
}
