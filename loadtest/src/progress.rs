//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How often a bar redraws by itself.
const TICK: Duration = Duration::from_millis(200);

/// A bar counting `len` items of a setup step.
pub(crate) fn counter(what: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(TICK);
    bar
}

/// A bar over the seconds of a measured phase; the message carries live counters.
pub(crate) fn timer(what: &str, seconds: u64) -> ProgressBar {
    let bar = ProgressBar::new(seconds);
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{elapsed_precise}] {bar:30} {pos}/{len}s {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(TICK);
    bar
}
