//! One stock command: decode → look up → publish the reply (confirmed) → ack.
//!
//! The command is acked only once its reply is confirmed by the broker, so a
//! bot that dies at any step leaves the command to be redelivered.

use std::sync::Arc;
use std::time::Duration;

use protocol::broker::{RESPONSES_EXCHANGE, StockCommand, StockReply};
use service::amqp::lapin::Channel;
use service::amqp::lapin::message::Delivery;
use service::amqp::lapin::options::{BasicAckOptions, BasicNackOptions};
use service::amqp::{Unroutable, publish_json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metrics::Outcome;
use crate::quotes::QuoteSource;
use crate::reply;

/// A reply is published within this long of receiving its command.
pub const ANSWER_BUDGET: Duration = Duration::from_secs(5);
/// The part of the budget kept for publishing the reply after the lookup.
const PUBLISH_RESERVE: Duration = Duration::from_millis(500);

/// What every command of one broker session needs.
#[derive(Debug)]
pub(crate) struct Handler {
    /// Where quotes come from; shared across sessions (one pool, one breaker).
    pub(crate) quotes: Arc<dyn QuoteSource>,
    /// The session's channel in confirm mode, for replies.
    pub(crate) publisher: Channel,
    /// Cancelled when a reply cannot be published: the session is rebuilt.
    pub(crate) broken: CancellationToken,
}

impl Handler {
    /// Handles one delivery from `stock.commands` to its ack (or nack).
    pub(crate) async fn handle(self: Arc<Self>, delivery: Delivery) {
        let received = Instant::now();
        let command = match serde_json::from_slice::<StockCommand>(&delivery.data) {
            Ok(command) => command,
            Err(error) => {
                tracing::warn!(%error, bytes = delivery.data.len(), "dropping a malformed command");
                ack(&delivery).await;
                crate::metrics::command_dropped();
                return;
            }
        };
        let span = tracing::info_span!(
            "command",
            command_id = %command.command_id,
            code = %command.code,
            redelivered = delivery.redelivered,
        );
        self.reply(command, delivery, received).instrument(span).await;
    }

    async fn reply(&self, command: StockCommand, delivery: Delivery, received: Instant) {
        let (content, outcome) = if protocol::stock_code::is_valid(&command.code) {
            let deadline = received + ANSWER_BUDGET - PUBLISH_RESERVE;
            let answer = self.quotes.lookup(&command.code, deadline).await;
            tracing::debug!(?answer, "looked up");
            (reply::text(&command.code, &answer), Outcome::of(&answer))
        } else {
            tracing::info!("invalid stock code");
            (reply::invalid_code(&command.code), Outcome::Invalid)
        };
        let reply = StockReply {
            command_id: command.command_id,
            chatroom_id: command.chatroom_id,
            content,
        };
        match publish_json(&self.publisher, RESPONSES_EXCHANGE, "", &reply, Unroutable::Fail).await
        {
            Ok(()) => {
                crate::metrics::command_answered(outcome, received.elapsed());
                ack(&delivery).await;
                tracing::info!(elapsed_ms = received.elapsed().as_millis(), "replied");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot publish the reply; the command goes back to the queue");
                let requeue = BasicNackOptions { requeue: true, ..Default::default() };
                if let Err(error) = delivery.acker.nack(requeue).await {
                    tracing::debug!(%error, "nack failed; the broker requeues on disconnect");
                }
                self.broken.cancel();
            }
        }
    }
}

/// Acks, logging a failure: the broker then redelivers, and the chat server
/// stores the duplicate reply at most once.
async fn ack(delivery: &Delivery) {
    if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
        tracing::warn!(%error, "ack failed; the command will be redelivered");
    }
}
