//! Live rooms: who is connected where, presence, and the writers that persist
//! then broadcast every message.
//!
//! Rooms live in a sharded concurrent map keyed by room id; a room with no
//! connection is dropped. Messages do not go through the map: they go to one of
//! a fixed set of writer shards (chosen by room id, so a room's order is its
//! shard's commit order), which group-commit them and then fan out once-encoded
//! frames to the room's peers.

mod peer;
mod registry;
mod writer;

pub(crate) use peer::{CloseReason, Closer, Outgoing, Peer};
pub(crate) use registry::Rooms;
pub(crate) use writer::{BotPost, BotPostOutcome, Post, Writers};
