//! Who is online in which room on the other chat instances.
//!
//! Each instance announces its users coming online and going offline in a room
//! and, every few seconds, its whole list; an instance not heard from for a
//! while is forgotten, so a crashed instance's users go offline.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Online users per room, as one instance last told.
pub(crate) type RoomUsers = HashMap<Uuid, HashSet<String>>;

/// A user whose presence elsewhere changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The room.
    pub(crate) room: Uuid,
    /// The user.
    pub(crate) username: String,
    /// Whether they are now online on some other instance.
    pub(crate) online: bool,
}

#[derive(Debug)]
struct Instance {
    heard: Instant,
    rooms: RoomUsers,
}

/// The presence reported by every other instance.
#[derive(Debug, Default)]
pub(crate) struct RemotePresence {
    instances: Mutex<HashMap<Uuid, Instance>>,
    /// Whether `instances` is non-empty, readable without the lock (it is
    /// asked for every stored message).
    any: AtomicBool,
}

impl RemotePresence {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Instance>> {
        self.instances.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `username` is online in `room` on another instance.
    pub(crate) fn is_online(&self, room: Uuid, username: &str) -> bool {
        online(&self.lock(), room, username)
    }

    /// The users online in `room` on other instances.
    pub(crate) fn users(&self, room: Uuid) -> HashSet<String> {
        let instances = self.lock();
        instances.values().filter_map(|i| i.rooms.get(&room)).flatten().cloned().collect()
    }

    /// `instance` reports `username` online (or offline) in `room`.
    pub(crate) fn set(
        &self,
        instance: Uuid,
        room: Uuid,
        username: &str,
        is_online: bool,
    ) -> Option<Change> {
        let mut instances = self.lock();
        let before = online(&instances, room, username);
        let entry = self.heard_from(&mut instances, instance);
        let users = entry.rooms.entry(room).or_default();
        if is_online {
            users.insert(username.to_owned());
        } else {
            users.remove(username);
            if users.is_empty() {
                entry.rooms.remove(&room);
            }
        }
        let after = online(&instances, room, username);
        (before != after).then(|| Change { room, username: username.to_owned(), online: after })
    }

    /// `instance` reports everyone it has online.
    pub(crate) fn replace(&self, instance: Uuid, rooms: RoomUsers) -> Vec<Change> {
        let mut instances = self.lock();
        let old = instances.get(&instance).map(|i| i.rooms.clone()).unwrap_or_default();
        let touched = pairs(&old).chain(pairs(&rooms)).collect::<HashSet<_>>();
        let before: Vec<bool> = touched.iter().map(|(r, u)| online(&instances, *r, u)).collect();
        self.heard_from(&mut instances, instance).rooms = rooms;
        changes(&instances, touched, before)
    }

    /// Forgets instances not heard from within `silence`.
    pub(crate) fn expire(&self, silence: Duration) -> Vec<Change> {
        let mut instances = self.lock();
        let gone: Vec<Uuid> = instances
            .iter()
            .filter(|(_, i)| i.heard.elapsed() >= silence)
            .map(|(id, _)| *id)
            .collect();
        let mut result = Vec::new();
        for id in gone {
            let old = instances.get(&id).map(|i| i.rooms.clone()).unwrap_or_default();
            let touched = pairs(&old).collect::<HashSet<_>>();
            let before: Vec<bool> =
                touched.iter().map(|(r, u)| online(&instances, *r, u)).collect();
            instances.remove(&id);
            self.any.store(!instances.is_empty(), Ordering::Relaxed);
            tracing::info!(instance = %id, "chat instance silent; forgetting its presence");
            result.extend(changes(&instances, touched, before));
        }
        result
    }

    /// Whether any other instance is known to be alive.
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Notes that `instance` is alive.
    pub(crate) fn heard(&self, instance: Uuid) {
        self.heard_from(&mut self.lock(), instance);
    }

    fn heard_from<'a>(
        &self,
        instances: &'a mut HashMap<Uuid, Instance>,
        instance: Uuid,
    ) -> &'a mut Instance {
        self.any.store(true, Ordering::Relaxed);
        let entry = instances
            .entry(instance)
            .or_insert_with(|| Instance { heard: Instant::now(), rooms: RoomUsers::new() });
        entry.heard = Instant::now();
        entry
    }
}

fn online(instances: &HashMap<Uuid, Instance>, room: Uuid, username: &str) -> bool {
    instances.values().any(|i| i.rooms.get(&room).is_some_and(|users| users.contains(username)))
}

fn pairs(rooms: &RoomUsers) -> impl Iterator<Item = (Uuid, String)> + '_ {
    rooms.iter().flat_map(|(room, users)| users.iter().map(|u| (*room, u.clone())))
}

fn changes(
    instances: &HashMap<Uuid, Instance>,
    touched: HashSet<(Uuid, String)>,
    before: Vec<bool>,
) -> Vec<Change> {
    touched
        .into_iter()
        .zip(before)
        .filter_map(|((room, username), before)| {
            let after = online(instances, room, &username);
            (before != after).then_some(Change { room, username, online: after })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: Uuid = Uuid::from_u128(1);

    #[test]
    fn a_user_is_online_while_any_instance_reports_them() {
        let presence = RemotePresence::default();
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        assert!(presence.set(a, ROOM, "ann", true).is_some_and(|c| c.online));
        assert_eq!(presence.set(b, ROOM, "ann", true), None, "already online");
        assert_eq!(presence.set(a, ROOM, "ann", false), None, "still online on b");
        assert!(presence.set(b, ROOM, "ann", false).is_some_and(|c| !c.online));
        assert!(!presence.is_online(ROOM, "ann"));
    }

    #[test]
    fn a_full_report_replaces_the_instance_s_view() {
        let presence = RemotePresence::default();
        let a = Uuid::from_u128(10);
        presence.set(a, ROOM, "ann", true);
        let report = RoomUsers::from([(ROOM, HashSet::from(["bob".to_owned()]))]);
        let mut changes = presence.replace(a, report);
        changes.sort_by(|x, y| x.username.cmp(&y.username));
        assert_eq!(
            changes,
            [
                Change { room: ROOM, username: "ann".into(), online: false },
                Change { room: ROOM, username: "bob".into(), online: true },
            ]
        );
        assert_eq!(presence.users(ROOM), HashSet::from(["bob".to_owned()]));
    }

    #[test]
    fn a_silent_instance_s_users_go_offline() {
        let presence = RemotePresence::default();
        presence.set(Uuid::from_u128(10), ROOM, "ann", true);
        assert!(presence.any());
        assert!(presence.expire(Duration::from_secs(60)).is_empty());
        let changes = presence.expire(Duration::ZERO);
        assert_eq!(changes, [Change { room: ROOM, username: "ann".into(), online: false }]);
        assert!(!presence.is_online(ROOM, "ann"));
        assert!(!presence.any(), "no instance is known any more");
    }
}
