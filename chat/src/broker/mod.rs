//! RabbitMQ: stock commands out (confirmed), stock replies in (stored once),
//! and the events shared with the other chat instances (see `cluster`).
//!
//! One supervisor task keeps a connection (`service::amqp::supervise`, as
//! the bot does): on each connection it opens a confirm-mode channel for
//! commands and a channel for events, and consumes `stock.responses` and
//! this instance's event queue. When the connection drops it starts again,
//! so a broker restart costs only the commands sent while it was down (their
//! senders get `UNAVAILABLE`), and replies wait in their durable queue.

mod replies;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use protocol::broker::{COMMANDS_EXCHANGE, STOCK_ROUTING_KEY, StockCommand};
use service::amqp::lapin::{Channel, Connection};
use service::amqp::{self, SessionEnd, Unroutable};
use tokio_util::sync::CancellationToken;

use crate::cluster::{self, PublishChannel, Receivers};
use crate::rooms::RoomWriter;
use crate::stock::{StockDesk, StockDeskError};

/// How long a sender waits for the broker to confirm a command.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(3);

/// What the connection serves besides stock commands.
pub(crate) struct BrokerLink {
    /// Where stock replies are stored.
    pub(crate) writer: RoomWriter,
    /// What the other instances' events act on.
    pub(crate) receivers: Receivers,
    /// The channel this instance's events are published on.
    pub(crate) events: PublishChannel,
}

/// The chat server's side of RabbitMQ.
#[derive(Clone, Default)]
pub(crate) struct Broker {
    /// The confirm-mode channel commands are published on, while connected.
    commands: Arc<Mutex<Option<Channel>>>,
}

impl Broker {
    /// Starts the supervisor; it runs until `shutdown` is cancelled.
    pub(crate) fn start(
        url: String,
        link: BrokerLink,
        shutdown: CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) -> Self {
        let broker = Self::default();
        let supervisor = broker.clone();
        let link = Arc::new(link);
        tasks.spawn(async move {
            let supervised = amqp::supervise(&url, "chat", &shutdown, |connection| {
                let (broker, link) = (supervisor.clone(), Arc::clone(&link));
                Box::pin(async move {
                    let ended = broker.serve(connection, &link).await;
                    broker.set_channel(None);
                    link.events.set(None);
                    ended.map(|()| SessionEnd::Lost)
                })
            });
            tokio::select! {
                ended = supervised => {
                    if let Err(error) = ended {
                        tracing::error!(%error, "RABBITMQ_URL is not a valid AMQP URL");
                    }
                }
                () = shutdown.cancelled() => {}
            }
            supervisor.set_channel(None);
            link.events.set(None);
        });
        broker
    }

    /// Publishes on fresh channels and consumes replies and events until the
    /// connection fails.
    async fn serve(
        &self,
        connection: &Connection,
        link: &BrokerLink,
    ) -> Result<(), amqp::lapin::Error> {
        self.set_channel(Some(amqp::confirm_channel(connection).await?));
        link.events.set(Some(connection.create_channel().await?));
        tokio::select! {
            consumed = replies::consume(connection, &link.writer) => consumed,
            consumed = cluster::consume(connection, &link.receivers) => consumed,
        }
    }

    fn set_channel(&self, channel: Option<Channel>) {
        *self.commands.lock().unwrap_or_else(PoisonError::into_inner) = channel;
    }

    fn channel(&self) -> Option<Channel> {
        let guard = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().filter(|c| c.status().connected()).cloned()
    }
}

impl StockDesk for Broker {
    fn submit(&self, command: StockCommand) -> BoxFuture<'_, Result<(), StockDeskError>> {
        Box::pin(async move {
            let channel = self
                .channel()
                .ok_or_else(|| StockDeskError::NotSent("not connected to RabbitMQ".into()))?;
            let publish = amqp::publish_json(
                &channel,
                COMMANDS_EXCHANGE,
                STOCK_ROUTING_KEY,
                &command,
                Unroutable::Fail,
            );
            match tokio::time::timeout(CONFIRM_TIMEOUT, publish).await {
                Ok(Ok(())) => {
                    tracing::info!(command_id = %command.command_id, code = command.code, "stock command sent");
                    Ok(())
                }
                Ok(Err(error)) => Err(StockDeskError::Unconfirmed(error.to_string())),
                Err(_) => {
                    Err(StockDeskError::Unconfirmed("RabbitMQ did not confirm in time".into()))
                }
            }
        })
    }

    fn is_connected(&self) -> bool {
        self.channel().is_some()
    }
}
