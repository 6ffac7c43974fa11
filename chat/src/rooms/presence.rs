//! Who is online in which room on the other chat instances.
//!
//! Each instance announces its users coming online and going offline in a room
//! and, every few seconds, a report of each room: every name in a room of up
//! to [`BIG_ROOM`], the first [`BIG_ROOM`] names and how many more in a
//! bigger one, so a report stays bounded however many are online. An
//! instance not heard from for a while is forgotten, so a crashed instance's
//! users go offline.
//!
//! The first [`BIG_ROOM`] names over all instances are among the first
//! [`BIG_ROOM`] each instance names, so a big room's list stays exact; its
//! count adds the instances' counts, and a user online on two instances
//! beyond their first names counts twice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use protocol::frames::BIG_ROOM;
use uuid::Uuid;

/// One room's people online on one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Online {
    /// Their names: all of them, or the first [`BIG_ROOM`] in a big room
    /// (and those who came since the last report).
    pub(crate) names: BTreeSet<String>,
    /// How many more are online than `names` holds.
    pub(crate) more: usize,
}

impl Online {
    /// The report of `count` people whose names, sorted, are `names`.
    pub(crate) fn first_of<'a>(names: impl Iterator<Item = &'a str>, count: usize) -> Self {
        let names: BTreeSet<String> = names.take(BIG_ROOM).map(str::to_owned).collect();
        let more = count.saturating_sub(names.len());
        Self { names, more }
    }

    /// How many are online.
    pub(crate) fn count(&self) -> usize {
        self.names.len().saturating_add(self.more)
    }
}

/// An instance's report: its people online per room.
pub(crate) type Report = HashMap<Uuid, Online>;

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
    rooms: Report,
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

    /// The people online in `room` on other instances: every name they
    /// reported, and how many more.
    pub(crate) fn room(&self, room: Uuid) -> Online {
        let instances = self.lock();
        let mut all = Online::default();
        for online in instances.values().filter_map(|i| i.rooms.get(&room)) {
            all.names.extend(online.names.iter().cloned());
            // Saturating: a count is what another instance said.
            all.more = all.more.saturating_add(online.more);
        }
        all
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
            users.names.insert(username.to_owned());
        } else if !users.names.remove(username) {
            // One of those the last report only counted.
            users.more = users.more.saturating_sub(1);
        }
        if users.count() == 0 {
            entry.rooms.remove(&room);
        }
        let after = online(&instances, room, username);
        (before != after).then(|| Change { room, username: username.to_owned(), online: after })
    }

    /// `instance` reports who it has online.
    pub(crate) fn replace(&self, instance: Uuid, rooms: Report) -> Vec<Change> {
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
            .or_insert_with(|| Instance { heard: Instant::now(), rooms: Report::new() });
        entry.heard = Instant::now();
        entry
    }
}

fn online(instances: &HashMap<Uuid, Instance>, room: Uuid, username: &str) -> bool {
    instances
        .values()
        .any(|i| i.rooms.get(&room).is_some_and(|users| users.names.contains(username)))
}

/// Every named user of a report (at most [`BIG_ROOM`] per room, and those
/// who came since).
fn pairs(rooms: &Report) -> impl Iterator<Item = (Uuid, String)> + '_ {
    rooms.iter().flat_map(|(room, users)| users.names.iter().map(|u| (*room, u.clone())))
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
        let report = Report::from([(ROOM, named(&["bob"], 0))]);
        let mut changes = presence.replace(a, report);
        changes.sort_by(|x, y| x.username.cmp(&y.username));
        assert_eq!(
            changes,
            [
                Change { room: ROOM, username: "ann".into(), online: false },
                Change { room: ROOM, username: "bob".into(), online: true },
            ]
        );
        assert_eq!(presence.room(ROOM), named(&["bob"], 0));
    }

    fn named(names: &[&str], more: usize) -> Online {
        Online { names: names.iter().map(|n| (*n).to_owned()).collect(), more }
    }

    #[test]
    fn a_big_room_is_reported_by_its_first_names_and_a_count() {
        let names: Vec<String> = (0..250).map(|n| format!("fan{n:03}")).collect();
        let report = Online::first_of(names.iter().map(String::as_str), names.len());
        assert_eq!(report.names.len(), BIG_ROOM);
        assert_eq!(report.names.first().map(String::as_str), Some("fan000"));
        assert_eq!(report.more, 150);
        assert_eq!(report.count(), 250);
    }

    #[test]
    fn instances_counts_add_up_and_a_counted_user_leaving_lowers_the_count() {
        let presence = RemotePresence::default();
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        presence.replace(a, Report::from([(ROOM, named(&["ann"], 120))]));
        presence.replace(b, Report::from([(ROOM, named(&["bob"], 30))]));
        assert_eq!(presence.room(ROOM), named(&["ann", "bob"], 150));
        // Someone a's report only counted goes offline there.
        assert_eq!(presence.set(a, ROOM, "zed", false), None);
        assert_eq!(presence.room(ROOM).count(), 151);
        assert!(presence.set(a, ROOM, "cat", true).is_some_and(|c| c.online));
        assert_eq!(presence.room(ROOM), named(&["ann", "bob", "cat"], 149));
        // A count past belief from one instance saturates; it panics nothing.
        presence.replace(b, Report::from([(ROOM, named(&[], usize::MAX))]));
        assert_eq!(presence.room(ROOM).count(), usize::MAX);
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
