//! The narrow interface through which a validated `/stock=` command leaves the
//! chat server. [`crate::broker`] implements it over RabbitMQ.

use futures_util::future::BoxFuture;
use protocol::broker::StockCommand;

/// The command could not be handed over; the sender is told to retry.
#[derive(Debug, thiserror::Error)]
#[error("stock commands cannot be sent: {0}")]
pub(crate) struct StockDeskError(pub(crate) String);

/// Where stock commands go.
pub(crate) trait StockDesk: Send + Sync + 'static {
    /// Hands `command` over; `Ok` once the broker has taken responsibility for it.
    fn submit(&self, command: StockCommand) -> BoxFuture<'_, Result<(), StockDeskError>>;

    /// Whether commands can be handed over right now (for `/health/ready`).
    fn is_connected(&self) -> bool;
}
