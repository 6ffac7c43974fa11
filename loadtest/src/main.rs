//! `loadtest`: reads the command line, builds the one tokio runtime, runs.

use clap::Parser;
use loadtest::Cli;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    runtime.enable_all().build()?.block_on(loadtest::execute(cli))
}
