//! Publishing and consuming `chat.events` on a RabbitMQ connection.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::broker::EVENTS_EXCHANGE;
use service::amqp::lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions,
};
use service::amqp::lapin::types::{AMQPValue, FieldTable};
use service::amqp::lapin::{self, BasicProperties, Connection};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Event, Outbox, PublishChannel};
use crate::auth::Sessions;
use crate::rooms::{Origin, Rooms, SessionSockets};
use crate::store::Store;

/// The broker deletes an instance's queue this long after its consumer is gone.
const QUEUE_EXPIRES_MS: i32 = 60_000;
/// Bytes of events an instance's queue holds before dropping the oldest body
/// (a stalled instance must not fill the broker's memory; rooms read what they
/// miss back). In bytes, since a body holds from 1 to 256 events.
const QUEUE_MAX_BYTES: i32 = 64 * 1024 * 1024;
/// How often an instance reports everyone it has online.
const PRESENCE_REPORT: Duration = Duration::from_secs(5);
/// An instance silent this long is taken for dead: its users go offline.
const PRESENCE_SILENCE: Duration = Duration::from_secs(16);

/// Most events published in one broker message.
const MAX_EVENTS_PER_BODY: usize = 256;

fn count(direction: &'static str, outcome: &'static str, events: usize) {
    metrics::counter!(crate::metrics::CLUSTER_EVENTS, "direction" => direction, "outcome" => outcome)
        .increment(events as u64);
}

/// Publishes queued events, in order, until every outbox is dropped. While the
/// broker is unreachable events are dropped: rooms recover messages from the
/// database and presence from the next report.
pub(super) async fn publish(
    mut events: mpsc::Receiver<Event>,
    channel: PublishChannel,
    instance: Uuid,
) {
    let properties = BasicProperties::default().with_content_type("application/json".into());
    let mut batch = Vec::with_capacity(MAX_EVENTS_PER_BODY);
    while events.recv_many(&mut batch, MAX_EVENTS_PER_BODY).await > 0 {
        let taken = batch.len();
        let Some(channel) = channel.get() else {
            batch.clear();
            count("out", "dropped", taken);
            continue;
        };
        let body = Event::encode_all(&batch, instance);
        batch.clear();
        let published = channel
            .basic_publish(
                EVENTS_EXCHANGE.into(),
                "".into(),
                BasicPublishOptions::default(),
                &body,
                properties.clone(),
            )
            .await;
        match published {
            Ok(_) => count("out", "published", taken),
            Err(error) => {
                tracing::debug!(%error, "publishing events failed");
                count("out", "dropped", taken);
            }
        }
    }
}

/// What the other instances' events act on.
pub(crate) struct Receivers {
    /// Where events for the other instances go (this instance's id is on it).
    pub(crate) outbox: Outbox,
    /// Messages, typing and presence.
    pub(crate) rooms: Arc<Rooms>,
    /// Sockets closed on a logout elsewhere.
    pub(crate) sockets: Arc<SessionSockets>,
    /// Sessions forgotten on a logout elsewhere.
    pub(crate) sessions: Arc<Sessions>,
    /// Unread figures read again after a read or a join elsewhere.
    pub(crate) store: Store,
}

/// Consumes the other instances' events until the connection fails: declares
/// this instance's queue, binds it to `chat.events`, says hello, then applies
/// each event in the order it arrives.
pub(crate) async fn consume(
    connection: &Connection,
    receivers: &Receivers,
) -> Result<(), lapin::Error> {
    let outbox = &receivers.outbox;
    let queue = format!("{EVENTS_EXCHANGE}.{}", outbox.instance);
    let channel = connection.create_channel().await?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-expires".into(), AMQPValue::LongInt(QUEUE_EXPIRES_MS));
    arguments.insert("x-max-length-bytes".into(), AMQPValue::LongInt(QUEUE_MAX_BYTES));
    // Durable: RabbitMQ 4 deprecates transient queues that are not exclusive.
    // Its messages are transient all the same, and `x-expires` removes it.
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(queue.as_str().into(), durable, arguments).await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            EVENTS_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let mut deliveries = channel
        .basic_consume(queue.as_str().into(), "chat-events".into(), no_ack, FieldTable::default())
        .await?;
    outbox.send(Event::Hello);
    while let Some(delivery) = deliveries.next().await {
        apply(&delivery?.data, receivers);
    }
    Ok(())
}

fn apply(body: &[u8], receivers: &Receivers) {
    let (from, events) = match Event::decode_all(body) {
        Ok(decoded) => decoded,
        Err(error) => {
            tracing::warn!(%error, "dropping a malformed body of events");
            count("in", "malformed", 1);
            return;
        }
    };
    if from == receivers.outbox.instance {
        return;
    }
    for event in events {
        match event {
            Ok(event) => {
                count("in", "applied", 1);
                apply_one(from, event, receivers);
            }
            Err(error) => {
                tracing::warn!(%error, "dropping a malformed event");
                count("in", "malformed", 1);
            }
        }
    }
}

fn apply_one(from: Uuid, event: Event, receivers: &Receivers) {
    let rooms = &receivers.rooms;
    match event {
        Event::Room(event) => rooms.apply(Origin::Instance(from), *event),
        Event::Online { rooms: report, more } => {
            rooms.remote_report(from, super::event::report(report, &more));
        }
        Event::Hello => {
            rooms.heard_from(from);
            receivers.outbox.send(Event::online(rooms.local_presence()));
        }
        Event::Logout { session } => {
            receivers.sessions.forget(&session);
            receivers.sockets.close_session(&session);
        }
        Event::Unread { user_id, username, chatroom_id } => {
            if rooms.watchers().is_watching(user_id) {
                let (rooms, store) = (Arc::clone(rooms), receivers.store.clone());
                tokio::spawn(async move {
                    rooms.watchers().refresh(&store, user_id, &username, chatroom_id).await;
                });
            }
        }
    }
}

/// Reports this instance's presence to the others every few seconds, and
/// forgets instances that stopped reporting; until `shutdown`.
pub(crate) async fn report_presence(
    rooms: Arc<Rooms>,
    outbox: Outbox,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(PRESENCE_REPORT);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        outbox.send(Event::online(rooms.local_presence()));
        rooms.expire_remote(PRESENCE_SILENCE);
    }
}
