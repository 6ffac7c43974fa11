//! `chat`: reads the configuration, sets up logging, binds, and serves until
//! SIGINT or SIGTERM. Exits 2 on bad configuration or arguments, 1 when it
//! cannot start.

use std::process::ExitCode;

use anyhow::Context;
use chat::{Config, Configuration};

/// mimalloc gives freed memory back to the system: with glibc's allocator the
/// server's RSS stayed at 287 MiB after 1,000 users registered and logged in
/// (each Argon2 hash uses a 19 MiB working buffer).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(refused) => return service::cli::exit_status(&refused),
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    service::init_logging(config.log_format, &config.log_filter)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    chat::run(listener, config, service::shutdown_signal()).await.context("cannot start")?;
    Ok(())
}
