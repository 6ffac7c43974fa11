//! Test-only helpers: each integration test gets its own PostgreSQL database,
//! its own RabbitMQ vhost and its own fake Stooq, so tests run in parallel
//! against the machine's real services.
//!
//! # Layout
//!
//! - [`database`]: a fresh database per test, dropped when the test ends.

pub mod database;
