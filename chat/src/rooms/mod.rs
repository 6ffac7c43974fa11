//! Live rooms: who is connected where, presence, the writer that persists
//! then broadcasts every message, and the room events all of it is told in.
//!
//! Rooms live in a sharded concurrent map keyed by room id; a room with no
//! connection is dropped. Messages do not go through the map: they go to the
//! room writer, which group-commits them; PostgreSQL assigns each room's
//! order, and each room delivers once-encoded frames to its peers in that
//! order, whether the message was stored here or by another instance.
//!
//! # Layout
//!
//! - `event`: [`RoomEvent`], everything a room's members see happen, and
//!   where it happened.
//! - `writer`: the group commit, with a database connection of its own.
//! - `registry`: [`Rooms`], the live rooms, their peers and presence;
//!   `Rooms::publish` and `Rooms::apply`, the one way events reach sockets.
//! - `order`: a room's delivery order; `gaps`: reading back what it misses
//!   (and unread figures after a deletion).
//! - `presence`: who is online on the other instances, and the bounded
//!   report each instance sends of its own.
//! - `peer`: one connection as a room sees it, and the frames queued to it.
//! - `sockets`: the open sockets of each session, for logout.
//! - `watchers`: `/ws/notifications` sockets and their users' unread figures.
//! - `mentions`: the users a message's `@names` mention, for every way a
//!   message is posted (typed or with a file).
//! - `neighbours`: what the rooms tell the other instances (implemented by
//!   `cluster`, which in turn hands their events to [`Rooms`]).

mod event;
mod gaps;
mod mentions;
mod neighbours;
mod order;
mod peer;
mod presence;
mod registry;
mod sockets;
mod watchers;
mod writer;

pub(crate) use event::{Origin, RoomEvent};
pub(crate) use gaps::run as fill_gaps;
pub(crate) use mentions::resolve as resolve_mentions;
pub(crate) use neighbours::{Alone, Neighbours};
pub(crate) use peer::{CloseReason, Closer, Outgoing, Peer};
pub(crate) use presence::{Online, Report};
pub(crate) use registry::Rooms;
pub(crate) use sockets::SessionSockets;
pub(crate) use watchers::{WatchSocket, Watchers};
pub(crate) use writer::{
    BotPost, BotPostOutcome, ChangePost, FilePost, FilePosted, Post, RoomWriter,
};
