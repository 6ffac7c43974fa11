//! Process plumbing shared by the `chat` and `bot` binaries, so both log the
//! same way and stop on the same signals.
//!
//! # Layout
//!
//! - [`LogFormat`] and [`init_logging`]: one JSON object per line (the
//!   event's fields at the top level, beside `timestamp`, `level`, `target`
//!   and the current `span`), or human-readable lines.
//! - [`shutdown_signal`]: resolves on SIGTERM or SIGINT.
//! - [`cli`]: both binaries' command lines, declared with clap: every
//!   option also an environment variable, `--help` and `--version`, and one
//!   error style and exit status (2) for anything refused.
//! - [`describe_process_metrics`] and [`collect_process_metrics`]: the
//!   `process_*` metrics (CPU seconds, resident memory, open files, …) and a
//!   `build_info` gauge, recorded through whatever `metrics` recorder the
//!   binary installed; [`metrics_endpoint`] serves them on an address of
//!   their own.
//! - [`amqp`]: connecting to RabbitMQ (TLS included), declaring the
//!   topology, confirmed JSON publishing and reconnecting.
//! - [`backoff`]: exponential backoff with jitter, for anything that retries.

pub mod amqp;
pub mod backoff;
pub mod cli;
pub mod metrics_endpoint;

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("expected json or pretty"),
        }
    }
}

/// A `RUST_LOG` filter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFilter(String);

impl fmt::Display for InvalidFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidFilter {}

/// Checks a `RUST_LOG` filter (`info`, `chat=debug,tower=warn`, …).
pub fn check_filter(filter: &str) -> Result<(), InvalidFilter> {
    EnvFilter::try_new(filter).map(drop).map_err(|error| InvalidFilter(format!("{error}")))
}

/// Installs the process's logger: `filter` (checked with [`check_filter`])
/// in `format`. Does nothing when a logger is installed already (a test
/// running several servers in one process).
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), InvalidFilter> {
    let filter = EnvFilter::try_new(filter).map_err(|error| InvalidFilter(format!("{error}")))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    Ok(())
}

/// Resolves when the process receives SIGTERM (an orchestrator stopping
/// it) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            return interrupt.await.unwrap_or_default();
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or_default();
}

/// Describes the `process_*` metrics and sets `build_info{binary, version}`
/// to 1; call once, after installing the recorder.
pub fn describe_process_metrics(binary: &'static str, version: &'static str) {
    process_collector().describe();
    metrics::describe_gauge!("build_info", "Always 1; the binary and its version as labels");
    metrics::gauge!("build_info", "binary" => binary, "version" => version).set(1.0);
}

/// Records the process's current `process_*` figures; call before each scrape.
pub fn collect_process_metrics() {
    process_collector().collect();
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_filters_parse_or_are_refused() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("pretty".parse(), Ok(LogFormat::Pretty));
        assert!("JSON".parse::<LogFormat>().is_err());
        assert!(check_filter("info").is_ok());
        assert!(check_filter("chat=debug,lapin=warn").is_ok());
        assert!(check_filter("info,[").is_err());
    }
}
