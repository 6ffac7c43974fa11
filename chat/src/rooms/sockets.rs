//! The open WebSockets of each session, so logout closes them, here and on
//! the other instances.

use std::sync::Arc;

use dashmap::DashMap;

use super::{CloseReason, Closer, Neighbours};

/// Session token hash → its open connections.
pub(crate) struct SessionSockets {
    map: DashMap<[u8; 32], Vec<(u64, Closer)>>,
    neighbours: Arc<dyn Neighbours>,
}

impl SessionSockets {
    /// No sockets yet; logouts are passed on to `neighbours`.
    pub(crate) fn new(neighbours: Arc<dyn Neighbours>) -> Self {
        Self { map: DashMap::new(), neighbours }
    }

    /// Records connection `peer_id` of `session`.
    pub(crate) fn register(&self, session: [u8; 32], peer_id: u64, closer: Closer) {
        self.map.entry(session).or_default().push((peer_id, closer));
    }

    /// Forgets connection `peer_id` of `session`.
    pub(crate) fn deregister(&self, session: &[u8; 32], peer_id: u64) {
        if let Some(mut sockets) = self.map.get_mut(session) {
            sockets.retain(|(id, _)| *id != peer_id);
        }
        self.map.remove_if(session, |_, sockets| sockets.is_empty());
    }

    /// `session` was logged out here: its sockets close with 1008 on every instance.
    pub(crate) fn log_out(&self, session: &[u8; 32]) {
        self.close_session(session);
        self.neighbours.logged_out(*session);
    }

    /// Closes this instance's connections of `session` with 1008.
    pub(crate) fn close_session(&self, session: &[u8; 32]) {
        if let Some((_, sockets)) = self.map.remove(session) {
            for (_, closer) in sockets {
                closer.close(CloseReason::LoggedOut);
            }
        }
    }
}
