//! The open WebSockets of each session, so logout can close them.

use dashmap::DashMap;

use crate::rooms::{CloseReason, Closer};

/// Session token hash → its open connections.
#[derive(Default)]
pub(crate) struct SessionSockets {
    map: DashMap<[u8; 32], Vec<(u64, Closer)>>,
}

impl SessionSockets {
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

    /// Closes every connection of `session` with 1008.
    pub(crate) fn close_session(&self, session: &[u8; 32]) {
        if let Some((_, sockets)) = self.map.remove(session) {
            for (_, closer) in sockets {
                closer.close(CloseReason::LoggedOut);
            }
        }
    }
}
