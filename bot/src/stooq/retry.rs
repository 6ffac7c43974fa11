//! Attempts, timeouts and retries, all inside one deadline.

use std::future::Future;
use std::time::Duration;

use service::backoff::Backoff;
use tokio::time::Instant;

use super::breaker::Breaker;
use crate::answer::{Answer, Unavailable};
use crate::metrics::StooqResult;

/// How hard one lookup tries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Attempts per lookup, the first included.
    pub(crate) max_attempts: u32,
    /// The longest one attempt may take (less when the deadline is nearer).
    pub(crate) attempt_timeout: Duration,
    /// An attempt is not started with less time than this left.
    pub(crate) min_attempt: Duration,
    /// The wait between attempts.
    pub(crate) backoff: Backoff,
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Final: a quote, `N/D`, or an answer that retrying will not improve.
    Done(Answer),
    /// A failure that may pass (timeout, connection error, 5xx).
    Retry(Unavailable),
}

/// Runs `attempt` until it gives a final answer, the attempts are used up,
/// the breaker refuses, or `deadline` is too near; never returns later than
/// `deadline`. Every attempt's outcome is reported to `breaker`.
pub(crate) async fn run<F, Fut>(
    policy: &Policy,
    breaker: &Breaker,
    deadline: Instant,
    mut attempt: F,
) -> Answer
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut last = Unavailable::OutOfTime;
    for number in 0..policy.max_attempts {
        if number > 0 {
            let pause = policy.backoff.delay(number - 1);
            if Instant::now() + pause + policy.min_attempt > deadline {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        if left < policy.min_attempt {
            break;
        }
        if !breaker.allow(now) {
            return Answer::Unavailable(Unavailable::CircuitOpen);
        }
        let outcome = tokio::time::timeout(left.min(policy.attempt_timeout), attempt()).await;
        let outcome = outcome.unwrap_or(Attempt::Retry(Unavailable::Timeout));
        crate::metrics::stooq_request(result_of(&outcome));
        match outcome {
            Attempt::Done(answer) => {
                match answer {
                    Answer::Quote(_) | Answer::NotFound => breaker.succeeded(),
                    Answer::Unavailable(_) => breaker.failed(Instant::now()),
                }
                return answer;
            }
            Attempt::Retry(reason) => {
                tracing::debug!(attempt = number + 1, %reason, "Stooq attempt failed");
                breaker.failed(Instant::now());
                last = reason;
            }
        }
    }
    Answer::Unavailable(last)
}

/// How an attempt counts in `stooq_requests_total`.
fn result_of(attempt: &Attempt) -> StooqResult {
    match attempt {
        Attempt::Done(Answer::Quote(_) | Answer::NotFound) => StooqResult::Ok,
        Attempt::Retry(Unavailable::Timeout) => StooqResult::Timeout,
        Attempt::Done(Answer::Unavailable(_)) | Attempt::Retry(_) => StooqResult::Error,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::answer::Quote;

    const POLICY: Policy = Policy {
        max_attempts: 3,
        attempt_timeout: Duration::from_millis(1500),
        min_attempt: Duration::from_millis(100),
        backoff: Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) },
    };

    fn quote() -> Answer {
        Answer::Quote(Quote { symbol: "AAPL.US".into(), close: "1.0".into() })
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_upstream_is_answered_within_the_deadline() {
        let breaker = Breaker::new(100, Duration::from_secs(30));
        let (start, attempts) = (Instant::now(), AtomicU32::new(0));
        let deadline = start + Duration::from_millis(4500);
        let answer = run(&POLICY, &breaker, deadline, || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            std::future::pending().await
        })
        .await;
        assert_eq!(answer, Answer::Unavailable(Unavailable::Timeout));
        // Timers tick in whole milliseconds.
        let tick = Duration::from_millis(1);
        assert!(Instant::now() <= deadline + tick, "took {:?}", start.elapsed());
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_passing_failures_then_answers() {
        let breaker = Breaker::new(100, Duration::from_secs(30));
        let attempts = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let answer = run(&POLICY, &breaker, deadline, || async {
            match attempts.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Attempt::Retry(Unavailable::Status(503)),
                _ => Attempt::Done(quote()),
            }
        })
        .await;
        assert_eq!(answer, quote());
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_a_final_answer() {
        let breaker = Breaker::new(100, Duration::from_secs(30));
        let attempts = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let answer = run(&POLICY, &breaker, deadline, || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Attempt::Done(Answer::Unavailable(Unavailable::NotCsv))
        })
        .await;
        assert_eq!(answer, Answer::Unavailable(Unavailable::NotCsv));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_answers_at_once() {
        let breaker = Breaker::new(2, Duration::from_secs(30));
        let deadline = Instant::now() + Duration::from_secs(5);
        let failing = || async { Attempt::Retry(Unavailable::Transport) };
        assert_eq!(
            run(&POLICY, &breaker, deadline, failing).await,
            Answer::Unavailable(Unavailable::CircuitOpen),
            "the second failure opened the circuit before the third attempt"
        );
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let answer = run(&POLICY, &breaker, deadline, || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Attempt::Done(quote())
        })
        .await;
        assert_eq!(answer, Answer::Unavailable(Unavailable::CircuitOpen));
        assert_eq!((attempts.load(Ordering::SeqCst), start.elapsed()), (0, Duration::ZERO));
    }
}
