//! Test-only helpers: each integration test gets its own PostgreSQL database,
//! its own RabbitMQ vhost and its own fake Stooq, so tests run in parallel
//! against the machine's real services.
//!
//! # Layout
//!
//! - [`database`]: a fresh database per test, dropped when the test ends.
//! - [`e2e`]: a RustCrypto client of the encrypted rooms' scheme, and its
//!   known-answer vectors.
//! - [`rabbit`]: a fresh RabbitMQ vhost per test, deleted when the test ends.
//! - [`stooq`]: a fake Stooq serving the recorded bodies of `fixtures/stooq/`,
//!   switchable to a quota text, an HTML challenge, a hang or failed requests.

pub mod database;
pub mod e2e;
pub mod rabbit;
pub mod stooq;
