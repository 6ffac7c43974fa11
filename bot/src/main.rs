//! The `bot` binary: reads the configuration, sets up logging, binds the
//! metrics address, and runs the bot until SIGTERM or SIGINT. See `bot --help`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use bot::{Config, LogFormat};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    match try_main().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn try_main() -> anyhow::Result<()> {
    if let Some(argument) = std::env::args().nth(1) {
        if argument == "--help" || argument == "-h" {
            print!("{}", bot::config::HELP);
            return Ok(());
        }
        bail!("unexpected argument {argument:?}; see bot --help");
    }
    let config = Config::from_env()?;
    init_tracing(&config)?;
    let metrics = match config.metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on BOT_METRICS_ADDR {addr}"))?,
        ),
        None => None,
    };
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    tracing::info!(stooq = %config.stooq_api_url, "bot starting");
    bot::run_with_metrics(config, metrics, shutdown).await?;
    Ok(())
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_filter).context("invalid RUST_LOG")?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!(error)).context("cannot set up logging")
}
