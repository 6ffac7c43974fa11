//! What asking Stooq for one code came to: a quote, an unknown symbol, or no
//! usable answer (and why, for the logs).

use std::fmt;

/// The outcome of one lookup; [`crate::reply`] turns it into the reply text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Stooq knows the symbol and gave its last close.
    Quote(Quote),
    /// Stooq answered `N/D`: it has no such symbol.
    NotFound,
    /// No usable answer; the user is told the service is unavailable.
    Unavailable(Unavailable),
}

/// A quote as Stooq gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The symbol as Stooq names it, upper-case, e.g. `AAPL.US`.
    pub symbol: String,
    /// The close exactly as Stooq wrote it, e.g. `181.18`.
    pub close: String,
}

/// Why there is no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The body was empty.
    Empty,
    /// The body was larger than any quote can be.
    Oversized,
    /// The body is not the quote CSV (quota text, an HTML page, garbage).
    NotCsv,
    /// The CSV stops before its first row is complete.
    Truncated,
    /// The row's symbol or close is not what a quote looks like.
    Malformed,
    /// Stooq answered with this HTTP status.
    Status(u16),
    /// An attempt took longer than its timeout.
    Timeout,
    /// Connecting, sending or receiving failed.
    Transport,
    /// Stooq failed repeatedly of late; the circuit breaker is open.
    CircuitOpen,
    /// The answer budget ran out before an attempt could be made.
    OutOfTime,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Empty => f.write_str("empty body"),
            Unavailable::Oversized => f.write_str("oversized body"),
            Unavailable::NotCsv => f.write_str("body is not the quote CSV"),
            Unavailable::Truncated => f.write_str("truncated CSV"),
            Unavailable::Malformed => f.write_str("malformed quote row"),
            Unavailable::Status(status) => write!(f, "HTTP status {status}"),
            Unavailable::Timeout => f.write_str("timed out"),
            Unavailable::Transport => f.write_str("connection failed"),
            Unavailable::CircuitOpen => f.write_str("circuit open after repeated failures"),
            Unavailable::OutOfTime => f.write_str("answer budget exhausted"),
        }
    }
}
