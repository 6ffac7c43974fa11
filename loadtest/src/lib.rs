//! The load tester: simulated WebSocket users against a running `chat`.
//!
//! ```text
//! setup (REST: sessions, rooms, joins) ─► connect every WebSocket (wait for `presence`)
//!   ─► open-loop schedule: message g is due at g/rate, sent by user g % users
//!   ─► each connection: send what is due, check every delivery by (room, sender, seq)
//!   ─► drain ─► table on stdout, JSON + SVG plot
//! ```
//!
//! Several instances of the chat (one database, one broker) can be driven at
//! once (`--url` and `--also-url`): the setup goes through the first, and
//! each room's members are dealt round robin over all of them, so deliveries
//! cross between instances. The server's RSS and CPU are then summed over
//! the `--server-pid`s.
//!
//! Latency is counted from a message's *intended* send time, so a server (or
//! a generator) that falls behind shows it in the tail instead of hiding it.
//! The baseline, a bare tokio-tungstenite fan-out speaking the same frames,
//! runs the identical workload as a child process for comparison.
//!
//! # Layout
//!
//! - `cli`: the command line ([`Cli`]).
//! - `commands`: `run`, `capacity` and `serve-baseline`.
//! - `targets`: argument checks, the REST setup and the baseline child, ready to connect to.
//! - `setup`: users, sessions (cached between runs), rooms and joins over REST.
//! - `runner`: one measured run: connect, offer on schedule, drain, add up.
//! - `client`: one simulated user's WebSocket: sending, receiving, checking.
//! - `stamp`: what each message carries (run, sender, sequence, intended time).
//! - `delivery`: lost / duplicated / reordered bookkeeping per (receiver, sender).
//! - [`stats`]: histograms, percentiles and the per-target [`stats::Report`].
//! - [`workload`]: who is in which room and who sends when.
//! - `probe`: the server's peak RSS and CPU time from `/proc`.
//! - `baseline`: the fan-out server and its child process.
//! - [`report`]: the table, the JSON, and (with `plot`) the SVG.

mod baseline;
pub mod cli;
mod client;
mod commands;
pub mod database;
mod delivery;
mod plot;
mod probe;
mod progress;
pub mod report;
mod runner;
mod setup;
mod stamp;
pub mod stats;
mod targets;
pub mod workload;

pub use cli::Cli;
use cli::Command;
pub use commands::ThresholdMissed;

/// Carries out the command line's subcommand.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => commands::run(args).await,
        Command::Capacity(args) => commands::capacity(args).await,
        Command::DbFloor(args) => commands::db_floor(args).await,
        Command::ServeBaseline(args) => commands::serve_baseline(args).await,
    }
}
