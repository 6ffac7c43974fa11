//! Exponential backoff with jitter, for anything that retries: the broker
//! connection and the bot's requests to its quote source.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter: attempt `n` waits between half and all
/// of `min(initial * 2^n, max)`, so that many clients do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first delay.
    pub initial: Duration,
    /// The ceiling of any delay.
    pub max: Duration,
}

impl Backoff {
    /// Reconnecting to the broker: 200 ms at first, at most 10 s apart.
    pub const RECONNECT: Backoff =
        Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(10) };

    /// How long to wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let ceiling = self.initial.saturating_mul(factor).min(self.max);
        let half = ceiling / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
        for _ in 0..100 {
            let first = backoff.delay(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = backoff.delay(2);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = backoff.delay(40);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&late));
        }
    }
}
