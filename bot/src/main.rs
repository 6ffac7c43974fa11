//! The `bot` binary: reads the configuration, sets up logging, binds the
//! metrics address, and runs the bot until SIGTERM or SIGINT. See `bot --help`.

use std::process::ExitCode;

use anyhow::Context;
use bot::{Config, Configuration};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(refused) => return service::cli::exit_status(&refused),
    };
    match try_main(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn try_main(config: Config) -> anyhow::Result<()> {
    service::init_logging(config.log_format, &config.log_filter)
        .context("cannot set up logging")?;
    let metrics = match config.metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on BOT_METRICS_ADDR {addr}"))?,
        ),
        None => None,
    };
    tracing::info!(stooq = %config.stooq_api_url, "bot starting");
    bot::run_with_metrics(config, metrics, service::shutdown_signal()).await?;
    Ok(())
}
