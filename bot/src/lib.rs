//! The stock bot: consumes `/stock=CODE` commands from RabbitMQ, asks Stooq,
//! and publishes one reply per command, within 5 seconds even when Stooq hangs.
//!
//! ```text
//! stock.commands (prefetch 32) ─► handler: Stooq (timeout, retries, breaker)
//!   ─► csv-core classification ─► reply text ─► chat.responses (confirmed) ─► ack
//! ```
//!
//! # Layout
//!
//! - [`config`]: the flags and environment variables (clap), validated at start.
//! - [`consumer`]: one broker session: prefetch, a task per command, graceful drain.
//! - `handler`: one command, from delivery to ack after the confirmed reply.
//! - [`quotes`]: the seam between the consumer and wherever quotes come from.
//! - [`stooq`]: the quote source the binary uses, an HTTP client: pooled connections, timeouts, retries, circuit breaker.
//! - [`parse`]: a Stooq body classified with `csv-core`, without allocating per row.
//! - [`answer`]: what a lookup came to: quote, unknown symbol, or unavailable (and why).
//! - [`metrics`]: the Prometheus metrics, and the small HTTP server of
//!   `GET /metrics` and `GET /health` on `BOT_METRICS_ADDR`.
//! - [`reply`]: the reply texts of `API.md`.
//! - [`error`]: the library's error type.
//!
//! [`run_with_metrics`] ties them together and reconnects whenever the broker
//! goes away; [`run`] binds the metrics address itself.

pub mod answer;
pub mod config;
pub mod consumer;
pub mod error;
mod handler;
pub mod metrics;
pub mod parse;
pub mod quotes;
pub mod reply;
pub mod stooq;

use std::future::Future;
use std::sync::Arc;

use service::amqp;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::config::{Config, Configuration, LogFormat};
pub use crate::error::Error;
pub use crate::handler::ANSWER_BUDGET;
use crate::quotes::QuoteSource;
use crate::stooq::Stooq;

/// Runs the bot until `shutdown` completes, then stops consuming, lets the
/// commands in flight finish (or go back to the queue) and returns.
///
/// Serves the metrics on `config.metrics_addr`, when set. The address being
/// taken does not stop the bot (it is logged and the bot runs without the
/// endpoint): an embedding such as a test may run several bots in one
/// process. The `bot` binary binds it first and refuses to start instead,
/// through [`run_with_metrics`].
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let listener = match config.metrics_addr {
        Some(addr) => match TcpListener::bind(addr).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::error!(%addr, %error, "cannot serve metrics; running without them");
                None
            }
        },
        None => None,
    };
    run_with_metrics(config, listener, shutdown).await
}

/// Runs the bot as [`run`] does, serving `GET /metrics` and `GET /health` on
/// `metrics` (when given) until the commands in flight are done.
///
/// Survives broker restarts: whenever the connection is lost it reconnects
/// with backoff, re-declares the topology and consumes again.
pub async fn run_with_metrics(
    config: Config,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let stooq = Stooq::new(&config.stooq_api_url, config.stooq_api_key.as_deref())?;
    run_with_source(config, stooq, metrics, shutdown).await
}

/// Runs the bot as [`run_with_metrics`] does, asking `quotes` instead of the
/// Stooq that `config` names.
pub async fn run_with_source(
    config: Config,
    quotes: Arc<dyn QuoteSource>,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    if metrics.is_some() {
        // Installed before the first command, so that every command is counted.
        crate::metrics::handle();
    }
    let token = CancellationToken::new();
    let endpoint_stop = CancellationToken::new();
    let supervisor = async {
        let result = supervise(&config.rabbitmq_url, &quotes, &token).await;
        token.cancel();
        result
    };
    let watcher = async {
        tokio::select! {
            () = shutdown => {
                tracing::info!("shutdown requested");
                token.cancel();
            }
            () = token.cancelled() => {}
        }
    };
    let bot = async {
        let (result, ()) = tokio::join!(supervisor, watcher);
        // The endpoint outlives the drain, so the last commands are seen.
        endpoint_stop.cancel();
        result
    };
    let endpoint = async {
        if let Some(listener) = metrics {
            let exposition = crate::metrics::exposition();
            service::metrics_endpoint::serve(listener, exposition, endpoint_stop.clone()).await;
        }
    };
    let (result, ()) = tokio::join!(bot, endpoint);
    tracing::info!("bot stopped");
    result
}

/// Consumes commands on each connection the supervisor makes, until shutdown.
async fn supervise(
    url: &str,
    quotes: &Arc<dyn QuoteSource>,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    amqp::supervise(url, "bot", shutdown, |connection| {
        let (quotes, shutdown) = (Arc::clone(quotes), shutdown.clone());
        Box::pin(async move { consumer::serve(connection, &quotes, &shutdown).await })
    })
    .await?;
    Ok(())
}
