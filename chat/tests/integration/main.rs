//! End-to-end tests: the real server on `127.0.0.1:0` against the machine's
//! PostgreSQL and RabbitMQ (a database and a vhost per test), driven by a real
//! HTTP client and a real WebSocket client.

#![allow(clippy::unwrap_used)]

mod support;

mod abuse;
mod attachments;
mod auth;
mod binary;
mod browser;
mod cluster;
mod deploy;
mod documents;
mod edits;
mod encrypted;
mod faults;
mod hostile;
mod hostile_property;
mod keys;
mod limits;
mod members;
mod messages;
mod notifications;
mod poison;
mod quotes;
mod reactions;
mod rooms;
mod schemathesis;
mod search;
mod security;
mod stock;
mod unread;
mod websocket;
