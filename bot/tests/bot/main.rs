//! Integration tests of the bot against the machine's real RabbitMQ (a vhost
//! per test, so they run in parallel) and a fake Stooq: a command goes in
//! through `chat.commands`, its reply comes out of `stock.responses`.
//!
//! - `support`: the harness (vhost, fake Stooq, broker client, bot in-process or as a process).
//! - `replies`: one reply per kind of Stooq answer, and bad commands.
//! - `faults`: a hanging or failing Stooq: budget, retries, circuit breaker.
//! - `lifecycle`: graceful shutdown, SIGKILL and redelivery, lost broker, the binary's CLI.
//! - `metrics`: `GET /metrics` counts commands and Stooq requests; `GET /health`.

mod faults;
mod lifecycle;
mod metrics;
mod replies;
mod support;

/// True when `content` is the "quote service unavailable" reply for `code`.
fn is_unavailable_reply(content: &str, code: &str) -> bool {
    content.contains("quote service is unavailable") && content.contains(code)
}
