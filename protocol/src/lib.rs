//! Types that cross a process boundary, defined once for every crate.
//!
//! # Layout
//!
//! - [`frames`]: WebSocket frames between the browser (or the load tester) and `chat`.
//! - [`message`]: a stored chat message, as REST and WebSocket show it.
//! - [`room`]: a chat room, as REST lists it and notifications announce it.
//! - [`sealed`]: an encrypted room's message, as its clients seal it.
//! - [`broker`]: RabbitMQ names and the stock command/reply bodies shared by `chat` and `bot`.
//! - [`stock_code`]: what a valid `/stock=CODE` looks like, checked on both sides.
//! - [`text`]: what text any field accepts (no U+0000; names without
//!   invisible or reordering characters).

pub mod broker;
pub mod frames;
pub mod message;
pub mod room;
pub mod sealed;
pub mod stock_code;
pub mod text;

pub use frames::{ClientFrame, ClientFrameError, ErrorCode, NotificationFrame, ServerFrame};
pub use message::{Attachment, Message, MessageDeletion, MessageEdit, Reaction, ReplyTo};
pub use room::{Chatroom, RoomKind};
pub use sealed::Sealed;
