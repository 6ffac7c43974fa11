//! `loadtest`: reads the command line, builds the one tokio runtime, runs.
//! Exits 0 when the run is done (and met the thresholds given), 1 on an
//! error, 3 when it missed a threshold (`--slo-p99-ms`, `--max-lost`) or
//! some users could not connect.

use std::process::ExitCode;

use clap::Parser;
use loadtest::{Cli, ThresholdMissed};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let outcome = runtime
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(loadtest::execute(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<ThresholdMissed>() {
            Some(missed) => {
                eprintln!("loadtest: {missed}");
                ExitCode::from(3)
            }
            None => {
                eprintln!("loadtest: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
