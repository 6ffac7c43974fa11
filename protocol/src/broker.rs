//! RabbitMQ names and message bodies shared by `chat` and `bot`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Topic exchange the chat servers publish stock commands to.
pub const COMMANDS_EXCHANGE: &str = "chat.commands";
/// Routing key of a stock command.
pub const STOCK_ROUTING_KEY: &str = "stock";
/// Durable queue the bots consume, competing.
pub const COMMANDS_QUEUE: &str = "stock.commands";
/// Fanout exchange the bots publish replies to.
pub const RESPONSES_EXCHANGE: &str = "chat.responses";
/// Durable queue the chat servers consume replies from, competing.
pub const RESPONSES_QUEUE: &str = "stock.responses";
/// Fanout exchange carrying every stored message to the other chat instances.
pub const EVENTS_EXCHANGE: &str = "chat.events";

/// `/stock=CODE` asked in a room; published by `chat`, consumed by `bot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCommand {
    /// Identifies the command; its reply carries the same id.
    pub command_id: Uuid,
    /// The room the reply goes to.
    pub chatroom_id: Uuid,
    /// Who asked.
    pub user_id: Uuid,
    /// The stock code as typed (already validated).
    pub code: String,
}

/// The bot's answer to a [`StockCommand`]; stored once per `command_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReply {
    /// The id of the command this answers.
    pub command_id: Uuid,
    /// The room the reply goes to.
    pub chatroom_id: Uuid,
    /// The text shown in the room, e.g. `AAPL.US quote is $93.42 per share`.
    pub content: String,
}
