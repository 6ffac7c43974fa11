//! Rate limits: logins per client IP, messages and stock commands per user.
//!
//! Each limit is a keyed GCRA limiter (governor): a burst of `N`, refilled
//! evenly over the period. Memory is bounded by [`Limits::forget_idle`], run
//! periodically, which drops every key whose state is back to "fresh".

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::{RateLimit, RateLimits};

/// One keyed limit, or none when configured `off`.
pub(crate) struct Limiter<K: Hash + Eq + Clone> {
    inner: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(limit: Option<RateLimit>) -> Self {
        let inner = limit.and_then(|limit| {
            let quota = Quota::with_period(limit.per / limit.count.get())?.allow_burst(limit.count);
            Some(RateLimiter::keyed(quota))
        });
        Self { inner }
    }

    /// Counts one event for `key`; `Err` carries how long until one is allowed again.
    pub(crate) fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.inner else { return Ok(()) };
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.inner {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every rate limit of the server; each part holds the ones it applies.
#[derive(Clone)]
pub(crate) struct Limits {
    /// Login attempts per client IP.
    pub(crate) login: Arc<Limiter<IpAddr>>,
    /// Chat messages per user.
    pub(crate) messages: Arc<Limiter<Uuid>>,
    /// Stock commands per user.
    pub(crate) stock: Arc<Limiter<Uuid>>,
}

impl Limits {
    pub(crate) fn new(config: &RateLimits) -> Self {
        Self {
            login: Arc::new(Limiter::new(config.login)),
            messages: Arc::new(Limiter::new(config.messages)),
            stock: Arc::new(Limiter::new(config.stock)),
        }
    }

    /// Drops the state of keys that have been quiet long enough to be fresh again.
    pub(crate) fn forget_idle(&self) {
        self.login.forget_idle();
        self.messages.forget_idle();
        self.stock.forget_idle();
    }
}

/// Whole seconds to wait, rounded up, at least 1 (for `Retry-After`).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_limit;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = Limiter::new(parse_limit("3/60s").unwrap());
        let user = Uuid::now_v7();
        for _ in 0..3 {
            assert_eq!(limiter.check(&user), Ok(()));
        }
        let wait = limiter.check(&user).unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        assert_eq!(limiter.check(&Uuid::now_v7()), Ok(()), "keys are independent");
        let off = Limiter::<Uuid>::new(None);
        assert!((0..1000).all(|_| off.check(&user).is_ok()));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
