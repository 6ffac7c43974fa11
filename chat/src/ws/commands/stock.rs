//! `/stock=CODE`: handed to the stock desk (RabbitMQ), never stored; the
//! bot's reply comes back as a message to the room.

use protocol::ErrorCode;
use protocol::broker::StockCommand;
use uuid::Uuid;

use super::Context;
use crate::stock::StockDeskError;

/// Sends the command and waits for the broker to take it; the sender hears
/// only of a failure.
pub(super) async fn apply(context: &Context, code: String, client_id: Option<String>) {
    if let Err(wait) = context.commands.stock_limit.check(&context.peer.user_id) {
        return context.rate_limited("stock", wait, client_id);
    }
    let command = StockCommand {
        command_id: Uuid::now_v7(),
        chatroom_id: context.room_id,
        user_id: context.peer.user_id,
        code,
    };
    let Err(error) = context.commands.stock.submit(command).await else {
        metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "sent").increment(1);
        return;
    };
    metrics::counter!(crate::metrics::STOCK_REQUESTS, "outcome" => "unavailable").increment(1);
    context.span().in_scope(|| tracing::warn!(%error, "stock command refused"));
    let message = match error {
        StockDeskError::NotSent(_) => "the stock bot cannot be reached right now; please retry",
        StockDeskError::Unconfirmed(_) => {
            "the stock bot could not confirm your request; it may still be answered"
        }
    };
    context.refuse(ErrorCode::Unavailable, message.into(), client_id);
}
