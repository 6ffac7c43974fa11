//! Latency histograms and the result of one measured run (`R` in the JSON).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency a histogram holds, in µs; longer ones are clamped to it.
const MAX_LATENCY_US: u64 = 120 * 1_000_000;
/// Samples a connection buffers before it takes a shard's lock.
pub(crate) const SAMPLE_BATCH: usize = 64;

/// A new histogram of µs latencies, 3 significant digits.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants that `new_with_bounds` accepts.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable!())
}

/// The percentile spectrum of a µs latency histogram in HdrHistogram's
/// `.hgrm` text form, values in milliseconds (`None` when it is empty).
pub(crate) fn hgrm(histogram: &Histogram<u64>) -> Option<String> {
    use std::fmt::Write as _;
    if histogram.is_empty() {
        return None;
    }
    let ms = |us: f64| us / 1000.0;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0;
    for step in histogram.iter_quantiles(5) {
        total += step.count_since_last_iteration();
        let (value, quantile) = (ms(step.value_iterated_to() as f64), step.quantile_iterated_to());
        let _ = if quantile < 1.0 {
            writeln!(
                out,
                "{value:12.3} {quantile:14.12} {total:10} {:14.2}",
                1.0 / (1.0 - quantile)
            )
        } else {
            writeln!(out, "{value:12.3} {quantile:14.12} {total:10}")
        };
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        ms(histogram.mean()),
        ms(histogram.stdev())
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        ms(histogram.max() as f64),
        histogram.len()
    );
    Some(out)
}

/// `p50, p90, p99, p999, max` of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl Percentiles {
    /// The summary of `histogram` (µs samples), or `None` when it is empty.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        })
    }
}

/// The result of one workload against one target: the `R` of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// WebSockets that completed their handshake and got `presence`.
    pub connected: u64,
    /// WebSockets that did not.
    pub connect_failures: u64,
    /// Messages written to a socket.
    pub sent: u64,
    /// Messages whose sender got its own copy back.
    pub acked: u64,
    /// Every message sent, times the connected members of its room (sender included).
    pub expected_deliveries: u64,
    /// Distinct messages received, over all receivers.
    pub delivered: u64,
    /// Expected but never received by the end of the drain.
    pub lost: u64,
    /// Extra copies received.
    pub duplicated: u64,
    /// Received after a later message of the same sender.
    pub reordered: u64,
    /// Error and resync frames, undecodable frames, messages in the wrong
    /// room, dropped connections, sends the generator had to skip.
    pub errors: u64,
    /// Messages sent per second of the sending phase.
    pub sent_per_s: f64,
    /// Deliveries per second, from the first send to the last delivery.
    pub deliveries_per_s: f64,
    /// Peak resident memory of the server during the run, when its pid is known.
    pub server_rss_bytes: Option<u64>,
    /// Server CPU time (user + system) from the first send to the end of the drain.
    pub server_cpu_s: Option<f64>,
    /// TCP connect to `presence` received.
    pub connect_ms: Option<Percentiles>,
    /// Intended send time to the sender's own copy.
    pub ack_ms: Option<Percentiles>,
    /// Intended send time to each receiver's copy (the sender's included).
    pub delivery_ms: Option<Percentiles>,
    /// The delivery latencies' whole percentile spectrum, in HdrHistogram's
    /// `.hgrm` text form (values in ms), for plotting against other runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_hgrm: Option<String>,
}

impl Report {
    /// Server CPU per delivery, in µs.
    pub(crate) fn cpu_us_per_delivery(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.delivered > 0).then(|| cpu * 1e6 / self.delivered as f64)
    }

    /// Everything sent was delivered once, in order, with no error.
    pub(crate) fn is_clean(&self) -> bool {
        self.connect_failures == 0
            && self.lost == 0
            && self.duplicated == 0
            && self.reordered == 0
            && self.errors == 0
            && self.acked == self.sent
            && self.delivered == self.expected_deliveries
    }
}

/// The three latency histograms of a run.
#[derive(Debug, Clone)]
pub(crate) struct Latencies {
    /// Connect time.
    pub(crate) connect: Histogram<u64>,
    /// Send → own copy.
    pub(crate) ack: Histogram<u64>,
    /// Send → every copy.
    pub(crate) delivery: Histogram<u64>,
    /// Intended → actual send time: the generator's own lateness (timer
    /// granularity, a busy runtime), included in the two above.
    pub(crate) send_lag: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            connect: latency_histogram(),
            ack: latency_histogram(),
            delivery: latency_histogram(),
            send_lag: latency_histogram(),
        }
    }
}

impl Latencies {
    fn add(&mut self, other: &Self) {
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.connect.add(&other.connect);
        let _ = self.ack.add(&other.ack);
        let _ = self.delivery.add(&other.delivery);
        let _ = self.send_lag.add(&other.send_lag);
    }
}

/// Shared by every connection task: sharded histograms (a task locks its
/// shard once per batch of samples) and the live counters the progress bar
/// and the drain read.
pub(crate) struct Recorder {
    shards: Box<[Mutex<Latencies>]>,
    /// Messages written to sockets.
    pub(crate) sent: AtomicU64,
    /// Deliveries due so far (each send adds its room's size).
    pub(crate) expected: AtomicU64,
    /// First copies received.
    pub(crate) delivered: AtomicU64,
    /// Own copies received.
    pub(crate) acked: AtomicU64,
}

impl Recorder {
    /// A recorder with `shards` histogram shards.
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            acked: AtomicU64::new(0),
        }
    }

    /// Adds a batch of samples to shard `key % shards`.
    pub(crate) fn record(&self, key: usize, batch: &mut Samples) {
        if batch.is_empty() {
            return;
        }
        let shard = &self.shards[key % self.shards.len()];
        let mut latencies = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for &us in &batch.connect {
            latencies.connect.saturating_record(us);
        }
        for &us in &batch.ack {
            latencies.ack.saturating_record(us);
        }
        for &us in &batch.delivery {
            latencies.delivery.saturating_record(us);
        }
        for &us in &batch.send_lag {
            latencies.send_lag.saturating_record(us);
        }
        batch.clear();
    }

    /// Every shard merged.
    pub(crate) fn latencies(&self) -> Latencies {
        let mut total = Latencies::default();
        for shard in &self.shards {
            total.add(&shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        }
        total
    }

    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Latency samples (µs) a connection holds until it flushes them.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    /// Connect times.
    pub(crate) connect: Vec<u64>,
    /// Send → own copy.
    pub(crate) ack: Vec<u64>,
    /// Send → copy.
    pub(crate) delivery: Vec<u64>,
    /// Intended → actual send.
    pub(crate) send_lag: Vec<u64>,
}

impl Samples {
    fn is_empty(&self) -> bool {
        self.connect.is_empty()
            && self.ack.is_empty()
            && self.delivery.is_empty()
            && self.send_lag.is_empty()
    }

    fn clear(&mut self) {
        self.connect.clear();
        self.ack.clear();
        self.delivery.clear();
        self.send_lag.clear();
    }

    /// Whether the batch is big enough to flush.
    pub(crate) fn is_full(&self) -> bool {
        self.delivery.len() >= SAMPLE_BATCH || self.send_lag.len() >= SAMPLE_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut histogram = latency_histogram();
        for us in 1..=1000 {
            histogram.record(us * 1000).unwrap();
        }
        let p = Percentiles::of(&histogram).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert!(close(p.p50, 500.0), "{p:?}");
        assert!(close(p.p90, 900.0), "{p:?}");
        assert!(close(p.p99, 990.0), "{p:?}");
        assert!(close(p.p999, 999.0), "{p:?}");
        assert!(close(p.max, 1000.0), "{p:?}");
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max);
    }

    #[test]
    fn empty_histogram_has_no_percentiles() {
        assert_eq!(Percentiles::of(&latency_histogram()), None);
    }

    #[test]
    fn recorder_merges_shards_and_clears_batches() {
        let recorder = Recorder::new(4);
        for key in 0..8 {
            let mut batch = Samples::default();
            batch.delivery.extend([1000, 2000]);
            batch.ack.push(500);
            recorder.record(key, &mut batch);
            assert!(batch.is_empty());
        }
        let latencies = recorder.latencies();
        assert_eq!(latencies.delivery.len(), 16);
        assert_eq!(latencies.ack.len(), 8);
        assert_eq!(latencies.connect.len(), 0);
    }

    #[test]
    fn huge_latencies_are_clamped_not_dropped() {
        let recorder = Recorder::new(1);
        let mut batch = Samples::default();
        batch.delivery.push(u64::MAX / 2);
        recorder.record(0, &mut batch);
        assert_eq!(recorder.latencies().delivery.len(), 1);
    }

    #[test]
    fn the_spectrum_reads_as_hgrm() {
        let mut histogram = latency_histogram();
        for us in 1..=1000 {
            histogram.record(us * 10).unwrap();
        }
        let text = hgrm(&histogram).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Percentile") && lines[0].contains("1/(1-Percentile)"));
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with("5.00") && l.contains("0.500000000000"))
        );
        assert!(text.contains("Total count    =         1000]"), "{text}");
        assert_eq!(hgrm(&latency_histogram()), None);
    }
}
