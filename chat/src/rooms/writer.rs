//! The room writer: persist, then broadcast.
//!
//! Each writer task has a bounded queue and a connection of its own, and runs
//! on the same runtime as the sockets: a stored message then wakes its room's
//! connections from a worker thread, which queues them locally. It takes
//! every pending post (up to [`MAX_BATCH`]), stores them with one multi-row
//! insert (group commit), and only then encodes each stored message once and
//! hands it to its room. The insert gives each message its final time in the
//! room's order (one chain per room, even with other instances writing it:
//! see `store::append`) and the time of the message before it, which the
//! room needs to deliver in order.
//!
//! One writer by default: each insert is a transaction whose fixed cost is
//! PostgreSQL CPU, and one writer makes the biggest batches. When one
//! PostgreSQL backend cannot keep up (`room_writer_wait_seconds` grows),
//! `ROOM_WRITERS` starts more, each with its own connection and a fixed share
//! of the rooms, so a room's messages are still stored in the order posted
//! (see `docs/performance.md` for the figures of both).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use protocol::{Attachment, ErrorCode, Message, ReplyTo, Sealed, ServerFrame};
use time::{Duration, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::{Outgoing, Peer, RoomEvent, Rooms};
use crate::store::{
    Accepting, Appended, Change, Changed, NewChange, NewMessage, RoomHeads, STALE_EPOCH,
    SearchIndex, Store, StoreError, StoredRow,
};

/// Posts waiting; a full queue makes senders wait (backpressure on their socket).
const QUEUE: usize = 4096;
/// Most messages stored by one insert.
const MAX_BATCH: usize = 512;
/// While messages arrive faster than one per insert, a batch waits this long
/// after its first message was queued for more to join it: each insert is a
/// transaction whose fixed cost is PostgreSQL CPU, so fewer, bigger inserts
/// cost less per message (and leave the CPU they would take to the sockets).
/// A quiet room's message (the batch before it held one) is stored at once.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// A user's message from a socket; the stored copy is broadcast to the room,
/// which is the sender's acknowledgement.
pub(crate) struct Post {
    /// The room.
    pub(crate) chatroom_id: Uuid,
    /// The trimmed, validated text (empty when sealed).
    pub(crate) content: String,
    /// In an encrypted room, the text sealed; stored only while the room
    /// takes messages at its epoch.
    pub(crate) encrypted: Option<Box<Sealed>>,
    /// The encrypted uploads a sealed message shows.
    pub(crate) attachments: Vec<Attachment>,
    /// The sender's idempotency key.
    pub(crate) client_id: Option<String>,
    /// The users the text mentions, as their names are stored (and the
    /// author of the message it replies to).
    pub(crate) mentions: Vec<String>,
    /// The message of the room it answers.
    pub(crate) reply_to: Option<Box<ReplyTo>>,
    /// The sending connection: errors and duplicate acknowledgements go to it alone.
    pub(crate) sender: Arc<Peer>,
}

/// An edit or deletion of a message: it takes its place in the room's
/// order after what was posted before it.
pub(crate) struct ChangePost {
    /// The room.
    pub(crate) chatroom_id: Uuid,
    /// The message changed.
    pub(crate) target: Uuid,
    /// Who changes it.
    pub(crate) user_id: Uuid,
    /// Their name.
    pub(crate) username: String,
    /// What the change does.
    pub(crate) change: Change,
    /// Told the outcome once made (and published) or refused.
    pub(crate) done: oneshot::Sender<Result<Changed, StoreError>>,
}

/// A stock bot reply to store at most once per command.
pub(crate) struct BotPost {
    /// The room.
    pub(crate) chatroom_id: Uuid,
    /// The reply text.
    pub(crate) content: String,
    /// The command it answers.
    pub(crate) command_id: Uuid,
    /// Told the outcome once the insert has committed or failed.
    pub(crate) done: oneshot::Sender<Result<BotPostOutcome, StoreError>>,
}

/// A file's message: the file is stored; the message shows it once stored.
pub(crate) struct FilePost {
    /// The room.
    pub(crate) chatroom_id: Uuid,
    /// Who posts it.
    pub(crate) user_id: Uuid,
    /// Their name, shown on the message.
    pub(crate) username: String,
    /// The message's text; may be empty.
    pub(crate) caption: String,
    /// The sender's idempotency key.
    pub(crate) client_id: Option<String>,
    /// The users the caption mentions, as their names are stored.
    pub(crate) mentions: Vec<String>,
    /// The stored file.
    pub(crate) attachment: Attachment,
    /// Told the outcome once the insert has committed or failed.
    pub(crate) done: oneshot::Sender<Result<FilePosted, StoreError>>,
}

/// What became of a [`FilePost`].
#[derive(Debug)]
pub(crate) enum FilePosted {
    /// Stored (and broadcast) as this message.
    Stored(Box<Message>),
    /// A message with this `client_id` was stored before, or the room is gone.
    Skipped,
    /// PostgreSQL refused what the message holds.
    Refused,
}

/// What became of a [`BotPost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BotPostOutcome {
    /// Stored and broadcast.
    Stored,
    /// A reply to this command was stored before (or its room is gone): dropped.
    Duplicate,
    /// PostgreSQL refused what the reply holds: storing it again would fail again.
    Refused,
}

/// A message to store with the next batch.
enum Job {
    User(Post),
    File(FilePost),
    Bot(BotPost),
}

impl Job {
    fn chatroom_id(&self) -> Uuid {
        match self {
            Job::User(post) => post.chatroom_id,
            Job::File(post) => post.chatroom_id,
            Job::Bot(post) => post.chatroom_id,
        }
    }

    /// A user's sealed message, for an encrypted room.
    fn is_sealed(&self) -> bool {
        matches!(self, Job::User(post) if post.encrypted.is_some())
    }
}

/// What a writer is handed: messages are stored a batch at a time; a change
/// alone, in its place between them.
enum Work {
    Post(Job),
    Change(ChangePost),
}

/// A job and when it was handed to the writer.
struct Queued {
    work: Work,
    at: Instant,
}

/// The bot's fixed account (see `sql/0001_init.sql`).
pub(crate) const BOT_USER_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// A handle to the room writer: one queue per writer task, each room always
/// on the same one.
#[derive(Clone)]
pub(crate) struct RoomWriter {
    queues: Arc<[mpsc::Sender<Queued>]>,
}

impl RoomWriter {
    /// Starts `writers` writer tasks, each with a PostgreSQL connection of its
    /// own, tracked by `tasks`, and the search index they feed; they end when
    /// every handle is dropped, after storing (and indexing) what is queued.
    pub(crate) fn start(
        store: &Store,
        rooms: Arc<Rooms>,
        writers: NonZeroUsize,
        tasks: &TaskTracker,
    ) -> Result<Self, StoreError> {
        let index = SearchIndex::start(store, tasks)?;
        let queues = (0..writers.get())
            .map(|_| {
                let (queue, jobs) = mpsc::channel(QUEUE);
                let task = WriterTask::new(
                    store.writer_pool("chat-writer")?,
                    Arc::clone(&rooms),
                    index.clone(),
                );
                tasks.spawn(task.run(jobs));
                Ok(queue)
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self { queues })
    }

    /// Queues a user's message, waiting while the queue is full. False when the
    /// writer has stopped (shutdown).
    pub(crate) async fn post(&self, post: Post) -> bool {
        let queue = self.queue_of(post.chatroom_id);
        queue.send(Queued { work: Work::Post(Job::User(post)), at: Instant::now() }).await.is_ok()
    }

    /// Queues a file's message, waiting while the queue is full. False when
    /// stopped.
    pub(crate) async fn post_file(&self, post: FilePost) -> bool {
        let queue = self.queue_of(post.chatroom_id);
        queue.send(Queued { work: Work::Post(Job::File(post)), at: Instant::now() }).await.is_ok()
    }

    /// Queues a bot reply, waiting while the queue is full. False when stopped.
    pub(crate) async fn post_bot(&self, post: BotPost) -> bool {
        let queue = self.queue_of(post.chatroom_id);
        queue.send(Queued { work: Work::Post(Job::Bot(post)), at: Instant::now() }).await.is_ok()
    }

    /// Queues an edit or deletion, waiting while the queue is full. False
    /// when stopped.
    pub(crate) async fn change(&self, change: ChangePost) -> bool {
        let queue = self.queue_of(change.chatroom_id);
        queue.send(Queued { work: Work::Change(change), at: Instant::now() }).await.is_ok()
    }

    /// The queue of the writer that stores `room`'s messages, so they are
    /// stored in the order they were posted.
    fn queue_of(&self, room: Uuid) -> &mpsc::Sender<Queued> {
        let writer = room.as_u64_pair().1 % self.queues.len() as u64;
        &self.queues[writer as usize]
    }
}

struct WriterTask {
    store: Store,
    rooms: Arc<Rooms>,
    /// Told of every message stored, to index its words.
    index: SearchIndex,
    /// The last time handed out: times only increase.
    last_time: OffsetDateTime,
    /// The newest stored time of each room this task has written.
    heads: RoomHeads,
}

impl WriterTask {
    fn new(store: Store, rooms: Arc<Rooms>, index: SearchIndex) -> Self {
        Self {
            store,
            rooms,
            index,
            last_time: OffsetDateTime::UNIX_EPOCH,
            heads: RoomHeads::default(),
        }
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Queued>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        let mut busy = false;
        while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            if busy {
                gather(&mut queue, &mut jobs).await;
            }
            busy = jobs.len() > 1;
            let waited = metrics::histogram!(crate::metrics::WRITER_WAIT);
            let taken = Instant::now();
            for job in &jobs {
                waited.record(taken.duration_since(job.at).as_secs_f64());
            }
            while !jobs.is_empty() {
                let posts = jobs.iter().take_while(|q| matches!(q.work, Work::Post(_))).count();
                if posts == 0 {
                    if let Some(Queued { work: Work::Change(change), .. }) = jobs.drain(..1).next()
                    {
                        self.change(change).await;
                    }
                } else {
                    let batch: Vec<Job> = jobs
                        .drain(..posts)
                        .filter_map(|queued| match queued.work {
                            Work::Post(job) => Some(job),
                            Work::Change(_) => None,
                        })
                        .collect();
                    self.store_batch(batch).await;
                }
            }
        }
    }

    /// Stores posts with one insert, then publishes each stored one and
    /// answers the others.
    async fn store_batch(&mut self, mut jobs: Vec<Job>) {
        if jobs.iter().any(Job::is_sealed) {
            jobs = self.without_stale(jobs).await;
            if jobs.is_empty() {
                return;
            }
        }
        let batch: Vec<NewMessage> = jobs.iter_mut().map(|job| self.stamp(job)).collect();
        metrics::histogram!(crate::metrics::WRITER_BATCH).record(batch.len() as f64);
        let started = Instant::now();
        let outcomes = self.store.append(&batch, &mut self.heads).await;
        metrics::histogram!(crate::metrics::WRITER_INSERT).record(started.elapsed().as_secs_f64());
        if let Some(Appended::Failed(error)) =
            outcomes.iter().find(|outcome| matches!(outcome, Appended::Failed(_)))
        {
            tracing::error!(%error, count = jobs.len(), "storing messages failed");
        }
        for ((job, new), outcome) in jobs.drain(..).zip(batch).zip(outcomes) {
            match outcome {
                Appended::Stored(row) => self.finish(job, new.message, Some(row)).await,
                Appended::Skipped => self.finish(job, new.message, None).await,
                Appended::Refused => refuse(job),
                Appended::Failed(error) => fail(job, &error),
            }
        }
    }

    /// The jobs whose sealed messages their room takes at its epoch now;
    /// the others' senders are told to read the room's keys again.
    async fn without_stale(&self, jobs: Vec<Job>) -> Vec<Job> {
        let rooms: Vec<Uuid> =
            jobs.iter().filter(|job| job.is_sealed()).map(Job::chatroom_id).collect();
        let accepting = match self.store.accepting(&rooms).await {
            Ok(accepting) => accepting,
            Err(error) => {
                let error = Arc::new(error);
                let (sealed, plain): (Vec<Job>, Vec<Job>) =
                    jobs.into_iter().partition(Job::is_sealed);
                sealed.into_iter().for_each(|job| fail(job, &error));
                return plain;
            }
        };
        jobs.into_iter()
            .filter_map(|job| {
                let Job::User(post) = &job else { return Some(job) };
                let Some(sealed) = &post.encrypted else { return Some(job) };
                let room = accepting.get(&post.chatroom_id);
                if room == Some(&Accepting::Epoch(sealed.epoch)) {
                    return Some(job);
                }
                let outcome = Ok(BotPostOutcome::Refused);
                tell_unstored(job, ErrorCode::StaleEpoch, STALE_EPOCH, outcome);
                None
            })
            .collect()
    }

    /// Makes an edit or deletion, after everything posted to its room before it.
    async fn change(&mut self, post: ChangePost) {
        let change = NewChange {
            id: Uuid::now_v7(),
            chatroom_id: post.chatroom_id,
            target: post.target,
            user_id: post.user_id,
            username: post.username,
            change: post.change,
            stamp: self.next_time(),
        };
        let outcome = self.store.change_message(&change).await;
        if let Ok(Changed::Logged { entry, previous }) = &outcome {
            self.heads.advance(post.chatroom_id, entry.at());
            self.rooms.publish(RoomEvent::Changed { entry: entry.clone(), previous: *previous });
        }
        let _ = post.done.send(outcome);
    }

    /// A time later than any handed out before.
    fn next_time(&mut self) -> OffsetDateTime {
        let now = truncate_to_micros(OffsetDateTime::now_utc());
        self.last_time = now.max(self.last_time + Duration::microseconds(1));
        self.last_time
    }

    /// Gives a job its id and provisional time (increasing; the insert may
    /// move it later); the text moves into the message (the job
    /// keeps what errors and duplicates need).
    fn stamp(&mut self, job: &mut Job) -> NewMessage {
        let created_at = self.next_time();
        let mut attachments = Vec::new();
        let mut reply_to = None;
        let mut encrypted = None;
        let (chatroom_id, user_id, username, content, client_id, command_id, mentions) = match job {
            Job::User(p) => {
                reply_to = p.reply_to.take();
                encrypted = p.encrypted.take();
                attachments = std::mem::take(&mut p.attachments);
                (
                    p.chatroom_id,
                    p.sender.user_id,
                    p.sender.username.to_string(),
                    std::mem::take(&mut p.content),
                    p.client_id.clone(),
                    None,
                    std::mem::take(&mut p.mentions),
                )
            }
            Job::File(p) => {
                attachments.push(p.attachment.clone());
                (
                    p.chatroom_id,
                    p.user_id,
                    p.username.clone(),
                    std::mem::take(&mut p.caption),
                    p.client_id.clone(),
                    None,
                    std::mem::take(&mut p.mentions),
                )
            }
            Job::Bot(p) => (
                p.chatroom_id,
                BOT_USER_ID,
                protocol::message::BOT_USERNAME.to_owned(),
                std::mem::take(&mut p.content),
                None,
                Some(p.command_id),
                Vec::new(),
            ),
        };
        NewMessage {
            message: Message {
                id: Uuid::now_v7(),
                chatroom_id,
                user_id,
                username,
                content,
                is_bot: command_id.is_some(),
                created_at,
                client_id,
                attachments,
                reactions: Vec::new(),
                mentions,
                edited_at: None,
                deleted: false,
                reply_to,
                encrypted,
            },
            command_id,
        }
    }

    /// Hands a stored message to its room, or answers a duplicate.
    async fn finish(&self, job: Job, mut message: Message, row: Option<StoredRow>) {
        let stored = row.is_some();
        if let Some(row) = row {
            metrics::counter!(crate::metrics::MESSAGES_SENT).increment(1);
            message.created_at = row.created_at;
            if !message.content.is_empty() {
                self.index.add(message.id, message.chatroom_id, message.content.clone());
            }
            if !message.attachments.is_empty() && matches!(job, Job::User(_)) {
                self.link_sealed_uploads(&message).await;
            }
            if let Job::File(post) = job {
                let _ = post.done.send(Ok(FilePosted::Stored(Box::new(message.clone()))));
                self.rooms.publish(RoomEvent::Stored { message, previous: row.previous });
                return;
            }
            self.rooms.publish(RoomEvent::Stored { message, previous: row.previous });
        }
        match job {
            Job::Bot(post) => {
                let outcome =
                    if stored { BotPostOutcome::Stored } else { BotPostOutcome::Duplicate };
                let _ = post.done.send(Ok(outcome));
            }
            Job::File(post) => {
                let _ = post.done.send(Ok(FilePosted::Skipped));
            }
            Job::User(post) if !stored => self.acknowledge_duplicate(post).await,
            Job::User(_) => {}
        }
    }

    /// Marks the encrypted uploads a stored message shows as shown, so no
    /// other message takes them and the sweep keeps them (it also links
    /// them, should this fail).
    async fn link_sealed_uploads(&self, message: &Message) {
        for file in &message.attachments {
            if let Err(error) = self.store.link_file(file.id, message.id).await {
                tracing::warn!(%error, file_id = %file.id, "file not linked; the sweep links it");
            }
        }
    }

    /// A resend of a stored `client_id`: the sender alone gets the stored copy again.
    async fn acknowledge_duplicate(&self, post: Post) {
        let Some(client_id) = post.client_id.as_deref() else { return };
        let found =
            self.store.message_by_client_id(post.chatroom_id, post.sender.user_id, client_id).await;
        match found {
            Ok(Some(message)) => {
                post.sender.deliver(&Outgoing::notice(ServerFrame::ChatMessage(message)));
            }
            Ok(None) => {
                // Skipped by the insert but not stored under its client_id:
                // the sender must not take silence for an acknowledgement.
                tracing::error!(client_id, "message neither stored nor a duplicate");
                fail(Job::User(post), &Arc::new(StoreError::Unavailable("not stored".into())));
            }
            Err(error) => {
                tracing::error!(%error, "looking up a duplicate message failed");
                fail(Job::User(post), &Arc::new(error));
            }
        }
    }
}

/// Adds to `jobs` what arrives until [`LINGER`] after the first was queued
/// (or the batch is full).
async fn gather(queue: &mut mpsc::Receiver<Queued>, jobs: &mut Vec<Queued>) {
    let Some(first) = jobs.first() else { return };
    let until = tokio::time::Instant::from_std(first.at + LINGER);
    while jobs.len() < MAX_BATCH {
        let more = queue.recv_many(jobs, MAX_BATCH - jobs.len());
        if !matches!(tokio::time::timeout_at(until, more).await, Ok(n) if n > 0) {
            return;
        }
    }
}

/// Tells a job's origin that PostgreSQL refused what it holds: a retry would
/// be refused again.
fn refuse(job: Job) {
    let message = "the message holds text that cannot be stored";
    tell_unstored(job, ErrorCode::InvalidFrame, message, Ok(BotPostOutcome::Refused));
}

/// Tells a job's origin that nothing was stored.
fn fail(job: Job, error: &Arc<StoreError>) {
    let unavailable = Err(StoreError::Unavailable(error.to_string()));
    tell_unstored(
        job,
        ErrorCode::Unavailable,
        "the message could not be stored; please retry",
        unavailable,
    );
}

/// A user's message: an error frame to its sender alone; a bot reply: `bot`;
/// a file's message: `bot`'s refusal or failure.
fn tell_unstored(
    job: Job,
    code: ErrorCode,
    message: &str,
    bot: Result<BotPostOutcome, StoreError>,
) {
    match job {
        Job::User(post) => {
            let frame =
                ServerFrame::Error { message: message.into(), code, client_id: post.client_id };
            post.sender.deliver(&Outgoing::notice(frame));
        }
        Job::Bot(post) => {
            let _ = post.done.send(bot);
        }
        Job::File(post) => {
            let _ = post.done.send(bot.map(|_| FilePosted::Refused));
        }
    }
}

fn truncate_to_micros(time: OffsetDateTime) -> OffsetDateTime {
    let micros = time.microsecond();
    time.replace_microsecond(micros).unwrap_or(time)
}
