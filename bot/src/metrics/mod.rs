//! The bot's Prometheus metrics: recorded through the `metrics` facade,
//! aggregated by one process-wide recorder (installed on first use), and
//! served with `GET /metrics` on `BOT_METRICS_ADDR` (`service::metrics_endpoint`).
//!
//! The metrics are only recorded when an endpoint serves them; with
//! `BOT_METRICS_ADDR=off` the facade's no-op recorder drops them.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::answer::Answer;

/// Commands handled, by `outcome` (`quote`, `not_found`, `unavailable`, `invalid`).
pub const STOCK_REQUESTS: &str = "stock_requests_total";
/// From a command's delivery to its reply confirmed by the broker.
pub const STOCK_DURATION: &str = "stock_request_duration_seconds";
/// HTTP requests to Stooq (every attempt), by `result` (`ok`, `error`, `timeout`).
pub const STOOQ_REQUESTS: &str = "stooq_requests_total";
/// 1 while the circuit breaker keeps the bot from asking Stooq (open or probing), else 0.
pub const STOOQ_CIRCUIT_OPEN: &str = "stooq_circuit_open";

/// Up to the 5 s answer budget, and a little past it.
const LATENCY_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

/// What became of a command: the `outcome` label of [`STOCK_REQUESTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered with a quote.
    Quote,
    /// Answered "no quote was found" (Stooq said `N/D`).
    NotFound,
    /// Answered "the quote service is unavailable".
    Unavailable,
    /// Refused: a body that is not a command, or a code that is not valid.
    Invalid,
}

impl Outcome {
    /// The outcome of a valid code whose lookup came to `answer`.
    pub(crate) fn of(answer: &Answer) -> Self {
        match answer {
            Answer::Quote(_) => Outcome::Quote,
            Answer::NotFound => Outcome::NotFound,
            Answer::Unavailable(_) => Outcome::Unavailable,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Quote => "quote",
            Outcome::NotFound => "not_found",
            Outcome::Unavailable => "unavailable",
            Outcome::Invalid => "invalid",
        }
    }
}

/// What one HTTP request to Stooq came to: the `result` label of [`STOOQ_REQUESTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StooqResult {
    /// A quote or `N/D`.
    Ok,
    /// A failed connection, an error status, or a body that is not the quote CSV.
    Error,
    /// No answer within the attempt's timeout.
    Timeout,
}

impl StooqResult {
    fn label(self) -> &'static str {
        match self {
            StooqResult::Ok => "ok",
            StooqResult::Error => "error",
            StooqResult::Timeout => "timeout",
        }
    }
}

/// The process's recorder, installed by the first caller. When another
/// recorder is already installed (the bot runs inside another program's
/// process, as in chat's tests), that one records and this one stays empty.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(STOCK_DURATION.into()), LATENCY_BUCKETS);
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::debug!(
                "a metrics recorder is already installed; it records the bot's metrics"
            );
        }
        describe();
        service::describe_process_metrics("bot", env!("CARGO_PKG_VERSION"));
        handle
    })
}

/// What `BOT_METRICS_ADDR` serves.
pub(crate) fn exposition() -> service::metrics_endpoint::Exposition {
    service::metrics_endpoint::Exposition {
        render: || handle().render(),
        upkeep: || handle().run_upkeep(),
    }
}

/// Describes every metric and registers each label value at zero, so that a
/// scrape shows every series from the start.
fn describe() {
    metrics::describe_counter!(STOCK_REQUESTS, "Stock commands handled, by outcome");
    metrics::describe_histogram!(
        STOCK_DURATION,
        metrics::Unit::Seconds,
        "From a stock command's delivery to its reply confirmed by the broker"
    );
    metrics::describe_counter!(STOOQ_REQUESTS, "HTTP requests to Stooq, by result");
    metrics::describe_gauge!(STOOQ_CIRCUIT_OPEN, "1 while the Stooq circuit breaker is open");
    for outcome in [Outcome::Quote, Outcome::NotFound, Outcome::Unavailable, Outcome::Invalid] {
        metrics::counter!(STOCK_REQUESTS, "outcome" => outcome.label()).increment(0);
    }
    for result in [StooqResult::Ok, StooqResult::Error, StooqResult::Timeout] {
        metrics::counter!(STOOQ_REQUESTS, "result" => result.label()).increment(0);
    }
    metrics::gauge!(STOOQ_CIRCUIT_OPEN).set(0.0);
    // Registered, the histogram is rendered (with zero counts) before its first sample.
    let _ = metrics::histogram!(STOCK_DURATION);
}

/// A command was answered (its reply confirmed) `elapsed` after its delivery.
pub(crate) fn command_answered(outcome: Outcome, elapsed: Duration) {
    metrics::counter!(STOCK_REQUESTS, "outcome" => outcome.label()).increment(1);
    metrics::histogram!(STOCK_DURATION).record(elapsed);
}

/// A delivery was not a command at all: dropped without a reply.
pub(crate) fn command_dropped() {
    metrics::counter!(STOCK_REQUESTS, "outcome" => Outcome::Invalid.label()).increment(1);
}

/// One HTTP request to Stooq came to `result`.
pub(crate) fn stooq_request(result: StooqResult) {
    metrics::counter!(STOOQ_REQUESTS, "result" => result.label()).increment(1);
}

/// The circuit breaker opened (`true`) or closed again (`false`).
pub(crate) fn circuit_open(open: bool) {
    metrics::gauge!(STOOQ_CIRCUIT_OPEN).set(if open { 1.0 } else { 0.0 });
}
