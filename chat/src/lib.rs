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
//! - [`config`]: the environment variables, validated before anything starts.
//! - `server`: the accept loop, background tasks and the shutdown sequence ([`run`]).
//! - `http`: middleware, the router and the REST handlers.
//! - `ws`: the WebSocket handshake, one handler per connection, command parsing.
//! - `rooms`: live rooms and presence, and the writer that persists then broadcasts.
//! - `store`: PostgreSQL: pool, migrations, queries; `append` is the room
//!   writer's insert, one chain of messages per room.
//! - `auth`: Argon2id passwords, session tokens, input rules, the session cache.
//! - `stock` and `broker`: where `/stock=` commands go, and the RabbitMQ link
//!   that carries them out and brings the bot's replies back.
//! - `cluster`: the events that let several instances serve the same rooms.
//! - `limits`: rate limits (governor); `metrics`: Prometheus at `/metrics`.
//! - `bench`: the room's delivery path for `benches/` (not part of the API).
//! - `error`: [`ApiError`], every REST refusal, turned into a response in one place.

mod auth;
#[doc(hidden)]
pub mod bench;
mod broker;
mod cluster;
pub mod config;
mod error;
mod http;
mod limits;
mod metrics;
mod rooms;
mod server;
mod state;
mod stock;
mod store;
mod ws;

pub use config::Config;
pub use error::ApiError;
pub use limits::RateLimit;
pub use server::run;
pub use store::StoreError;
