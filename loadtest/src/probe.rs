//! The server's memory and CPU, read from `/proc/<pid>/status` and `/proc/<pid>/stat`;
//! with several processes (one per instance), their sums.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

/// How often the resident size is sampled for its peak.
const RSS_INTERVAL: Duration = Duration::from_millis(100);
/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`),
/// 100 on every Linux this runs on.
pub(crate) const CLOCK_TICKS_PER_S: f64 = 100.0;

/// `VmRSS` of a `/proc/<pid>/status` text, in bytes.
fn rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(kib * 1024)
}

/// `utime + stime` of a `/proc/<pid>/stat` text, in clock ticks.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count
    // fields from the last `)`. After it come field 3 (state) onwards, so
    // utime (14) and stime (15) are the 12th and 13th words.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut words = rest.split_whitespace().skip(11);
    let utime: u64 = words.next()?.parse().ok()?;
    let stime: u64 = words.next()?.parse().ok()?;
    Some(utime + stime)
}

fn read_rss(pid: u32) -> Option<u64> {
    rss_bytes(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

pub(crate) fn cpu_ticks_of(pid: u32) -> Option<u64> {
    cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The summed resident size of `pids`, or `None` if one cannot be read.
fn total_rss(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| read_rss(pid)).sum()
}

/// The summed CPU ticks of `pids`, or `None` if one cannot be read.
fn total_cpu_ticks(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| cpu_ticks_of(pid)).sum()
}

/// CPU seconds this process (the generator) has used so far.
pub(crate) fn own_cpu_s() -> Option<f64> {
    Some(cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)? as f64 / CLOCK_TICKS_PER_S)
}

/// The command name of `pid`, to show which process is being measured.
pub(crate) fn command_name(pid: u32) -> Option<String> {
    Some(std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_owned())
}

/// Watches a set of processes for the length of a run: the peak of their
/// summed RSS, sampled, and their summed CPU time between
/// [`Probe::start_cpu`] and [`Probe::finish`].
pub(crate) struct Probe {
    pids: Arc<[u32]>,
    peak_rss: Arc<AtomicU64>,
    rss_at_start: u64,
    cpu_at_start: Option<u64>,
    stop: CancellationToken,
}

/// What a [`Probe`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Usage {
    /// Resident size before the run's connections opened, bytes.
    pub(crate) rss_at_start_bytes: u64,
    /// Peak (summed) resident size, bytes.
    pub(crate) peak_rss_bytes: Option<u64>,
    /// CPU seconds, user + system.
    pub(crate) cpu_s: Option<f64>,
}

impl Probe {
    /// Starts sampling the resident size of `pids`; checks that each can be
    /// read. `None` when there is nothing to watch.
    pub(crate) fn spawn(pids: &Arc<[u32]>) -> anyhow::Result<Option<Self>> {
        if pids.is_empty() {
            return Ok(None);
        }
        let first = pids
            .iter()
            .map(|&pid| {
                read_rss(pid)
                    .with_context(|| format!("cannot read /proc/{pid}/status: is it running?"))
            })
            .sum::<anyhow::Result<u64>>()?;
        let peak_rss = Arc::new(AtomicU64::new(first));
        let stop = CancellationToken::new();
        let (watched, peak, token) = (Arc::clone(pids), Arc::clone(&peak_rss), stop.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RSS_INTERVAL);
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    _ = every.tick() => match total_rss(&watched) {
                        Some(rss) => { peak.fetch_max(rss, Ordering::Relaxed); }
                        None => return,
                    },
                }
            }
        });
        let pids = Arc::clone(pids);
        Ok(Some(Self { pids, peak_rss, rss_at_start: first, cpu_at_start: None, stop }))
    }

    /// Marks the start of the CPU measurement.
    pub(crate) fn start_cpu(&mut self) {
        self.cpu_at_start = total_cpu_ticks(&self.pids);
    }

    /// Stops sampling; CPU is counted up to now.
    pub(crate) fn finish(self) -> Usage {
        self.stop.cancel();
        if let Some(rss) = total_rss(&self.pids) {
            self.peak_rss.fetch_max(rss, Ordering::Relaxed);
        }
        let cpu_s = match (self.cpu_at_start, total_cpu_ticks(&self.pids)) {
            (Some(start), Some(end)) => Some(end.saturating_sub(start) as f64 / CLOCK_TICKS_PER_S),
            _ => None,
        };
        Usage {
            rss_at_start_bytes: self.rss_at_start,
            peak_rss_bytes: Some(self.peak_rss.load(Ordering::Relaxed)),
            cpu_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_from_status() {
        let status = "Name:\tchat\nVmPeak:\t  999 kB\nVmRSS:\t   20480 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(rss_bytes(status), Some(20480 * 1024));
        assert_eq!(rss_bytes("Name:\tchat\n"), None);
    }

    #[test]
    fn reads_cpu_ticks_past_a_tricky_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
        let stat =
            "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(cpu_ticks("4242 (x) S 1 2"), None);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(read_rss(pid).is_some_and(|rss| rss > 0));
        assert!(cpu_ticks_of(pid).is_some());
        assert!(own_cpu_s().is_some());
        assert!(command_name(pid).is_some_and(|name| !name.is_empty()));
    }

    #[tokio::test]
    async fn sums_several_processes() {
        let me = std::process::id();
        assert!(Probe::spawn(&[].into()).unwrap().is_none());
        assert!(Probe::spawn(&[me, u32::MAX].into()).is_err());
        assert_eq!(total_rss(&[me, u32::MAX]), None);
        let once = read_rss(me).unwrap();
        let mut twice = Probe::spawn(&[me, me].into()).unwrap().unwrap();
        twice.start_cpu();
        let usage = twice.finish();
        assert!(usage.rss_at_start_bytes > once * 3 / 2, "{usage:?} vs {once}");
        assert!(usage.peak_rss_bytes.is_some_and(|peak| peak >= usage.rss_at_start_bytes));
        assert!(usage.cpu_s.is_some());
    }
}
