//! The `bot` binary: reads the configuration, sets up logging, binds the
//! metrics address, and runs the bot until SIGTERM or SIGINT. See `bot --help`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use bot::Config;
use tokio::net::TcpListener;

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
