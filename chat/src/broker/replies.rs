//! Consumes `stock.responses`: each reply is stored (once per command) and
//! broadcast, then acked; a reply that could not be stored goes back to the queue.

use std::time::Duration;

use futures_util::StreamExt;
use protocol::broker::{RESPONSES_QUEUE, StockReply};
use service::amqp::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use service::amqp::lapin::types::FieldTable;
use service::amqp::lapin::{self, Connection, message::Delivery};
use tokio::sync::oneshot;

use crate::rooms::{BotPost, BotPostOutcome, RoomWriter};

/// Replies handled at once per chat instance.
const PREFETCH: u16 = 64;
/// Pause before a reply that could not be stored is handed back, so a database
/// outage does not spin.
const REQUEUE_DELAY: Duration = Duration::from_millis(500);

/// Consumes replies until the connection fails.
pub(super) async fn consume(
    connection: &Connection,
    writer: &RoomWriter,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let mut deliveries = channel
        .basic_consume(
            RESPONSES_QUEUE.into(),
            "chat".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        let writer = writer.clone();
        tokio::spawn(async move { handle(delivery, &writer).await });
    }
    Ok(())
}

async fn handle(delivery: Delivery, writer: &RoomWriter) {
    let reply: StockReply = match serde_json::from_slice(&delivery.data) {
        Ok(reply) => reply,
        Err(error) => {
            tracing::error!(%error, "dropping a malformed stock reply");
            let _ = delivery.ack(BasicAckOptions::default()).await;
            return;
        }
    };
    let (done, outcome) = oneshot::channel();
    let post = BotPost {
        chatroom_id: reply.chatroom_id,
        content: reply.content,
        command_id: reply.command_id,
        done,
    };
    let outcome = if writer.post_bot(post).await { outcome.await.ok() } else { None };
    let result = if let Some(Ok(outcome)) = outcome {
        match outcome {
            BotPostOutcome::Stored => {
                if let Some(age) = crate::metrics::age_of_v7(reply.command_id) {
                    metrics::histogram!(crate::metrics::STOCK_DURATION).record(age.as_secs_f64());
                }
                tracing::info!(command_id = %reply.command_id, "stock reply stored")
            }
            BotPostOutcome::Duplicate => {
                tracing::info!(command_id = %reply.command_id, "duplicate stock reply dropped")
            }
            BotPostOutcome::Refused => {
                tracing::error!(command_id = %reply.command_id, "stock reply refused by PostgreSQL; dropped")
            }
        }
        delivery.ack(BasicAckOptions::default()).await
    } else {
        tracing::warn!(command_id = %reply.command_id, "stock reply not stored; requeueing");
        tokio::time::sleep(REQUEUE_DELAY).await;
        delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await
    };
    if let Err(error) = result {
        tracing::warn!(%error, "acknowledging a stock reply failed; it will be redelivered");
    }
}
