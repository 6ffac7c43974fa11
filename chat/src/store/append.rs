//! Appending to rooms: the room writer's group-commit insert.
//!
//! Each stored message names the time of the room's message before it
//! (`previous_at`, `-infinity` for a room's first), and `(chatroom_id,
//! previous_at)` is unique: a room's messages form one chain, so two writers
//! can never both append after the same message.
//!
//! That makes the usual insert cheap. A writer remembers the newest time of
//! each room it has written ([`RoomHeads`]), places the batch after it and
//! inserts it as one plain statement, its own transaction: no lock, no
//! lookup. If another instance appended to one of the rooms meanwhile, or a
//! message repeats a stored `client_id` or `command_id`, a unique index
//! refuses the whole batch and nothing is stored; the batch is then stored
//! the careful way (see [`INSERT_LOCKED`]), the rooms' heads are read again,
//! and for a second the rooms go the careful way directly (instances taking
//! turns in a room would otherwise pay a refused insert every time).
//!
//! A message PostgreSQL refuses for what it holds (a data exception, class
//! 22, or a broken constraint, class 23, other than the unique indexes
//! above) fails the whole statement. [`Store::append`] then stores the batch
//! in halves, and halves of those, so that only the offending messages are
//! refused and every other one is stored: one client's bad input never costs
//! another client's message.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use protocol::{Attachment, Message, Sealed};
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::{Store, StoreError};

/// How long a room whose fast insert was refused goes the careful way.
const CONTENDED_FOR: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the careful insert is tried when a concurrent writer keeps
/// breaking a unique index under it.
const LOCKED_ATTEMPTS: usize = 3;

/// The fast insert of a batch without files: `$1`..`$10` the batch's
/// columns (`$10` each message's mentioned usernames, space-separated, NULL
/// for none), `$11` each message's predecessor (NULL for a room's first).
/// Batches almost never hold a file, so their statement carries no column
/// of NULLs for it.
const INSERT_PLACED: &str = "INSERT INTO messages
        (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id,
         mentions, previous_at)
    SELECT id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id,
           string_to_array(mentions, ' '), coalesce(previous_at, '-infinity')
    FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                $6::bool[], $7::timestamptz[], $8::text[], $9::uuid[], $10::text[],
                $11::timestamptz[])
        AS n (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id,
              command_id, mentions, previous_at)";

/// [`INSERT_PLACED`] for a batch with files, replies or sealed messages:
/// `$12` each message's files (NULL for none), `$13` the message it replies
/// to, `$14` the sealed message.
const INSERT_PLACED_WITH_EXTRAS: &str = "INSERT INTO messages
        (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id,
         mentions, previous_at, attachments, reply_to, encrypted)
    SELECT id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id,
           string_to_array(mentions, ' '), coalesce(previous_at, '-infinity'), attachments,
           reply_to, encrypted
    FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                $6::bool[], $7::timestamptz[], $8::text[], $9::uuid[], $10::text[],
                $11::timestamptz[], $12::jsonb[], $13::uuid[], $14::jsonb[])
        AS n (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id,
              command_id, mentions, previous_at, attachments, reply_to, encrypted)";

/// The careful insert, after the batch's rooms are locked: skips messages
/// whose `client_id` or `command_id` is stored already and rooms that do not
/// exist, moves each room's times, keeping their spacing, to after the room's
/// newest stored message, and chains them. `$1`..`$10` as in [`INSERT_PLACED`],
/// `$11` each message's files (NULL for none), `$12` the message it replies to,
/// `$13` the sealed message.
const INSERT_LOCKED: &str = "WITH rooms AS (
        SELECT c.id, (SELECT max(m.created_at) FROM messages m
                      WHERE m.chatroom_id = c.id) AS room_last
        FROM chatrooms c WHERE c.id IN (SELECT unnest($2::uuid[]))
    ), fresh AS (
        SELECT n.*, r.room_last,
               min(n.created_at) OVER (PARTITION BY n.chatroom_id) AS room_first
        FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                    $6::bool[], $7::timestamptz[], $8::text[], $9::uuid[], $10::text[],
                    $11::jsonb[], $12::uuid[], $13::jsonb[])
            AS n (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id,
                  command_id, mentions, attachments, reply_to, encrypted)
        JOIN rooms r ON r.id = n.chatroom_id
        WHERE NOT EXISTS (SELECT 1 FROM messages m
                          WHERE m.chatroom_id = n.chatroom_id AND m.user_id = n.user_id
                            AND m.client_id = n.client_id)
          AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.command_id = n.command_id)
    ), placed AS (
        SELECT f.*, f.created_at + greatest(interval '0',
                   coalesce(f.room_last + interval '1 microsecond' - f.room_first, interval '0')) AS at
        FROM fresh f
    ), chained AS (
        SELECT p.*, coalesce(lag(p.at) OVER (PARTITION BY p.chatroom_id ORDER BY p.at),
                             p.room_last, '-infinity') AS previous_at
        FROM placed p
    )
    INSERT INTO messages
        (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id,
         mentions, attachments, reply_to, encrypted, previous_at)
    SELECT id, chatroom_id, user_id, username, content, is_bot, at, client_id, command_id,
           string_to_array(mentions, ' '), attachments, reply_to, encrypted, previous_at
    FROM chained
    RETURNING id, created_at, nullif(previous_at, '-infinity')";

/// A message ready to insert; its id and provisional time are chosen by the
/// room writer, its final time by the insert.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage {
    /// The message as it will be shown once stored.
    pub(crate) message: Message,
    /// The stock command a bot reply answers.
    pub(crate) command_id: Option<Uuid>,
}

/// A row [`Store::insert_messages`] stored: its id, its time in the room's
/// order, and the time of the room's message before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredRow {
    /// The message.
    pub(crate) id: Uuid,
    /// Its time: the room's order.
    pub(crate) created_at: OffsetDateTime,
    /// The time of the room's previous message (`None` for the first).
    pub(crate) previous: Option<OffsetDateTime>,
}

/// What became of one message of a batch given to [`Store::append`].
#[derive(Debug, Clone)]
pub(crate) enum Appended {
    /// Stored, at its place in the room's order.
    Stored(StoredRow),
    /// Left out: it repeats a stored `client_id` or `command_id`, or its
    /// room does not exist.
    Skipped,
    /// PostgreSQL refused it for what it holds; nothing else was affected.
    Refused,
    /// Not stored: PostgreSQL could not be reached or failed.
    Failed(Arc<StoreError>),
}

/// What one writer knows of the rooms it writes: the time of each one's
/// newest stored message (`None`: the room has none yet), and the rooms that
/// another writer appended to lately.
#[derive(Debug, Default)]
pub(crate) struct RoomHeads {
    newest: HashMap<Uuid, Option<OffsetDateTime>>,
    /// Rooms whose fast insert was refused, until when they go the careful
    /// way: a room that instances take turns writing would otherwise cost
    /// a refused insert before every careful one.
    contended: HashMap<Uuid, Instant>,
}

impl RoomHeads {
    /// `room`'s newest entry is now at `at` (a change this writer made).
    pub(crate) fn advance(&mut self, room: Uuid, at: OffsetDateTime) {
        self.newest.insert(room, Some(at));
    }

    /// Forgets the batch's rooms; when `contended`, they go the careful way
    /// for [`CONTENDED_FOR`].
    fn forget(&mut self, batch: &[&NewMessage], contended: bool) {
        let until = Instant::now() + CONTENDED_FOR;
        for new in batch {
            let room = new.message.chatroom_id;
            self.newest.remove(&room);
            if contended {
                self.contended.insert(room, until);
            }
        }
    }

    /// Whether any of the batch's rooms is contended (forgetting those whose
    /// time is up).
    fn any_contended(&mut self, batch: &[&NewMessage]) -> bool {
        if self.contended.is_empty() {
            return false;
        }
        let now = Instant::now();
        self.contended.retain(|_, until| *until > now);
        batch.iter().any(|new| self.contended.contains_key(&new.message.chatroom_id))
    }
}

/// The batch without its repeats: a later message of the batch with the same
/// `client_id` (same room and user) or `command_id` as an earlier one is left
/// out, so it is answered as the duplicate it is.
fn without_repeats(batch: &[NewMessage]) -> Vec<&NewMessage> {
    let mut clients = HashSet::new();
    let mut commands = HashSet::new();
    batch
        .iter()
        .filter(|new| {
            let m = &new.message;
            let client = m.client_id.as_deref().map(|c| (m.chatroom_id, m.user_id, c));
            client.is_none_or(|key| clients.insert(key))
                && new.command_id.is_none_or(|command| commands.insert(command))
        })
        .collect()
}

/// Each message's outcome, given the rows of it that were stored.
fn outcomes_of(messages: &[NewMessage], mut rows: Vec<StoredRow>) -> Vec<Appended> {
    rows.sort_unstable_by_key(|row| row.id);
    messages
        .iter()
        .map(|new| match rows.binary_search_by_key(&new.message.id, |row| row.id) {
            Ok(index) => Appended::Stored(rows[index]),
            Err(_) => Appended::Skipped,
        })
        .collect()
}

/// The advisory lock keys of a batch's rooms, as the two `int4` halves of 64
/// bits of each room id, sorted and without repeats: every writer takes its
/// locks in this one order. (Two rooms sharing a key only wait for each other.)
fn room_lock_keys(batch: &[&NewMessage]) -> (Vec<i32>, Vec<i32>) {
    let mut rooms: Vec<Uuid> = batch.iter().map(|n| n.message.chatroom_id).collect();
    rooms.sort_unstable_by_key(|room| room.as_u64_pair().1);
    rooms.dedup_by_key(|room| room.as_u64_pair().1);
    rooms.into_iter().map(room_lock_key).unzip()
}

/// The advisory lock key of `room` (see [`room_lock_keys`]).
pub(super) fn room_lock_key(room: Uuid) -> (i32, i32) {
    let key = room.as_u64_pair().1;
    ((key >> 32) as u32 as i32, key as u32 as i32)
}

/// The batch's columns, one array each, in the order of the inserts' `$1`..`$13`.
struct Columns<'a> {
    ids: Vec<Uuid>,
    rooms: Vec<Uuid>,
    users: Vec<Uuid>,
    names: Vec<&'a str>,
    contents: Vec<&'a str>,
    bots: Vec<bool>,
    times: Vec<OffsetDateTime>,
    client_ids: Vec<Option<&'a str>>,
    command_ids: Vec<Option<Uuid>>,
    mentions: Vec<Option<String>>,
    attachments: Vec<Option<Json<&'a [Attachment]>>>,
    replies: Vec<Option<Uuid>>,
    sealed: Vec<Option<Json<&'a Sealed>>>,
}

impl<'a> Columns<'a> {
    fn of(batch: &[&'a NewMessage]) -> Self {
        Self {
            ids: batch.iter().map(|n| n.message.id).collect(),
            rooms: batch.iter().map(|n| n.message.chatroom_id).collect(),
            users: batch.iter().map(|n| n.message.user_id).collect(),
            names: batch.iter().map(|n| n.message.username.as_str()).collect(),
            contents: batch.iter().map(|n| n.message.content.as_str()).collect(),
            bots: batch.iter().map(|n| n.message.is_bot).collect(),
            times: batch.iter().map(|n| n.message.created_at).collect(),
            client_ids: batch.iter().map(|n| n.message.client_id.as_deref()).collect(),
            command_ids: batch.iter().map(|n| n.command_id).collect(),
            mentions: batch
                .iter()
                .map(|n| Some(n.message.mentions.join(" ")).filter(|names| !names.is_empty()))
                .collect(),
            attachments: batch
                .iter()
                .map(|n| Some(Json(n.message.attachments.as_slice())).filter(|a| !a.0.is_empty()))
                .collect(),
            replies: batch.iter().map(|n| n.message.reply_to.as_ref().map(|r| r.id)).collect(),
            sealed: batch.iter().map(|n| n.message.encrypted.as_deref().map(Json)).collect(),
        }
    }

    /// Whether a message holds what only the longer statements store.
    fn has_extras(&self) -> bool {
        self.attachments.iter().any(Option::is_some)
            || self.replies.iter().any(Option::is_some)
            || self.sealed.iter().any(Option::is_some)
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.ids,
            &self.rooms,
            &self.users,
            &self.names,
            &self.contents,
            &self.bots,
            &self.times,
            &self.client_ids,
            &self.command_ids,
            &self.mentions,
            &self.attachments,
            &self.replies,
            &self.sealed,
        ]
    }
}

impl Store {
    /// Stores a batch and tells what became of each of its messages, in the
    /// batch's order. A part of the batch that PostgreSQL refuses for its
    /// data is stored in halves until the messages to blame are alone, so
    /// the rest is stored; once PostgreSQL fails otherwise, what is not yet
    /// stored fails with it.
    pub(crate) async fn append(
        &self,
        batch: &[NewMessage],
        heads: &mut RoomHeads,
    ) -> Vec<Appended> {
        // The usual case, with no more work than one insert: PostgreSQL takes it.
        let error = match self.insert_messages(batch, heads).await {
            Ok(rows) => return outcomes_of(batch, rows),
            Err(error) if error.is_data_fault() => error,
            Err(error) => {
                let error = Arc::new(error);
                return batch.iter().map(|_| Appended::Failed(Arc::clone(&error))).collect();
            }
        };
        tracing::warn!(%error, count = batch.len(), "PostgreSQL refused a batch; storing it in parts");
        let mut outcomes = Vec::with_capacity(batch.len());
        // The parts still to store, the leftmost last: a room's messages are
        // stored in the batch's order.
        let middle = batch.len() / 2;
        let mut parts: Vec<Range<usize>> = vec![middle..batch.len(), 0..middle];
        parts.retain(|part| !part.is_empty());
        while let Some(part) = parts.pop() {
            let messages = &batch[part.clone()];
            match self.insert_messages(messages, heads).await {
                Ok(rows) => outcomes.extend(outcomes_of(messages, rows)),
                Err(error) if error.is_data_fault() && part.len() > 1 => {
                    let middle = part.start + part.len() / 2;
                    parts.push(middle..part.end);
                    parts.push(part.start..middle);
                }
                Err(error) if error.is_data_fault() => {
                    let message = &messages[0].message;
                    tracing::warn!(%error, message_id = %message.id, chatroom_id = %message.chatroom_id,
                        "PostgreSQL refused a message; the rest of its batch goes on");
                    outcomes.push(Appended::Refused);
                }
                Err(error) => {
                    let error = Arc::new(error);
                    let unstored =
                        part.len() + parts.iter().map(ExactSizeIterator::len).sum::<usize>();
                    outcomes.extend((0..unstored).map(|_| Appended::Failed(Arc::clone(&error))));
                    parts.clear();
                }
            }
        }
        outcomes
    }

    /// Stores a batch and returns the rows actually stored, each with its
    /// final time and its predecessor's (a repeated `client_id` or
    /// `command_id`, or a room that does not exist, skips that message
    /// without failing the others). A room's times increase strictly in
    /// commit order, whichever instance wrote. `heads` is the calling
    /// writer's knowledge of its rooms, kept up to date here.
    async fn insert_messages(
        &self,
        batch: &[NewMessage],
        heads: &mut RoomHeads,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let batch = without_repeats(batch);
        if !heads.any_contended(&batch) {
            match self.insert_placed(&batch, heads).await {
                Ok(rows) => return Ok(rows),
                Err(error) if !error.is_unique_violation() => return Err(error),
                Err(_) => {}
            }
        }
        let mut attempt = 1;
        loop {
            match self.insert_locked(&batch).await {
                Err(error) if error.is_unique_violation() && attempt < LOCKED_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
                Ok(rows) => return Ok(rows),
            }
        }
    }

    /// The fast insert: each message placed after its room's known head,
    /// one plain statement. On any error the batch's rooms are forgotten
    /// (the next batch reads them again).
    async fn insert_placed(
        &self,
        batch: &[&NewMessage],
        heads: &mut RoomHeads,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let unknown: Vec<Uuid> = batch
            .iter()
            .map(|n| n.message.chatroom_id)
            .filter(|room| !heads.newest.contains_key(room))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            heads.newest.extend(self.last_message_times(&unknown).await?);
        }
        let mut placed = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        let mut previous = Vec::with_capacity(batch.len());
        for &new in batch {
            // A room that does not exist has no head: its message is skipped.
            let Some(head) = heads.newest.get_mut(&new.message.chatroom_id) else { continue };
            let stamp = new.message.created_at;
            let at = head.map_or(stamp, |last| stamp.max(last + Duration::microseconds(1)));
            rows.push(StoredRow { id: new.message.id, created_at: at, previous: *head });
            previous.push(*head);
            *head = Some(at);
            placed.push(new);
        }
        if placed.is_empty() {
            return Ok(rows);
        }
        let mut columns = Columns::of(&placed);
        columns.times = rows.iter().map(|row| row.created_at).collect();
        let [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, files, replies, sealed] = columns.params();
        let params: [&(dyn ToSql + Sync); 14] =
            [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, &previous, files, replies, sealed];
        let (sql, params) = if columns.has_extras() {
            (INSERT_PLACED_WITH_EXTRAS, &params[..])
        } else {
            (INSERT_PLACED, &params[..11])
        };
        let inserted = async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await?;
            Ok::<(), StoreError>(())
        };
        match inserted.await {
            Ok(()) => Ok(rows),
            Err(error) => {
                heads.forget(batch, error.is_unique_violation());
                Err(error)
            }
        }
    }

    /// The careful insert: one transaction that first takes a lock per room
    /// (transaction-scoped advisory locks, in one sorted order so concurrent
    /// batches cannot deadlock), then runs [`INSERT_LOCKED`]. The four
    /// statements are pipelined: one round trip.
    async fn insert_locked(&self, batch: &[&NewMessage]) -> Result<Vec<StoredRow>, StoreError> {
        let client = self.client().await?;
        let lock = client
            .prepare_cached(
                "SELECT pg_advisory_xact_lock(k1, k2) FROM UNNEST($1::int4[], $2::int4[]) AS k (k1, k2)",
            )
            .await?;
        let insert = client.prepare_cached(INSERT_LOCKED).await?;
        let (high, low) = room_lock_keys(batch);
        let keys: [&(dyn ToSql + Sync); 2] = [&high, &low];
        let columns = Columns::of(batch);
        let params = columns.params();
        // Sent together; every statement is answered even after an error, and
        // COMMIT then rolls back, so the connection always ends outside a transaction.
        let (begun, locked, inserted, committed) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.query(&lock, &keys),
            client.query(&insert, &params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        locked?;
        let rows = inserted?;
        committed?;
        Ok(rows
            .iter()
            .map(|row| StoredRow { id: row.get(0), created_at: row.get(1), previous: row.get(2) })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Uuid = Uuid::from_u128(0xa);
    const ROOM: Uuid = Uuid::from_u128(0xb);

    async fn store_with_a_room() -> (testkit::database::TestDatabase, Store) {
        let database = testkit::database::TestDatabase::new();
        let store =
            Store::connect(&database.url()).await.unwrap().writer_pool("chat-writer").unwrap();
        let client = store.client().await.unwrap();
        client
            .batch_execute(&format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{USER}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{ROOM}', 'r', '{USER}')"
            ))
            .await
            .unwrap();
        (database, store)
    }

    /// A message stamped, as the writer stamps them, later than the one before.
    fn new_message(client_id: &str) -> NewMessage {
        static STAMPS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let n = STAMPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        NewMessage {
            message: Message {
                id: Uuid::now_v7(),
                chatroom_id: ROOM,
                user_id: USER,
                username: "u".into(),
                content: "hello".into(),
                is_bot: false,
                created_at: OffsetDateTime::UNIX_EPOCH + Duration::microseconds(n),
                client_id: Some(client_id.into()),
                attachments: Vec::new(),
                reactions: Vec::new(),
                mentions: Vec::new(),
                edited_at: None,
                deleted: false,
                reply_to: None,
                encrypted: None,
            },
            command_id: None,
        }
    }

    /// Two writers (as on two instances), each knowing only what it wrote:
    /// the second finds the room moved on, and still appends after the newest.
    #[tokio::test]
    async fn writers_that_know_different_heads_keep_one_chain() {
        let (_database, store) = store_with_a_room().await;
        let mut writers = [RoomHeads::default(), RoomHeads::default()];
        let mut chain = Vec::new();
        for (n, writer) in [0, 1, 0, 0, 1].into_iter().enumerate() {
            let heads = &mut writers[writer];
            let rows =
                store.insert_messages(&[new_message(&format!("c{n}"))], heads).await.unwrap();
            assert_eq!(rows.len(), 1, "message {n} stored");
            chain.push(rows[0]);
        }
        for pair in chain.windows(2) {
            assert_eq!(pair[1].previous, Some(pair[0].created_at), "{chain:?}");
            assert!(pair[1].created_at > pair[0].created_at, "{chain:?}");
        }
        assert_eq!(chain[0].previous, None);
        // The last writer found the room moved on: it goes the careful way for a while.
        assert!(writers[1].contended.contains_key(&ROOM));
    }

    /// A resend of a stored `client_id`, and a repeat within one batch, are
    /// left out; the rest of the batch is stored.
    #[tokio::test]
    async fn repeated_client_ids_are_stored_once() {
        let (_database, store) = store_with_a_room().await;
        let mut heads = RoomHeads::default();
        let first = store.insert_messages(&[new_message("x")], &mut heads).await.unwrap();
        let batch = [new_message("x"), new_message("y"), new_message("y"), new_message("z")];
        let rows = store.insert_messages(&batch, &mut heads).await.unwrap();
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        assert_eq!(ids, [batch[1].message.id, batch[3].message.id]);
        assert_eq!(rows[0].previous, Some(first[0].created_at));
        assert_eq!(rows[1].previous, Some(rows[0].created_at));
    }

    /// A message PostgreSQL refuses (U+0000 in its text, should one get past
    /// the edge) is refused alone: the rest of its batch is stored, in order,
    /// in one chain, and the writer's next batch goes on from there.
    #[tokio::test]
    async fn a_message_postgresql_refuses_costs_no_other_message() {
        let (_database, store) = store_with_a_room().await;
        let mut heads = RoomHeads::default();
        let mut batch: Vec<NewMessage> = (0..7).map(|n| new_message(&format!("m{n}"))).collect();
        batch[2].message.content = "bad\0".into();
        batch[5].message.username = "also\0bad".into();
        let outcomes = store.append(&batch, &mut heads).await;
        assert_eq!(outcomes.len(), batch.len());
        let mut stored = Vec::new();
        for (n, outcome) in outcomes.iter().enumerate() {
            match (n, outcome) {
                (2 | 5, Appended::Refused) => {}
                (2 | 5, other) => panic!("message {n}: {other:?}"),
                (_, Appended::Stored(row)) => stored.push(*row),
                (_, other) => panic!("message {n}: {other:?}"),
            }
        }
        assert_eq!(stored.len(), 5);
        for pair in stored.windows(2) {
            assert_eq!(pair[1].previous, Some(pair[0].created_at), "{stored:?}");
        }
        let next = store.append(&[new_message("after")], &mut heads).await;
        let Appended::Stored(row) = next[0] else { panic!("{next:?}") };
        assert_eq!(row.previous, stored.last().map(|row| row.created_at));
        let count: i64 = store
            .client()
            .await
            .unwrap()
            .query_one("SELECT count(*) FROM messages", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 6);
    }

    /// PostgreSQL down: every message fails, none is called refused.
    #[tokio::test]
    async fn a_batch_fails_whole_when_postgresql_fails() {
        let (_database, store) = store_with_a_room().await;
        let mut heads = RoomHeads::default();
        store.client().await.unwrap().batch_execute("DROP TABLE messages CASCADE").await.unwrap();
        let batch = [new_message("a"), new_message("b")];
        let outcomes = store.append(&batch, &mut heads).await;
        assert!(
            outcomes.iter().all(|outcome| matches!(outcome, Appended::Failed(_))),
            "{outcomes:?}"
        );
    }

    /// Arguments for `EXECUTE batch(...)`: one message in `room` by `user`.
    fn one_message(room: &str, user: &str) -> String {
        format!(
            "ARRAY[gen_random_uuid()], ARRAY['{room}'::uuid], ARRAY['{user}'::uuid], ARRAY['u'], \
             ARRAY['hello'], ARRAY[false], ARRAY[now()], ARRAY[NULL::text], ARRAY[NULL::uuid], \
             ARRAY[NULL::text], ARRAY[NULL::jsonb], ARRAY[NULL::uuid], ARRAY[NULL::jsonb]"
        )
    }

    /// The writer's connection makes the careful insert's plan once; made on an empty
    /// table, it must still look rooms' newest messages up by index once the
    /// table is large (a sequential scan per room would grow without bound).
    #[tokio::test]
    async fn the_writers_insert_plan_made_on_an_empty_table_uses_indexes_as_it_grows() {
        let database = testkit::database::TestDatabase::new();
        let store =
            Store::connect(&database.url()).await.unwrap().writer_pool("chat-writer").unwrap();
        let client = store.client().await.unwrap();
        let (user, room) =
            ("00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b");
        let setup = [
            format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{user}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{room}', 'r', '{user}')"
            ),
            "VACUUM ANALYZE messages".to_owned(),
            format!("PREPARE batch AS {INSERT_LOCKED}"),
            format!("EXECUTE batch({})", one_message(room, user)),
            format!(
                "INSERT INTO messages (id, chatroom_id, user_id, username, content, created_at)
                 SELECT gen_random_uuid(), '{room}', '{user}', 'u', 'x', now() - g * interval '1 ms'
                 FROM generate_series(1, 20000) AS g"
            ),
        ];
        for statement in setup {
            client.batch_execute(&statement).await.unwrap();
        }
        let plan: Vec<String> = client
            .simple_query(&format!("EXPLAIN EXECUTE batch({})", one_message(room, user)))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("Index Only Scan Backward using messages_pkey"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}
