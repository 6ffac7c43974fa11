//! The narrow interface through which a validated `/stock=` command leaves the
//! chat server. [`crate::broker`] implements it over RabbitMQ.

use futures_util::future::BoxFuture;
use protocol::broker::StockCommand;

/// The command could not be handed over; the sender is told to retry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StockDeskError {
    /// Nothing was sent: the broker is out of reach.
    #[error("stock command not sent: {0}")]
    NotSent(String),
    /// Sent, but the broker's confirm never came (it went away meanwhile):
    /// the command may or may not be answered.
    #[error("stock command unconfirmed: {0}")]
    Unconfirmed(String),
}

/// Where stock commands go.
pub(crate) trait StockDesk: Send + Sync + 'static {
    /// Hands `command` over; `Ok` once the broker has taken responsibility for it.
    fn submit(&self, command: StockCommand) -> BoxFuture<'_, Result<(), StockDeskError>>;

    /// Whether commands can be handed over right now (for `/health/ready`).
    fn is_connected(&self) -> bool;
}
