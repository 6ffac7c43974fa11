//! `chat`: reads the configuration, sets up logging, binds, and serves until
//! SIGINT or SIGTERM. Exits 2 on bad configuration or arguments, 1 when it
//! cannot start.

use std::process::ExitCode;

use anyhow::Context;
use chat::{Config, Configuration};

/// mimalloc gives freed memory back to the system: each Argon2 hash takes a
/// large working buffer, and glibc's allocator kept the peak of a burst of
/// logins resident long after it (see `docs/performance.md`).
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
