//! The map of live rooms and the presence of users in them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use protocol::ServerFrame;
use uuid::Uuid;

use super::{Outgoing, Peer};

/// The connections of one room.
#[derive(Default)]
struct Room {
    /// Every open connection to the room.
    peers: Vec<Arc<Peer>>,
    /// Connections per username: a user is online while it is above zero.
    online: HashMap<Arc<str>, usize>,
}

impl Room {
    fn broadcast(&self, frame: &Outgoing, skip_user: Option<Uuid>) {
        for peer in &self.peers {
            if Some(peer.user_id) != skip_user {
                peer.deliver(frame);
            }
        }
    }
}

/// Every room with at least one connection on this instance.
#[derive(Default)]
pub(crate) struct Rooms {
    map: DashMap<Uuid, Arc<Mutex<Room>>>,
}

fn lock(room: &Mutex<Room>) -> std::sync::MutexGuard<'_, Room> {
    // A panic while holding the lock cannot leave a half-updated Vec/HashMap
    // that matters more than losing the room: keep serving.
    room.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Rooms {
    /// Adds `peer` to `room_id`; tells the others if the user just came online.
    /// Returns who is online now (sorted), for the `presence` frame.
    pub(crate) fn join(&self, room_id: Uuid, peer: Arc<Peer>) -> Vec<String> {
        let entry = self.map.entry(room_id).or_default();
        let mut room = lock(&entry);
        let count = room.online.entry(peer.username.clone()).or_default();
        *count += 1;
        if *count == 1 {
            let joined = ServerFrame::UserJoined { username: peer.username.to_string() };
            room.broadcast(&encode(&joined), Some(peer.user_id));
        }
        room.peers.push(peer);
        let mut users: Vec<String> = room.online.keys().map(|name| name.to_string()).collect();
        users.sort_unstable();
        users
    }

    /// Removes connection `peer_id`; tells the others if its user went offline,
    /// and drops the room when it is empty.
    pub(crate) fn leave(&self, room_id: Uuid, peer_id: u64) {
        let Some(entry) = self.map.get(&room_id).map(|r| Arc::clone(&r)) else { return };
        {
            let mut room = lock(&entry);
            let Some(index) = room.peers.iter().position(|p| p.id == peer_id) else { return };
            let peer = room.peers.swap_remove(index);
            if let Some(count) = room.online.get_mut(&peer.username) {
                *count -= 1;
                if *count == 0 {
                    room.online.remove(&peer.username);
                    let left = ServerFrame::UserLeft { username: peer.username.to_string() };
                    room.broadcast(&encode(&left), None);
                }
            }
        }
        self.map.remove_if(&room_id, |_, room| lock(room).peers.is_empty());
    }

    /// Queues `frame` to every connection of the room, except those of `skip_user`.
    pub(crate) fn broadcast(&self, room_id: Uuid, frame: &Outgoing, skip_user: Option<Uuid>) {
        let Some(entry) = self.map.get(&room_id).map(|r| Arc::clone(&r)) else { return };
        lock(&entry).broadcast(frame, skip_user);
    }
}

/// Encodes a frame that carries no stored message.
pub(crate) fn encode(frame: &ServerFrame) -> Outgoing {
    Outgoing { text: frame.to_json().into(), message_id: None }
}
