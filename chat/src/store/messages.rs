//! The `messages` table: group-commit inserts, the history window, replay.

use protocol::Message;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{Store, StoreError};

/// Columns of a [`Message`], in the order `message_from_row` reads them.
const MESSAGE_COLUMNS: &str =
    "id, chatroom_id, user_id, username, content, is_bot, created_at, client_id";

/// The group-commit insert (see [`Store::insert_messages`]): `$1`..`$9` are
/// the batch's columns, one array each.
const INSERT_BATCH: &str = "WITH rooms AS (
        SELECT c.id, (SELECT max(m.created_at) FROM messages m
                      WHERE m.chatroom_id = c.id) AS room_last
        FROM chatrooms c WHERE c.id IN (SELECT unnest($2::uuid[]))
    ), batch AS (
        SELECT n.*, r.room_last,
               min(n.created_at) OVER (PARTITION BY n.chatroom_id) AS room_first
        FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                    $6::bool[], $7::timestamptz[], $8::text[], $9::uuid[])
            AS n (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id)
        JOIN rooms r ON r.id = n.chatroom_id
    ), inserted AS (
        INSERT INTO messages
            (id, chatroom_id, user_id, username, content, is_bot, created_at, client_id, command_id)
        SELECT id, chatroom_id, user_id, username, content, is_bot,
               created_at + greatest(interval '0',
                   coalesce(room_last + interval '1 microsecond' - room_first, interval '0')),
               client_id, command_id
        FROM batch
        ON CONFLICT DO NOTHING
        RETURNING id, chatroom_id, created_at
    )
    SELECT i.id, i.created_at,
           coalesce(lag(i.created_at) OVER (PARTITION BY i.chatroom_id ORDER BY i.created_at),
                    r.room_last)
    FROM inserted i JOIN rooms r ON r.id = i.chatroom_id";

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

/// Where a page of history ends (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Before {
    /// Older than this message of the room.
    Message(Uuid),
    /// Strictly older than this time.
    Time(OffsetDateTime),
}

/// The advisory lock keys of a batch's rooms, as the two `int4` halves of 64
/// bits of each room id, sorted and without repeats: every writer takes its
/// locks in this one order. (Two rooms sharing a key only wait for each other.)
fn room_lock_keys(batch: &[NewMessage]) -> (Vec<i32>, Vec<i32>) {
    let mut keys: Vec<u64> = batch.iter().map(|n| n.message.chatroom_id.as_u64_pair().1).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().map(|key| ((key >> 32) as u32 as i32, key as u32 as i32)).unzip()
}

fn message_from_row(row: &Row) -> Message {
    Message {
        id: row.get(0),
        chatroom_id: row.get(1),
        user_id: row.get(2),
        username: row.get(3),
        content: row.get(4),
        is_bot: row.get(5),
        created_at: row.get(6),
        client_id: row.get(7),
    }
}

impl Store {
    /// Inserts a batch in one transaction and returns the rows actually
    /// inserted (a repeated `client_id` or `command_id`, or a room that does
    /// not exist, skips that row without failing the others).
    ///
    /// The transaction first takes a lock per room (transaction-scoped advisory
    /// locks, in one sorted order so concurrent batches cannot deadlock), then
    /// moves each room's times, keeping their spacing, to after the room's
    /// newest stored message. So times in a room increase strictly in commit
    /// order even with several instances writing it, and each stored row
    /// reports the time of the message before it. The four statements are
    /// pipelined: one round trip.
    pub(crate) async fn insert_messages(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<StoredRow>, StoreError> {
        let client = self.client().await?;
        let lock = client
            .prepare_cached(
                "SELECT pg_advisory_xact_lock(k1, k2) FROM UNNEST($1::int4[], $2::int4[]) AS k (k1, k2)",
            )
            .await?;
        let insert = client.prepare_cached(INSERT_BATCH).await?;
        let (high, low) = room_lock_keys(batch);
        let ids: Vec<Uuid> = batch.iter().map(|n| n.message.id).collect();
        let rooms: Vec<Uuid> = batch.iter().map(|n| n.message.chatroom_id).collect();
        let users: Vec<Uuid> = batch.iter().map(|n| n.message.user_id).collect();
        let names: Vec<&str> = batch.iter().map(|n| n.message.username.as_str()).collect();
        let contents: Vec<&str> = batch.iter().map(|n| n.message.content.as_str()).collect();
        let bots: Vec<bool> = batch.iter().map(|n| n.message.is_bot).collect();
        let times: Vec<OffsetDateTime> = batch.iter().map(|n| n.message.created_at).collect();
        let client_ids: Vec<Option<&str>> =
            batch.iter().map(|n| n.message.client_id.as_deref()).collect();
        let command_ids: Vec<Option<Uuid>> = batch.iter().map(|n| n.command_id).collect();
        let keys: [&(dyn ToSql + Sync); 2] = [&high, &low];
        let params: [&(dyn ToSql + Sync); 9] =
            [&ids, &rooms, &users, &names, &contents, &bots, &times, &client_ids, &command_ids];
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

    /// The time of the newest message of each of `rooms` that exist (`None`
    /// for a room with no message yet).
    pub(crate) async fn last_message_times(
        &self,
        rooms: &[Uuid],
    ) -> Result<Vec<(Uuid, Option<OffsetDateTime>)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT c.id, (SELECT max(m.created_at) FROM messages m WHERE m.chatroom_id = c.id)
                 FROM chatrooms c WHERE c.id = ANY($1)",
            )
            .await?;
        let rows = client.query(&statement, &[&rooms]).await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Up to `limit` messages of `room` stored after `time` (all of them when
    /// `None`), oldest first.
    pub(crate) async fn messages_since(
        &self,
        room: Uuid,
        time: Option<OffsetDateTime>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND created_at > coalesce($2::timestamptz, '-infinity')
                 ORDER BY created_at LIMIT $3"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &time, &limit]).await?;
        Ok(rows.iter().map(message_from_row).collect())
    }

    /// The stored message a user already sent with `client_id` in `room`.
    pub(crate) async fn message_by_client_id(
        &self,
        room: Uuid,
        user: Uuid,
        client_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND user_id = $2 AND client_id = $3"
            ))
            .await?;
        Ok(client
            .query_opt(&statement, &[&room, &user, &client_id])
            .await?
            .as_ref()
            .map(message_from_row))
    }

    /// The newest `limit` messages of `room` older than `before`, oldest first.
    /// `None` when `before` names a message that is not in the room.
    pub(crate) async fn recent_messages(
        &self,
        room: Uuid,
        limit: i64,
        before: Option<Before>,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.client().await?;
        // Times are unique within a room, so a message anchors a page by its time.
        let end = match before {
            None => None,
            Some(Before::Time(time)) => Some(time),
            Some(Before::Message(id)) => match self.message_time(&client, room, id).await? {
                Some(time) => Some(time),
                None => return Ok(None),
            },
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages
                                WHERE chatroom_id = $1 AND created_at < coalesce($3::timestamptz, 'infinity')
                                ORDER BY created_at DESC LIMIT $2) page
                 ORDER BY created_at"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &limit, &end]).await?;
        Ok(Some(rows.iter().map(message_from_row).collect()))
    }

    /// Up to `limit` messages of `room` newer than message `after`, oldest first.
    /// `None` when `after` is not a message of the room.
    pub(crate) async fn messages_after(
        &self,
        room: Uuid,
        after: Uuid,
        limit: i64,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let client = self.client().await?;
        let Some(anchor) = self.message_time(&client, room, after).await? else {
            return Ok(None);
        };
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE chatroom_id = $1 AND created_at > $2
                 ORDER BY created_at LIMIT $3"
            ))
            .await?;
        let rows = client.query(&statement, &[&room, &anchor, &limit]).await?;
        Ok(Some(rows.iter().map(message_from_row).collect()))
    }

    async fn message_time(
        &self,
        client: &deadpool_postgres::Object,
        room: Uuid,
        id: Uuid,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let statement = client
            .prepare_cached("SELECT created_at FROM messages WHERE id = $1 AND chatroom_id = $2")
            .await?;
        Ok(client.query_opt(&statement, &[&id, &room]).await?.map(|row| row.get(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments for `EXECUTE batch(...)`: one message in `room` by `user`.
    fn one_message(room: &str, user: &str) -> String {
        format!(
            "ARRAY[gen_random_uuid()], ARRAY['{room}'::uuid], ARRAY['{user}'::uuid], ARRAY['u'], \
             ARRAY['hello'], ARRAY[false], ARRAY[now()], ARRAY[NULL::text], ARRAY[NULL::uuid]"
        )
    }

    /// The writer's connection makes the insert's plan once; made on an empty
    /// table, it must still look rooms' newest messages up by index once the
    /// table is large (a sequential scan per room would grow without bound).
    #[tokio::test]
    async fn the_writers_insert_plan_made_on_an_empty_table_uses_indexes_as_it_grows() {
        let database = testkit::database::TestDatabase::new();
        let store = Store::connect(&database.url()).await.unwrap().writer_pool().unwrap();
        let client = store.client().await.unwrap();
        let (user, room) =
            ("00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b");
        let setup = [
            format!(
                "INSERT INTO users (id, username, password_hash) VALUES ('{user}', 'u', 'x');
                 INSERT INTO chatrooms (id, name, created_by) VALUES ('{room}', 'r', '{user}')"
            ),
            "VACUUM ANALYZE messages".to_owned(),
            format!("PREPARE batch AS {INSERT_BATCH}"),
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
