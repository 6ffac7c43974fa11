//! `/ws/notifications` sockets on this instance, and what each watching
//! user has not read in each of their rooms. Every stored message (from
//! here or from another instance) updates the figures of the members
//! watching its room; a moved read marker or a join sets them from the
//! database again; a membership added or removed adds or drops the room.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use protocol::{Chatroom, Message, NotificationFrame};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{CloseReason, Closer};
use crate::store::{MAX_UNREAD, Store, Unread};

/// One `/ws/notifications` socket: its bounded queue of JSON texts.
pub(crate) struct WatchSocket {
    /// Numbers the socket (unique per process).
    pub(crate) id: u64,
    /// Full: the socket is too slow and is closed.
    pub(crate) outbox: mpsc::Sender<Arc<str>>,
    /// Closes it.
    pub(crate) closer: Closer,
}

/// A user watching from this instance.
struct Watcher {
    /// As mentions name them.
    username: String,
    sockets: Vec<WatchSocket>,
    /// Room → what the user has not read there.
    counts: HashMap<Uuid, Unread>,
}

impl Watcher {
    fn send(&self, frame: &NotificationFrame) {
        let text: Arc<str> = frame.to_json().into();
        for socket in &self.sockets {
            if let Err(mpsc::error::TrySendError::Full(_)) = socket.outbox.try_send(text.clone()) {
                socket.closer.close(CloseReason::SlowConsumer);
            }
        }
    }

    fn send_counts(&self, room: Uuid) {
        if let Some(counts) = self.counts.get(&room) {
            self.send(&unread_frame(room, *counts));
        }
    }
}

fn unread_frame(room: Uuid, counts: Unread) -> NotificationFrame {
    let clamp = |n: i64| u32::try_from(n.clamp(0, MAX_UNREAD)).unwrap_or(0);
    NotificationFrame::Unread {
        chatroom_id: room,
        unread: clamp(counts.unread),
        mentions: clamp(counts.mentions),
    }
}

fn lock(watcher: &Mutex<Watcher>) -> std::sync::MutexGuard<'_, Watcher> {
    watcher.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The users watching from this instance.
#[derive(Default)]
pub(crate) struct Watchers {
    users: DashMap<Uuid, Arc<Mutex<Watcher>>>,
    /// Room → the users watching it here.
    by_room: DashMap<Uuid, HashSet<Uuid>>,
}

impl Watchers {
    /// Adds a socket of `user`, whose figures per room are `counts`, and
    /// returns the greeting to send it before anything queued: every room's
    /// figures (however many rooms: the greeting is not bounded by the queue).
    pub(crate) fn watch(
        &self,
        user: Uuid,
        username: &str,
        socket: WatchSocket,
        counts: Vec<(Uuid, Unread)>,
    ) -> Vec<NotificationFrame> {
        let entry = self.users.entry(user).or_insert_with(|| {
            Arc::new(Mutex::new(Watcher {
                username: username.to_owned(),
                sockets: Vec::new(),
                counts: HashMap::new(),
            }))
        });
        let mut watcher = lock(&entry);
        for (room, figures) in counts {
            watcher.counts.insert(room, figures);
            self.by_room.entry(room).or_default().insert(user);
        }
        // Taken under the lock that later changes wait for: whatever changes
        // after the greeting reaches the socket's queue, which it sends after.
        let greeting =
            watcher.counts.iter().map(|(room, counts)| unread_frame(*room, *counts)).collect();
        watcher.sockets.push(socket);
        greeting
    }

    /// Removes socket `id` of `user`; the user's last socket ends the watch.
    pub(crate) fn unwatch(&self, user: Uuid, id: u64) {
        let Some(entry) = self.users.get(&user).map(|e| Arc::clone(&e)) else { return };
        let rooms: Vec<Uuid> = {
            let mut watcher = lock(&entry);
            watcher.sockets.retain(|socket| socket.id != id);
            if !watcher.sockets.is_empty() {
                return;
            }
            watcher.counts.keys().copied().collect()
        };
        self.users.remove_if(&user, |_, watcher| lock(watcher).sockets.is_empty());
        for room in rooms {
            if let Some(mut users) = self.by_room.get_mut(&room) {
                users.remove(&user);
            }
            self.by_room.remove_if(&room, |_, users| users.is_empty());
        }
    }

    /// Whether `user` watches from here.
    pub(crate) fn is_watching(&self, user: Uuid) -> bool {
        self.users.contains_key(&user)
    }

    /// A message was stored: every member watching its room (but its
    /// author) has one more unread, and one more mention if it names them.
    pub(crate) fn stored(&self, message: &Message) {
        // A copy: `recount` locks a watcher, then this map.
        let Some(users) = self.by_room.get(&message.chatroom_id).map(|u| u.clone()) else {
            return;
        };
        for user in users {
            if user == message.user_id {
                continue;
            }
            let Some(entry) = self.users.get(&user).map(|e| Arc::clone(&e)) else { continue };
            let mut watcher = lock(&entry);
            let mentioned =
                message.mentions.iter().any(|name| name.eq_ignore_ascii_case(&watcher.username));
            let Some(counts) = watcher.counts.get_mut(&message.chatroom_id) else { continue };
            counts.unread = (counts.unread + 1).min(MAX_UNREAD);
            if mentioned {
                counts.mentions = (counts.mentions + 1).min(MAX_UNREAD);
                watcher.send(&NotificationFrame::Mention { message: message.clone() });
            }
            watcher.send_counts(message.chatroom_id);
        }
    }

    /// Whether anyone watches `room` from here.
    pub(crate) fn any_in(&self, room: Uuid) -> bool {
        self.by_room.contains_key(&room)
    }

    /// Reads again the figures in `room` of everyone watching it here (a
    /// message was deleted).
    pub(crate) async fn recount_room(&self, store: &Store, room: Uuid) {
        let users: Vec<Uuid> = self
            .by_room
            .get(&room)
            .map(|users| users.iter().copied().collect())
            .unwrap_or_default();
        for user in users {
            let Some(username) =
                self.users.get(&user).map(|watcher| lock(&watcher).username.clone())
            else {
                continue;
            };
            self.refresh(store, user, &username, room).await;
        }
    }

    /// Reads `user`'s figures in `room` again (after a read or a join),
    /// only when the user watches here. A failure leaves the sockets behind
    /// until the next change.
    pub(crate) async fn refresh(&self, store: &Store, user: Uuid, username: &str, room: Uuid) {
        if !self.is_watching(user) {
            return;
        }
        match store.unread_in(room, user, username).await {
            Ok(counts) => self.recount(user, room, counts),
            Err(error) => tracing::warn!(%error, "unread figures not read"),
        }
    }

    /// `user`'s figures in `room` are `counts` now.
    fn recount(&self, user: Uuid, room: Uuid, counts: Unread) {
        let Some(entry) = self.users.get(&user).map(|e| Arc::clone(&e)) else { return };
        let mut watcher = lock(&entry);
        watcher.counts.insert(room, counts);
        self.by_room.entry(room).or_default().insert(user);
        watcher.send_counts(room);
    }

    /// `user` became a member of `chatroom` (with everything before read):
    /// their sockets here hear of the room, and count in it from now on.
    pub(crate) fn room_added(&self, user: Uuid, chatroom: &Chatroom) {
        let Some(entry) = self.users.get(&user).map(|e| Arc::clone(&e)) else { return };
        let mut watcher = lock(&entry);
        watcher.counts.insert(chatroom.id, Unread { unread: 0, mentions: 0 });
        self.by_room.entry(chatroom.id).or_default().insert(user);
        watcher.send(&NotificationFrame::RoomAdded { chatroom: chatroom.clone() });
        watcher.send_counts(chatroom.id);
    }

    /// `user` is no longer a member of `room`: its figures go, and their
    /// sockets here hear so.
    pub(crate) fn room_removed(&self, user: Uuid, room: Uuid) {
        let Some(entry) = self.users.get(&user).map(|e| Arc::clone(&e)) else { return };
        let mut watcher = lock(&entry);
        watcher.counts.remove(&room);
        if let Some(mut users) = self.by_room.get_mut(&room) {
            users.remove(&user);
        }
        self.by_room.remove_if(&room, |_, users| users.is_empty());
        watcher.send(&NotificationFrame::RoomRemoved { chatroom_id: room });
    }
}
