//! Search: the words of each message (`message_words`), filled off the
//! message path, and the query over them.
//!
//! Storing a message costs no text analysis: the room writer hands what it
//! stored (id, room, text) to the [`SearchIndex`], whose task turns a batch
//! of them into words with one statement a moment later, on a connection of
//! its own, without reading `messages` again. An edit rewrites its
//! message's words and a deletion empties them, in their own transactions;
//! the index only ever adds a row that is missing (`ON CONFLICT DO
//! NOTHING`), so whichever comes first, the newer text wins. A process that
//! stops with messages queued, or a queue that overflows, leaves messages
//! without words: the task catches up from the index's newest message (less
//! a margin) when it starts, and from the oldest dropped one after an
//! overflow.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::Message;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::messages::MESSAGE_COLUMNS;
use super::{Store, StoreError};

/// Messages waiting to be indexed; beyond that they are caught up later.
const QUEUE: usize = 16_384;
/// Most messages indexed by one statement.
const BATCH: usize = 4096;
/// How long a pass waits for more ids after the first: fewer, bigger
/// statements cost PostgreSQL less per message.
const LINGER: Duration = Duration::from_millis(250);
/// How far before the index's newest entry a catch-up looks: longer than
/// any message waits between its id being chosen and its commit.
const CATCH_UP_MARGIN: time::Duration = time::Duration::minutes(10);
/// Most characters of a search.
pub(crate) const MAX_QUERY_CHARS: usize = 256;

/// A batch's words. Almost always none of them has a row yet (only an edit
/// or a deletion racing the indexer makes one), and a plain insert costs
/// PostgreSQL less than one that checks for conflicts row by row: a batch
/// that meets a row goes again as [`INDEX_MISSING`].
const INDEX: &str = "INSERT INTO message_words (message_id, chatroom_id, words)
    SELECT id, room, to_tsvector('chat_words', content)
    FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS n (id, room, content)";

/// [`INDEX`] for the messages that have no row yet.
const INDEX_MISSING: &str = "INSERT INTO message_words (message_id, chatroom_id, words)
    SELECT id, room, to_tsvector('chat_words', content)
    FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS n (id, room, content)
    ON CONFLICT (message_id) DO NOTHING";

/// Messages from `$1` (an id, so the id index finds them) on without words.
const CATCH_UP: &str = "INSERT INTO message_words (message_id, chatroom_id, words)
    SELECT m.id, m.chatroom_id, to_tsvector('chat_words', m.content)
    FROM messages m
    WHERE m.id >= $1 AND m.kind = 'message' AND NOT m.deleted AND m.content <> ''
      AND NOT EXISTS (SELECT 1 FROM message_words w WHERE w.message_id = m.id)
    ON CONFLICT (message_id) DO NOTHING";

/// A stored message to index: its id, room and text.
type Stored = (Uuid, Uuid, String);

/// Where the room writer hands what it stored.
#[derive(Clone)]
pub(crate) struct SearchIndex {
    queue: mpsc::Sender<Stored>,
    /// The Unix time (ms) of the oldest id dropped on a full queue, or
    /// `u64::MAX` when none was.
    dropped_since: Arc<AtomicU64>,
}

impl SearchIndex {
    /// Starts the indexing task (tracked by `tasks`) on a connection of its
    /// own; it ends once every handle is dropped, after indexing what is queued.
    pub(crate) fn start(store: &Store, tasks: &TaskTracker) -> Result<Self, StoreError> {
        let (queue, ids) = mpsc::channel(QUEUE);
        let dropped_since = Arc::new(AtomicU64::new(u64::MAX));
        let indexer = Indexer {
            store: store.writer_pool("chat-search")?,
            dropped_since: dropped_since.clone(),
        };
        tasks.spawn(indexer.run(ids));
        Ok(Self { queue, dropped_since })
    }

    /// Message `id` of `room`, saying `content`, was stored: index its
    /// words soon.
    pub(crate) fn add(&self, id: Uuid, room: Uuid, content: String) {
        if self.queue.try_send((id, room, content)).is_err() {
            let millis = id.get_timestamp().map_or(0, |t| {
                let (seconds, nanos) = t.to_unix();
                seconds * 1000 + u64::from(nanos / 1_000_000)
            });
            self.dropped_since.fetch_min(millis, Ordering::Relaxed);
        }
    }
}

struct Indexer {
    store: Store,
    dropped_since: Arc<AtomicU64>,
}

impl Indexer {
    async fn run(self, mut ids: mpsc::Receiver<Stored>) {
        if let Err(error) = self.store.catch_up(None).await {
            tracing::warn!(%error, "search index: catching up failed");
        }
        let mut batch = Vec::with_capacity(BATCH);
        while ids.recv_many(&mut batch, BATCH).await > 0 {
            let until = tokio::time::Instant::now() + LINGER;
            while batch.len() < BATCH {
                let room = BATCH - batch.len();
                let more = ids.recv_many(&mut batch, room);
                if !matches!(tokio::time::timeout_at(until, more).await, Ok(n) if n > 0) {
                    break;
                }
            }
            if let Err(error) = self.store.index_words(&batch).await {
                tracing::warn!(%error, count = batch.len(), "search index: indexing failed");
                self.dropped_since.fetch_min(0, Ordering::Relaxed);
            }
            batch.clear();
            let since = self.dropped_since.swap(u64::MAX, Ordering::Relaxed);
            if since != u64::MAX {
                let since = (since > 0).then(|| {
                    OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(since as i64)
                });
                if let Err(error) = self.store.catch_up(since).await {
                    tracing::warn!(%error, "search index: catching up failed");
                    self.dropped_since.fetch_min(0, Ordering::Relaxed);
                }
            }
        }
    }
}

/// When UUIDv7 `id` was made.
fn time_of(id: Uuid) -> Option<OffsetDateTime> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The smallest UUIDv7 of time `at`: every message stored since has an id
/// at least this.
fn first_id_at(at: OffsetDateTime) -> Uuid {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

/// A search: words as web search reads them, in the rooms a user is in now.
#[derive(Debug, Clone)]
pub(crate) struct Search<'a> {
    /// Who searches.
    pub(crate) user: Uuid,
    /// The words.
    pub(crate) query: &'a str,
    /// Only this room.
    pub(crate) room: Option<Uuid>,
    /// Only results older than this one.
    pub(crate) before: Option<Uuid>,
    /// Most results.
    pub(crate) limit: i64,
}

impl Store {
    /// Indexes the words of `stored` messages that have none yet.
    async fn index_words(&self, stored: &[Stored]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = stored.iter().map(|(id, _, _)| *id).collect();
        let rooms: Vec<Uuid> = stored.iter().map(|(_, room, _)| *room).collect();
        let contents: Vec<&str> = stored.iter().map(|(_, _, content)| content.as_str()).collect();
        let client = self.client().await?;
        let statement = client.prepare_cached(INDEX).await?;
        match client.execute(&statement, &[&ids, &rooms, &contents]).await.map_err(StoreError::from)
        {
            Err(error) if error.is_unique_violation() => {
                let statement = client.prepare_cached(INDEX_MISSING).await?;
                client.execute(&statement, &[&ids, &rooms, &contents]).await?;
                Ok(())
            }
            done => done.map(drop),
        }
    }

    /// Indexes the messages without words stored since `since` (`None`: the
    /// index's newest message, less a margin).
    async fn catch_up(&self, since: Option<OffsetDateTime>) -> Result<(), StoreError> {
        let client = self.client().await?;
        let since = match since {
            Some(since) => since,
            None => {
                let newest = client
                    .query_opt(
                        "SELECT message_id FROM message_words ORDER BY message_id DESC LIMIT 1",
                        &[],
                    )
                    .await?
                    .map(|row| row.get::<_, Uuid>(0));
                newest.and_then(time_of).unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }
        };
        let from = first_id_at(since - CATCH_UP_MARGIN);
        let statement = client.prepare_cached(CATCH_UP).await?;
        let indexed = client.execute(&statement, &[&from]).await?;
        if indexed > 0 {
            tracing::info!(indexed, "search index caught up");
        }
        Ok(())
    }

    /// The messages that match, newest first (message ids grow with time):
    /// only in rooms `search.user` is a member of, never deleted ones, never
    /// in encrypted rooms.
    ///
    /// Two steps, so that no query costs a scan of the whole index: the
    /// newest [`RECENT_WINDOW`] messages are searched by walking the id
    /// index backwards (fast for common words: their results are recent),
    /// then, when that found too few, the older ones through the word index
    /// (fast for rare words; a walk through all history would find nothing
    /// for long, as for a word with `-exclusions` that nothing matches).
    pub(crate) async fn search(&self, search: &Search<'_>) -> Result<Vec<Message>, StoreError> {
        let client = self.client().await?;
        let recent = client.prepare_cached(&search_query(SEARCH_RECENT)).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &search.user,
            &search.query,
            &search.room,
            &search.before,
            &search.limit,
            &RECENT_WINDOW,
        ];
        let mut rows = client.query(&recent, &params).await?;
        let wanted = usize::try_from(search.limit).unwrap_or(0);
        if rows.len() < wanted {
            let edge = client
                .prepare_cached(
                    "SELECT message_id FROM message_words
                     WHERE ($1::uuid IS NULL OR message_id < $1)
                     ORDER BY message_id DESC OFFSET $2::bigint - 1 LIMIT 1",
                )
                .await?;
            let edge = client.query_opt(&edge, &[&search.before, &RECENT_WINDOW]).await?;
            if let Some(edge) = edge {
                let older_than: Uuid = edge.get(0);
                let rest = search.limit - rows.len() as i64;
                let older = client.prepare_cached(&search_query(SEARCH_OLDER)).await?;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                    [&search.user, &search.query, &search.room, &older_than, &rest];
                rows.extend(client.query(&older, &params).await?);
            }
        }
        self.messages_from_rows(&rows).await
    }
}

/// How many of the newest messages the first step of a search walks.
const RECENT_WINDOW: i64 = 10_000;

/// The first step's candidates: the newest [`RECENT_WINDOW`] (`$6`) older
/// than `$4`.
const SEARCH_RECENT: &str = "(SELECT message_id, chatroom_id, words FROM message_words
     WHERE ($4::uuid IS NULL OR message_id < $4)
     ORDER BY message_id DESC LIMIT $6)";

/// The second step's: every message older than `$4` with the words, found
/// through the word index (materialised, so the plan cannot turn into a
/// walk of the id index).
const SEARCH_OLDER: &str = "(SELECT message_id, chatroom_id, words FROM message_words
     WHERE words @@ websearch_to_tsquery('chat_words', $2) AND message_id < $4
     OFFSET 0)";

/// A search among `candidates`: `$1` the user, `$2` the words, `$3` a room
/// or NULL, `$5` the most results.
fn search_query(candidates: &str) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS}
         FROM {candidates} w
         JOIN chatroom_members cm ON cm.chatroom_id = w.chatroom_id AND cm.user_id = $1
         JOIN chatrooms c ON c.id = w.chatroom_id AND NOT c.encrypted
         JOIN messages m ON m.id = w.message_id
         LEFT JOIN messages r ON r.id = m.reply_to
         WHERE w.words @@ websearch_to_tsquery('chat_words', $2)
           AND ($3::uuid IS NULL OR w.chatroom_id = $3)
           AND NOT m.deleted
         ORDER BY w.message_id DESC
         LIMIT $5"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ids_time_is_read_back() {
        let id = Uuid::now_v7();
        let made = time_of(id).unwrap();
        assert!((OffsetDateTime::now_utc() - made).abs() < time::Duration::seconds(5));
        assert!(first_id_at(made) <= id);
    }

    #[test]
    fn the_first_id_of_a_time_is_below_every_id_made_then() {
        let now = OffsetDateTime::now_utc();
        let bound = first_id_at(now - time::Duration::milliseconds(1));
        assert!(Uuid::now_v7() > bound);
        assert!(first_id_at(now + time::Duration::seconds(1)) > Uuid::now_v7());
    }
}

#[cfg(test)]
mod catch_up_tests {
    use super::*;

    /// Messages stored while no indexer ran get their words when one starts.
    #[tokio::test]
    async fn an_indexer_starting_indexes_what_has_no_words() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let client = store.client().await.unwrap();
        let (user, room) = (Uuid::now_v7(), Uuid::now_v7());
        client
            .batch_execute(&format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{user}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{room}', 'r', '{user}');
                 INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at,
                                       previous_at)
                 VALUES ('{}', '{room}', '{user}', 'u', 'lost words', now(), '-infinity')",
                Uuid::now_v7()
            ))
            .await
            .unwrap();
        store.writer_pool("chat-search").unwrap().catch_up(None).await.unwrap();
        let found = client
            .query_one("SELECT count(*) FROM message_words WHERE words @@ 'lost'::tsquery", &[])
            .await
            .unwrap();
        assert_eq!(found.get::<_, i64>(0), 1);
    }

    /// Results come newest first from both steps: the newest messages, and
    /// the older ones beyond the first step's window.
    #[tokio::test]
    async fn a_search_finds_words_beyond_the_newest_messages_in_order() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let client = store.client().await.unwrap();
        let (user, room) = (Uuid::now_v7(), Uuid::now_v7());
        let count = RECENT_WINDOW + 50;
        client
            .batch_execute(&format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{user}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{room}', 'r', '{user}');
                 INSERT INTO chatroom_members (chatroom_id, user_id) VALUES ('{room}', '{user}');
                 INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at,
                                       previous_at)
                 SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                        '{room}', '{user}', 'u',
                        CASE WHEN g IN (3, 5, {count}) THEN 'rare needle ' || g ELSE 'hay ' || g END,
                        timestamptz '2026-01-01' + g * interval '1 ms',
                        timestamptz '2026-01-01' + (g - 1) * interval '1 ms'
                 FROM generate_series(1, {count}) g;
                 INSERT INTO message_words
                 SELECT id, chatroom_id, to_tsvector('chat_words', content) FROM messages;
                 ANALYZE message_words"
            ))
            .await
            .unwrap();
        let search = |query, before, limit| Search { user, query, room: None, before, limit };
        let contents =
            |found: Vec<Message>| -> Vec<String> { found.into_iter().map(|m| m.content).collect() };
        let found = store.search(&search("needle", None, 20)).await.unwrap();
        let expected =
            [format!("rare needle {count}"), "rare needle 5".into(), "rare needle 3".into()];
        assert_eq!(contents(found), expected);
        let first = store.search(&search("needle", None, 2)).await.unwrap();
        let last = first.last().unwrap().id;
        let rest = store.search(&search("needle", Some(last), 2)).await.unwrap();
        assert_eq!(contents(rest), ["rare needle 3"]);
        assert!(store.search(&search("hay -hay", None, 20)).await.unwrap().is_empty());
    }

    /// A batch that meets a row made meanwhile (a deletion's empty one)
    /// keeps that row and indexes the rest.
    #[tokio::test]
    async fn a_batch_keeps_the_rows_that_edits_and_deletions_made_first() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap();
        let client = store.client().await.unwrap();
        let (room, deleted, kept) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        client
            .batch_execute(&format!(
                "INSERT INTO message_words VALUES ('{deleted}', '{room}', ''::tsvector)"
            ))
            .await
            .unwrap();
        let batch =
            [(deleted, room, "gone words".to_owned()), (kept, room, "kept words".to_owned())];
        store.index_words(&batch).await.unwrap();
        let rows = client
            .query("SELECT message_id, words::text FROM message_words ORDER BY message_id", &[])
            .await
            .unwrap();
        let rows: Vec<(Uuid, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(rows, [(deleted, String::new()), (kept, "'kept':1 'words':2".to_owned())]);
    }
}
