//! Where quotes come from. The consumer and handler know only this trait, so
//! a second source (or one a test controls) plugs in without touching them;
//! [`crate::stooq::Stooq`] is the one the binary uses.

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use crate::answer::Answer;

/// Answers a quote lookup for a valid stock code.
pub trait QuoteSource: std::fmt::Debug + Send + Sync + 'static {
    /// Looks `code` up, giving up by `deadline` with
    /// [`Answer::Unavailable`](crate::answer::Answer::Unavailable) rather
    /// than running past it.
    fn lookup<'a>(&'a self, code: &'a str, deadline: Instant) -> BoxFuture<'a, Answer>;
}
