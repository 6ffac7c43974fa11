//! `chat`: reads the configuration, sets up logging, binds, and serves until
//! SIGINT or SIGTERM.

use anyhow::Context;
use chat::config::{Config, HELP};

/// mimalloc gives freed memory back to the system: with glibc's allocator the
/// server's RSS stayed at 287 MiB after 1,000 users registered and logged in
/// (each Argon2 hash uses a 19 MiB working buffer).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return Ok(());
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("chat: {error}");
            std::process::exit(2);
        }
    };
    service::init_logging(config.log_format, &config.log_filter)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    chat::run(listener, config, service::shutdown_signal()).await.context("cannot start")?;
    Ok(())
}
