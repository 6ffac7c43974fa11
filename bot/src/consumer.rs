//! One broker session: consume `stock.commands` with a prefetch bound, handle
//! each command in its own task, and on shutdown stop consuming and let the
//! commands in flight finish (bounded in time; the rest go back to the queue).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::broker::COMMANDS_QUEUE;
use service::amqp::SessionEnd;
use service::amqp::lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use service::amqp::lapin::types::FieldTable;
use service::amqp::lapin::{self, Connection};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::handler::{ANSWER_BUDGET, Handler};
use crate::quotes::QuoteSource;

/// Commands delivered to this bot and not yet acked. It bounds the tasks in
/// flight: the broker sends no more until one is acked.
pub const PREFETCH: u16 = 32;
/// How long a shutdown waits for commands in flight: one answer budget and
/// a margin to publish. Commands still running then are requeued.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(7);

/// Consumes commands on `connection` until shutdown (in-flight work then
/// done or requeued: [`SessionEnd::Stopped`]) or until the connection,
/// channel or consumer fails ([`SessionEnd::Lost`]).
pub(crate) async fn serve(
    connection: &Connection,
    quotes: &Arc<dyn QuoteSource>,
    shutdown: &CancellationToken,
) -> Result<SessionEnd, lapin::Error> {
    let handler = Arc::new(Handler {
        quotes: Arc::clone(quotes),
        publisher: service::amqp::confirm_channel(connection).await?,
        broken: CancellationToken::new(),
    });
    let channel = connection.create_channel().await?;
    channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            COMMANDS_QUEUE.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = COMMANDS_QUEUE, prefetch = PREFETCH, "consuming stock commands");

    let mut in_flight = JoinSet::new();
    let end = loop {
        tokio::select! {
            () = shutdown.cancelled() => break SessionEnd::Stopped,
            () = handler.broken.cancelled() => break SessionEnd::Lost,
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    in_flight.spawn(Arc::clone(&handler).handle(delivery));
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "lost the broker");
                    break SessionEnd::Lost;
                }
                None => {
                    tracing::warn!("the broker cancelled the consumer");
                    break SessionEnd::Lost;
                }
            },
            Some(joined) = in_flight.join_next() => log_panic(joined),
        }
    };

    if end == SessionEnd::Stopped {
        let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()).await;
        if let Err(error) = cancel {
            tracing::warn!(%error, "cannot cancel the consumer");
        }
        drain(&mut in_flight).await;
    }
    // Whatever is still unacked goes back to the queue when the connection closes.
    in_flight.abort_all();
    let _ = connection.close(200, "bot session over".into()).await;
    Ok(end)
}

/// Waits for the commands in flight, at most [`DRAIN_TIMEOUT`].
async fn drain(in_flight: &mut JoinSet<()>) {
    let waiting = in_flight.len();
    tracing::info!(waiting, "shutting down: finishing commands in flight");
    let finished = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(joined) = in_flight.join_next().await {
            log_panic(joined);
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!(left = in_flight.len(), "shutdown timed out; requeueing the rest");
    }
}

fn log_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "a command handler panicked; its command will be redelivered");
    }
}

// DRAIN_TIMEOUT must let a command that just arrived be answered.
const _: () = assert!(DRAIN_TIMEOUT.as_secs() > ANSWER_BUDGET.as_secs());
