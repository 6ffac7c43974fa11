//! The map of live rooms: room events applied to their sockets, delivery in
//! room order, and presence across instances.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use protocol::ServerFrame;
use protocol::frames::BIG_ROOM;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::event::{Origin, RoomEvent};
use super::gaps::ReadBack;
use super::order::{RoomOrder, Stored};
use super::presence::{Change, Online, RemotePresence, Report};
use super::{CloseReason, Neighbours, Outgoing, Peer, Watchers};
use crate::store::LogEntry;

/// The connections of one room.
#[derive(Default)]
struct Room {
    /// Every open connection to the room.
    peers: Vec<Arc<Peer>>,
    /// Connections per username: a user is online here while it is above
    /// zero. Sorted, so the first names of a big room are at hand.
    online: BTreeMap<Arc<str>, usize>,
    /// In a big room, the names (and the count) its clients were last told;
    /// `None` in a small room, whose clients hold every name.
    shown: Option<Shown>,
    /// Which stored message comes next.
    order: RoomOrder,
    /// A gap fill is on its way.
    filling: bool,
    /// The newest reaction change sent for each message (see [`Rooms::apply`]).
    reaction_versions: HashMap<Uuid, i32>,
    /// When each user typing here was last passed on (see [`Rooms::may_type`]).
    typed: HashMap<Uuid, Instant>,
}

/// Reaction versions a live room remembers before it starts again from
/// nothing (a stale state could then pass once).
const REMEMBERED_REACTIONS: usize = 10_000;
/// A user's typing notices reach a room at most this often, however many
/// sockets they type from: in a big room every notice is a frame per member.
const TYPING_INTERVAL: Duration = Duration::from_secs(2);

/// What the clients of a big room hold: the first [`BIG_ROOM`] names online,
/// sorted, and how many are online. A `presence_diff` moves them from the
/// last state told to the present one, so what it carries is bounded by the
/// list's length however many come and go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    names: BTreeSet<String>,
    online: usize,
}

impl Room {
    /// People online in the room: here, and on other instances (`remote`).
    fn online_count(&self, remote: &Online) -> usize {
        let named_elsewhere =
            remote.names.iter().filter(|u| !self.online.contains_key(u.as_str())).count();
        (self.online.len() + named_elsewhere).saturating_add(remote.more)
    }

    /// The first [`BIG_ROOM`] names online here and elsewhere, sorted.
    fn first_names(&self, remote: &Online) -> BTreeSet<String> {
        let mut names: BTreeSet<String> =
            self.online.keys().take(BIG_ROOM).map(|name| name.to_string()).collect();
        names.extend(remote.names.iter().take(BIG_ROOM).cloned());
        names.into_iter().take(BIG_ROOM).collect()
    }

    /// Where the room's clients stand now.
    fn present(&self, remote: &Online) -> Shown {
        Shown { names: self.first_names(remote), online: self.online_count(remote) }
    }

    /// A small room that grew past [`BIG_ROOM`] starts its diffs from what
    /// its clients hold: every name, as before the changes `untold` (a
    /// username and whether they came online).
    fn start_diffs<'a>(
        &mut self,
        remote: &Online,
        untold: impl IntoIterator<Item = (&'a str, bool)>,
    ) {
        let mut before = self.present(remote);
        for (username, online) in untold {
            if online {
                before.names.remove(username);
                before.online = before.online.saturating_sub(1);
            } else {
                before.names.insert(username.to_owned());
                before.online = before.online.saturating_add(1);
            }
        }
        before.names = std::mem::take(&mut before.names).into_iter().take(BIG_ROOM).collect();
        self.shown = Some(before);
    }

    /// Tells the room that `username` came online (or went offline), except
    /// `skip`: a small room at once; a big one (or one that just became big)
    /// in the next diff. Whether it is big is counted with the change.
    fn tell_presence(
        &mut self,
        username: String,
        online: bool,
        remote: &Online,
        skip: Option<&str>,
    ) {
        if self.shown.is_some() {
            return;
        }
        if self.online_count(remote) > BIG_ROOM {
            self.start_diffs(remote, [(username.as_str(), online)]);
            return;
        }
        let frame = presence_frame(username, online);
        for peer in self.peers.iter().filter(|peer| Some(&*peer.username) != skip) {
            peer.deliver(&frame);
        }
    }

    fn broadcast(&self, frame: &Outgoing, skip_user: Option<Uuid>) {
        for peer in &self.peers {
            if Some(peer.user_id) != skip_user {
                peer.deliver(frame);
            }
        }
    }

    /// Sends what the room's order released, and asks `gaps` for a fill when
    /// a message is missing and no fill is on its way.
    fn release(
        &mut self,
        room_id: Uuid,
        ready: &[Outgoing],
        gaps: &mpsc::UnboundedSender<ReadBack>,
    ) {
        for frame in ready {
            self.broadcast(frame, None);
        }
        if !self.filling && self.order.has_gap() {
            self.filling = true;
            let _ = gaps.send(ReadBack::Fill(room_id));
        }
    }
}

/// `user_joined` or `user_left`.
fn presence_frame(username: String, online: bool) -> Outgoing {
    Outgoing::notice(if online {
        ServerFrame::UserJoined { username }
    } else {
        ServerFrame::UserLeft { username }
    })
}

/// Every room with at least one connection on this instance, and what the
/// other instances report.
pub(crate) struct Rooms {
    map: DashMap<Uuid, Arc<Mutex<Room>>>,
    /// `/ws/notifications` sockets here, told of every stored message.
    watchers: Watchers,
    remote: RemotePresence,
    neighbours: Arc<dyn Neighbours>,
    gaps: mpsc::UnboundedSender<ReadBack>,
}

/// What a connection learns on joining a room.
pub(crate) struct Joined {
    /// Who is online in the room (on any instance), sorted; in a big room
    /// the first [`BIG_ROOM`] as its other clients hold them.
    pub(crate) users: Vec<String>,
    /// How many are online, when more than `users` names.
    pub(crate) online: Option<u32>,
    /// The room is new here: read its newest stored time and call [`Rooms::start`].
    pub(crate) needs_start: bool,
}

fn lock(room: &Mutex<Room>) -> std::sync::MutexGuard<'_, Room> {
    // A panic while holding the lock cannot leave a half-updated Vec/HashMap
    // that matters more than losing the room: keep serving.
    room.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Rooms {
    /// Rooms that tell `neighbours` (the other instances) what happens here
    /// and ask `gaps` to read back what they miss (see `rooms::gaps`).
    pub(crate) fn new(
        neighbours: Arc<dyn Neighbours>,
        gaps: mpsc::UnboundedSender<ReadBack>,
    ) -> Self {
        Self {
            map: DashMap::new(),
            watchers: Watchers::default(),
            remote: RemotePresence::default(),
            neighbours,
            gaps,
        }
    }

    /// The `/ws/notifications` sockets of this instance.
    pub(crate) fn watchers(&self) -> &Watchers {
        &self.watchers
    }

    /// `user`'s figures in `room` changed (a read marker moved, or the user
    /// joined): the instances where the user watches read them again.
    pub(crate) fn unread_changed(&self, user: Uuid, username: &str, room: Uuid) {
        if self.remote.any() {
            self.neighbours.unread_changed(user, username.to_owned(), room);
        }
    }

    fn room(&self, room_id: Uuid) -> Option<Arc<Mutex<Room>>> {
        self.map.get(&room_id).map(|r| Arc::clone(&r))
    }

    /// Adds `peer` to `room_id`; tells the room (here and elsewhere) if the
    /// user just came online.
    pub(crate) fn join(&self, room_id: Uuid, peer: Arc<Peer>) -> Joined {
        // The map's shard is not held past this line: publishing looks the room up.
        let entry = Arc::clone(&self.map.entry(room_id).or_default());
        let username = peer.username.to_string();
        let (joined, came_online) = {
            let mut room = lock(&entry);
            let count = room.online.entry(peer.username.clone()).or_default();
            *count += 1;
            let came_online = *count == 1;
            room.peers.push(peer);
            let remote = self.remote.room(room_id);
            let count = room.online_count(&remote);
            // The room grows past BIG_ROOM with this user: its diffs start
            // here, from the names its clients hold, which this user is
            // given too (the first diff then brings everyone up to date).
            if came_online && room.shown.is_none() && count > BIG_ROOM {
                let untold = !remote.names.contains(&username);
                room.start_diffs(&remote, untold.then_some((username.as_str(), true)));
            }
            let users: Vec<String> = match &room.shown {
                Some(shown) => shown.names.iter().cloned().collect(),
                None => room.first_names(&remote).into_iter().collect(),
            };
            let online = (count > users.len()).then(|| u32::try_from(count).unwrap_or(u32::MAX));
            (Joined { users, online, needs_start: !room.order.is_started() }, came_online)
        };
        if came_online {
            self.publish(RoomEvent::Presence { chatroom_id: room_id, username, online: true });
        }
        joined
    }

    /// Starts a new room's delivery after `newest`, its newest stored time.
    pub(crate) fn start(&self, room_id: Uuid, newest: Option<OffsetDateTime>) {
        let Some(entry) = self.room(room_id) else { return };
        let mut room = lock(&entry);
        let mut ready = Vec::new();
        room.order.start_after(newest, &mut ready);
        room.release(room_id, &ready, &self.gaps);
    }

    /// Removes connection `peer_id`; tells the room (here and elsewhere) if its
    /// user went offline, and drops the room when it is empty.
    pub(crate) fn leave(&self, room_id: Uuid, peer_id: u64) {
        let Some(entry) = self.room(room_id) else { return };
        let went_offline = {
            let mut room = lock(&entry);
            let Some(index) = room.peers.iter().position(|p| p.id == peer_id) else { return };
            let peer = room.peers.swap_remove(index);
            let count = room.online.get_mut(&peer.username).map(|count| {
                *count -= 1;
                *count
            });
            if count == Some(0) {
                room.online.remove(&peer.username);
                room.typed.remove(&peer.user_id);
            }
            (count == Some(0)).then(|| peer.username.to_string())
        };
        if let Some(username) = went_offline {
            self.publish(RoomEvent::Presence { chatroom_id: room_id, username, online: false });
        }
        self.map.remove_if(&room_id, |_, room| lock(room).peers.is_empty());
    }

    /// Whether `user`'s typing notice in `room_id` may go out now: at most
    /// one per [`TYPING_INTERVAL`] per user and room.
    pub(crate) fn may_type(&self, room_id: Uuid, user: Uuid) -> bool {
        let Some(entry) = self.room(room_id) else { return false };
        let mut room = lock(&entry);
        let now = Instant::now();
        match room.typed.get(&user) {
            Some(last) if now.duration_since(*last) < TYPING_INTERVAL => false,
            _ => {
                room.typed.insert(user, now);
                true
            }
        }
    }

    /// Brings each big room's clients from what they were last told to
    /// the present with one `presence_diff`, if anything changed (called
    /// once a second); a room back at [`BIG_ROOM`] or fewer, whose clients
    /// then hold every name, goes back to per-user frames.
    pub(crate) fn flush_presence(&self) {
        let rooms: Vec<(Uuid, Arc<Mutex<Room>>)> =
            self.map.iter().map(|entry| (*entry.key(), Arc::clone(entry.value()))).collect();
        for (room_id, entry) in rooms {
            let mut room = lock(&entry);
            let Some(shown) = room.shown.take() else { continue };
            let present = room.present(&self.remote.room(room_id));
            if present != shown {
                let frame = Outgoing::notice(ServerFrame::PresenceDiff {
                    joined: present.names.difference(&shown.names).cloned().collect(),
                    left: shown.names.difference(&present.names).cloned().collect(),
                    online: u32::try_from(present.online).unwrap_or(u32::MAX),
                });
                room.broadcast(&frame, None);
            }
            room.shown = (present.online > BIG_ROOM).then_some(present);
        }
    }

    /// An event that happened here: passed to the other instances (see
    /// [`RoomEvent::only_for_known_instances`]), then applied here.
    pub(crate) fn publish(&self, event: RoomEvent) {
        if self.remote.any() || !event.only_for_known_instances() {
            self.neighbours.publish(&event);
        }
        self.apply(Origin::Here, event);
    }

    /// Applies an event, from here or from another instance, to the room's
    /// sockets on this instance: the one place events become frames.
    pub(crate) fn apply(&self, origin: Origin, event: RoomEvent) {
        let room_id = event.room();
        match event {
            RoomEvent::Stored { message, previous } => {
                self.watchers.stored(&message);
                let entry = LogEntry::Message(Box::new(message));
                self.deliver(room_id, Stored::new(entry, previous));
            }
            RoomEvent::Changed { entry, previous } => {
                // The figures of those who had not read a deleted message
                // drop: read them again.
                if matches!(entry, LogEntry::Deleted { .. }) && self.watchers.any_in(room_id) {
                    let _ = self.gaps.send(ReadBack::Recount(room_id));
                }
                self.deliver(room_id, Stored::new(entry, previous));
            }
            RoomEvent::Reactions { message_id, reactions, version, .. } => {
                let Some(entry) = self.room(room_id) else { return };
                let mut room = lock(&entry);
                // The broker does not keep two instances' events in the order
                // they were made: a state older than one sent is dropped.
                if room.reaction_versions.get(&message_id).is_some_and(|sent| *sent >= version) {
                    return;
                }
                if room.reaction_versions.len() >= REMEMBERED_REACTIONS {
                    room.reaction_versions.clear();
                }
                room.reaction_versions.insert(message_id, version);
                let frame = ServerFrame::Reactions { message_id, reactions };
                room.broadcast(&Outgoing::notice(frame), None);
            }
            RoomEvent::MemberAdded { chatroom, user_id, username, by } => {
                self.watchers.room_added(user_id, &chatroom);
                let frame = Outgoing::notice(ServerFrame::MemberAdded { username, by });
                self.broadcast(room_id, &frame, None);
            }
            RoomEvent::MemberRemoved { user_id, username, by, .. } => {
                self.watchers.room_removed(user_id, room_id);
                let Some(entry) = self.room(room_id) else { return };
                let room = lock(&entry);
                let frame = Outgoing::notice(ServerFrame::MemberRemoved { username, by });
                room.broadcast(&frame, Some(user_id));
                for peer in room.peers.iter().filter(|peer| peer.user_id == user_id) {
                    peer.closer.close(CloseReason::Removed);
                }
            }
            RoomEvent::Typing { user_id, username, .. } => {
                let frame = Outgoing::notice(ServerFrame::Typing { username });
                self.broadcast(room_id, &frame, Some(user_id));
            }
            RoomEvent::Presence { username, online, .. } => match origin {
                Origin::Here => self.came_online_here(room_id, username, online),
                Origin::Instance(instance) => {
                    let change = self.remote.set(instance, room_id, &username, online);
                    self.announce(change.into_iter().collect());
                }
            },
        }
    }

    /// A user came online here (or went offline): the room hears it unless
    /// the user is online on another instance, or the change is already
    /// undone (a join and a leave crossing each other: the later one tells).
    fn came_online_here(&self, room_id: Uuid, username: String, online: bool) {
        let Some(entry) = self.room(room_id) else { return };
        let mut room = lock(&entry);
        // A big room hears it in its next diff.
        if room.shown.is_some()
            || room.online.contains_key(username.as_str()) != online
            || self.remote.is_online(room_id, &username)
        {
            return;
        }
        let remote = self.remote.room(room_id);
        let skip = username.clone();
        room.tell_presence(username, online, &remote, Some(&skip));
    }

    /// Queues `frame` to every connection of the room, except those of `skip_user`.
    fn broadcast(&self, room_id: Uuid, frame: &Outgoing, skip_user: Option<Uuid>) {
        let Some(entry) = self.room(room_id) else { return };
        lock(&entry).broadcast(frame, skip_user);
    }

    /// A stored message (from here, another instance or a gap fill): delivered
    /// once its predecessor has been; a repeat is dropped.
    fn deliver(&self, room_id: Uuid, message: Stored) {
        let Some(entry) = self.room(room_id) else { return };
        let mut room = lock(&entry);
        let mut ready = Vec::new();
        room.order.offer(message, &mut ready);
        room.release(room_id, &ready, &self.gaps);
    }

    /// The time of the last message a started room delivered (`Some(None)`
    /// when the room has no message); `None` when the room is not live here
    /// or not started.
    pub(crate) fn last_delivered(&self, room_id: Uuid) -> Option<Option<OffsetDateTime>> {
        self.room(room_id).and_then(|entry| lock(&entry).order.last())
    }

    /// Delivers log entries read back from the database (oldest first, the
    /// first following `after`) and ends the fill; a gap that remains asks
    /// for the next.
    pub(crate) fn filled(
        &self,
        room_id: Uuid,
        after: Option<OffsetDateTime>,
        entries: Vec<LogEntry>,
    ) {
        let Some(room_entry) = self.room(room_id) else { return };
        let mut room = lock(&room_entry);
        let mut ready = Vec::new();
        let mut previous = after;
        for entry in entries {
            let at = entry.at();
            room.order.offer(Stored::new(entry, previous), &mut ready);
            previous = Some(at);
        }
        room.filling = false;
        room.release(room_id, &ready, &self.gaps);
    }

    /// Asks for a fill of `room_id` unless one is on its way.
    pub(crate) fn request_fill(&self, room_id: Uuid) {
        let Some(entry) = self.room(room_id) else { return };
        let mut room = lock(&entry);
        if !room.filling {
            room.filling = true;
            let _ = self.gaps.send(ReadBack::Fill(room_id));
        }
    }

    /// Every started room and the time of its last delivered message.
    pub(crate) fn started(&self) -> Vec<(Uuid, Option<OffsetDateTime>)> {
        self.map
            .iter()
            .filter_map(|entry| lock(entry.value()).order.last().map(|last| (*entry.key(), last)))
            .collect()
    }

    /// Who is online on this instance, per room: every name, or in a big
    /// room the first [`BIG_ROOM`] and how many more.
    pub(crate) fn local_presence(&self) -> Report {
        self.map
            .iter()
            .map(|entry| {
                let room = lock(entry.value());
                let names = room.online.keys().map(|name| &**name);
                (*entry.key(), Online::first_of(names, room.online.len()))
            })
            .collect()
    }

    /// Another instance said hello: it is alive.
    pub(crate) fn heard_from(&self, instance: Uuid) {
        self.remote.heard(instance);
    }

    /// Another instance reports who it has online.
    pub(crate) fn remote_report(&self, instance: Uuid, report: Report) {
        let changes = self.remote.replace(instance, report);
        self.announce(changes);
    }

    /// Forgets instances silent for `silence`: their users go offline.
    pub(crate) fn expire_remote(&self, silence: Duration) {
        let changes = self.remote.expire(silence);
        self.announce(changes);
    }

    /// Tells local rooms about users who came online or went offline elsewhere
    /// (unless they are online here, where nothing changed).
    fn announce(&self, changes: Vec<Change>) {
        let mut by_room: HashMap<Uuid, Vec<(String, bool)>> = HashMap::new();
        for Change { room, username, online } in changes {
            by_room.entry(room).or_default().push((username, online));
        }
        for (room_id, changes) in by_room {
            let Some(entry) = self.room(room_id) else { continue };
            let mut room = lock(&entry);
            if room.shown.is_some() {
                continue;
            }
            let remote = self.remote.room(room_id);
            let changes: Vec<(String, bool)> = changes
                .into_iter()
                .filter(|(username, _)| !room.online.contains_key(username.as_str()))
                .collect();
            // The remote view already holds every change: a room they take
            // past BIG_ROOM starts its diffs from the names its clients hold.
            if room.online_count(&remote) > BIG_ROOM {
                room.start_diffs(&remote, changes.iter().map(|(u, online)| (u.as_str(), *online)));
                continue;
            }
            for (username, online) in changes {
                room.tell_presence(username, online, &remote, None);
            }
        }
    }
}
