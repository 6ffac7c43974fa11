//! Abuse limits: rates (logins, registrations and WebSocket handshakes per
//! client IP; messages, stock commands and new rooms per user) and caps on
//! what is open at once ([`Tally`]: connections per address, sockets per user).
//!
//! Each rate limit is a keyed GCRA limiter (governor): a burst of `N`,
//! refilled evenly over the period. Memory is bounded by
//! [`Limits::forget_idle`], run periodically, which drops every key whose
//! state is back to "fresh". A tally forgets a key when its count is zero.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::{RateLimit, RateLimits};

/// Whom the per-address limits count: an IPv4 address, or an IPv6 client's
/// /64 (the network one subscriber is given, where a new address for each
/// connection costs nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AddressGroup(IpAddr);

impl From<IpAddr> for AddressGroup {
    fn from(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(network.into()))
            }
            v4 => Self(v4),
        }
    }
}

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
    pub(crate) login: Arc<Limiter<AddressGroup>>,
    /// Chat messages per user.
    pub(crate) messages: Arc<Limiter<Uuid>>,
    /// Stock commands per user.
    pub(crate) stock: Arc<Limiter<Uuid>>,
    /// Registrations per client IP.
    pub(crate) register: Arc<Limiter<AddressGroup>>,
    /// Rooms created per user.
    pub(crate) rooms: Arc<Limiter<Uuid>>,
    /// WebSocket handshakes per client IP.
    pub(crate) handshakes: Arc<Limiter<AddressGroup>>,
    /// File uploads per user.
    pub(crate) uploads: Arc<Limiter<Uuid>>,
}

impl Limits {
    pub(crate) fn new(config: &RateLimits) -> Self {
        Self {
            login: Arc::new(Limiter::new(config.login)),
            messages: Arc::new(Limiter::new(config.messages)),
            stock: Arc::new(Limiter::new(config.stock)),
            register: Arc::new(Limiter::new(config.register)),
            rooms: Arc::new(Limiter::new(config.rooms)),
            handshakes: Arc::new(Limiter::new(config.handshakes)),
            uploads: Arc::new(Limiter::new(config.uploads)),
        }
    }

    /// Drops the state of keys that have been quiet long enough to be fresh again.
    pub(crate) fn forget_idle(&self) {
        self.login.forget_idle();
        self.messages.forget_idle();
        self.stock.forget_idle();
        self.register.forget_idle();
        self.rooms.forget_idle();
        self.handshakes.forget_idle();
        self.uploads.forget_idle();
    }
}

/// How many things (connections, sockets) are open per key, at most `cap`.
pub(crate) struct Tally<K: Hash + Eq + Clone> {
    cap: Option<NonZeroUsize>,
    open: DashMap<K, usize>,
}

impl<K: Hash + Eq + Clone> Tally<K> {
    /// At most `cap` open per key; `None` counts nothing and refuses nothing.
    pub(crate) fn new(cap: Option<NonZeroUsize>) -> Arc<Self> {
        Arc::new(Self { cap, open: DashMap::new() })
    }

    /// Counts one more open for `key`, until the returned guard is dropped;
    /// `None` when `key` is at the cap.
    pub(crate) fn open(self: &Arc<Self>, key: K) -> Option<Counted<K>> {
        let Some(cap) = self.cap else { return Some(Counted(None)) };
        let mut count = self.open.entry(key.clone()).or_default();
        if *count >= cap.get() {
            return None;
        }
        *count += 1;
        Some(Counted(Some((Arc::clone(self), key))))
    }

    /// How many are open for `key`.
    #[cfg(test)]
    fn count(&self, key: &K) -> usize {
        self.open.get(key).map_or(0, |count| *count)
    }
}

/// One open thing in a [`Tally`]; dropping it closes it.
pub(crate) struct Counted<K: Hash + Eq + Clone>(Option<(Arc<Tally<K>>, K)>);

impl<K: Hash + Eq + Clone> Drop for Counted<K> {
    fn drop(&mut self) {
        let Some((tally, key)) = self.0.take() else { return };
        if let Some(mut count) = tally.open.get_mut(&key) {
            *count = count.saturating_sub(1);
        }
        tally.open.remove_if(&key, |_, count| *count == 0);
    }
}

/// Counts one refusal by the limit `name` in `/metrics` (`rate_limited_total`):
/// every refusal, of a request, a connection or a frame, goes through here.
pub(crate) fn count_refusal(name: &'static str) {
    metrics::counter!(crate::metrics::RATE_LIMITED, "limit" => name).increment(1);
}

/// Whole seconds to wait, rounded up, at least 1 (for `Retry-After`).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimit;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = Limiter::new(Some("3/60s".parse::<RateLimit>().unwrap()));
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
    fn ipv6_clients_are_counted_by_their_64() {
        let group = |text: &str| AddressGroup::from(text.parse::<IpAddr>().unwrap());
        assert_eq!(group("2001:db8:1:2:aaaa::1"), group("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
        assert_eq!(group("::ffff:192.0.2.7"), group("192.0.2.7"), "v4-mapped is v4");
        assert_ne!(group("192.0.2.7"), group("192.0.2.8"));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn a_tally_refuses_at_its_cap_and_forgets_what_closed() {
        let tally = Tally::new(NonZeroUsize::new(2));
        let first = tally.open("a").unwrap();
        let second = tally.open("a").unwrap();
        assert!(tally.open("a").is_none());
        assert!(tally.open("b").is_some(), "keys are counted apart");
        drop(first);
        let third = tally.open("a").unwrap();
        assert_eq!(tally.count(&"a"), 2);
        drop((second, third));
        assert_eq!(tally.count(&"a"), 0);
        assert!(tally.open.is_empty());
        let off = Tally::new(None);
        let many: Vec<_> = (0..10).map(|_| off.open("a").unwrap()).collect();
        assert_eq!((many.len(), off.count(&"a")), (10, 0));
    }
}
