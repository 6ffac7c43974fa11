//! A circuit breaker: after repeated failures Stooq is not asked at all for a
//! cool-down, so replies stay fast while it is down; then one probe request
//! decides whether to close the circuit again.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Shared by every lookup of the process.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Consecutive failed attempts that open the circuit.
    threshold: u32,
    /// How long the circuit stays open, and how long a probe may take.
    cool_down: Duration,
    /// Held only for a few instructions, never across an await.
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Requests go through; counts consecutive failures.
    Closed { failures: u32 },
    /// Requests are refused until `until`.
    Open { until: Instant },
    /// One probe is out; others are refused until it reports or `until` passes
    /// (a probe whose command was cancelled never reports).
    HalfOpen { until: Instant },
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self { threshold, cool_down, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// True when a request may be sent now.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            State::Closed { .. } => true,
            State::Open { until } | State::HalfOpen { until } if now >= until => {
                tracing::info!("circuit half-open: probing Stooq");
                *state = State::HalfOpen { until: now + self.cool_down };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    /// Stooq gave a usable answer: close the circuit.
    pub(crate) fn succeeded(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*state, State::Closed { .. }) {
            tracing::info!("circuit closed: Stooq answers again");
            crate::metrics::circuit_open(false);
        }
        *state = State::Closed { failures: 0 };
    }

    /// An attempt failed: count it, and open the circuit past the threshold.
    pub(crate) fn failed(&self, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let open = State::Open { until: now + self.cool_down };
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                State::Closed { failures: failures + 1 }
            }
            State::Closed { .. } | State::HalfOpen { .. } => {
                tracing::warn!(cool_down = ?self.cool_down, "circuit open: not asking Stooq for a while");
                crate::metrics::circuit_open(true);
                open
            }
            State::Open { until } => State::Open { until },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let (breaker, now) = (Breaker::new(3, COOL_DOWN), Instant::now());
        breaker.failed(now);
        breaker.failed(now);
        breaker.succeeded();
        breaker.failed(now);
        breaker.failed(now);
        assert!(breaker.allow(now), "a success resets the count");
        breaker.failed(now);
        assert!(!breaker.allow(now));
        assert!(!breaker.allow(now + COOL_DOWN - Duration::from_millis(1)));
    }

    #[test]
    fn probes_once_after_the_cool_down() {
        let (breaker, now) = (Breaker::new(1, COOL_DOWN), Instant::now());
        breaker.failed(now);
        let later = now + COOL_DOWN;
        assert!(breaker.allow(later), "the probe");
        assert!(!breaker.allow(later), "only one probe at a time");
        breaker.failed(later);
        assert!(!breaker.allow(later + Duration::from_secs(1)), "a failed probe reopens");
        let much_later = later + COOL_DOWN;
        assert!(breaker.allow(much_later));
        breaker.succeeded();
        assert!(breaker.allow(much_later) && breaker.allow(much_later));
    }

    #[test]
    fn a_lost_probe_is_replaced_after_the_cool_down() {
        let (breaker, now) = (Breaker::new(1, COOL_DOWN), Instant::now());
        breaker.failed(now);
        assert!(breaker.allow(now + COOL_DOWN));
        assert!(breaker.allow(now + COOL_DOWN * 2), "the first probe never reported");
    }
}
