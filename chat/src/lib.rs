//! The chat server: accounts, rooms, durable history and live WebSocket chat,
//! with stock quotes answered by the separate `bot` over RabbitMQ.
//!
//! A message travels: socket read → validate → room writer (group commit to
//! PostgreSQL, which assigns the room's order) → encode once → fan out to the
//! room's sockets, and over RabbitMQ to the other instances' sockets. The
//! sender's copy of the broadcast is its acknowledgement, so whatever a client
//! saw is stored.
//!
//! # Layout
//!
//! Dependencies run one way, from the edges down:
//!
//! - `server`: wires the parts together, handing each only what it needs;
//!   the accept loop, background tasks and the shutdown sequence ([`run`]).
//! - `http` (REST) and `ws` (WebSocket) at the edge: `http`'s `Api` and
//!   `ws`'s `Gateway` hold what their handlers use; `ws` owns the wire
//!   format of frames and has one file per client command.
//! - `actions`: one method per thing a user does in a room (post or reply,
//!   ask for a quote, react, edit, delete, upload, join, mark read),
//!   whichever edge it arrives by:
//!   validate, persist through the room writer or the store, publish.
//! - `access`: what both edges check of a request (session cookie, origin,
//!   membership) and what the accept loop attaches to it.
//! - `broker` (RabbitMQ: stock commands out, replies in) and `cluster` (the
//!   events of several instances), plugged into the hub through the
//!   interfaces it defines (`stock::StockDesk`, `rooms::Neighbours`).
//! - `rooms`: the hub: live rooms, delivery order, presence, the writer that
//!   persists then broadcasts, gap fills, the sockets of each session.
//! - `store`: PostgreSQL: pool, migrations, queries; `append` is the room
//!   writer's insert, one chain of messages per room; `log` reads a room's
//!   entries (messages, edits, deletions) in that chain, `changes` makes
//!   edits and deletions; `search` indexes words off the insert path and
//!   answers searches.
//! - `auth`: Argon2id passwords, session tokens, input rules, the session cache.
//! - [`config`]: the flags and environment variables (clap), validated before anything starts;
//!   `limits`: rate limits (governor); `metrics`: Prometheus at `/metrics`;
//!   `error`: [`ApiError`], every REST refusal, and `response` its body.
//! - `bench`: the room's delivery path for `benches/`, and `fuzzing`: the
//!   request parsers for `fuzz/` (neither part of the API).

mod access;
mod actions;
mod auth;
#[doc(hidden)]
pub mod bench;
mod broker;
mod cluster;
pub mod config;
mod error;
#[doc(hidden)]
pub mod fuzzing {
    //! The request parsers the fuzz targets in `fuzz/` drive.
    pub use crate::http::range::{Range, parse_range};
}
mod http;
mod limits;
mod metrics;
mod response;
mod rooms;
mod server;
mod stock;
mod store;
mod ws;

pub use config::RateLimit;
pub use config::{Config, Configuration};
pub use error::ApiError;
pub use server::{StartError, run};
pub use store::StoreError;
