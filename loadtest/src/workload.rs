//! The workload: who is in which room, and who sends when.
//!
//! User `u` is in room `u % rooms`, where it is member number `u / rooms`.
//! The run's messages are numbered `g = 0, 1, 2…`; message `g` is meant to be
//! sent at `g / rate` seconds by user `g % users`, so every user sends at the
//! same steady pace and the rooms share the load evenly.
//!
//! With several server instances, user `u` connects to instance
//! `(u / rooms) % instances`: a room's consecutive members alternate between
//! the instances, so every room spans as many of them as it has members for,
//! and most deliveries cross from one instance to another. (`u % instances`
//! would not do: when `instances` divides `rooms`, a room's members would
//! all land on the same instance.)

use serde::Serialize;

/// What a run offers, as written in the JSON's `workload`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// The server's base URL (its first instance, where the setup goes).
    pub url: String,
    /// The base URLs of its other instances, if any.
    pub also_urls: Vec<String>,
    /// Simulated users, one WebSocket each.
    pub users: u32,
    /// Rooms the users are spread over.
    pub rooms: u32,
    /// Messages per second offered, over all users (open loop).
    pub rate_msgs_per_s: f64,
    /// Length of the sending phase, seconds.
    pub duration_s: f64,
    /// Bytes of message content.
    pub payload_bytes: usize,
    /// Longest wait for the last deliveries after the sending phase, seconds.
    pub drain_s: f64,
    /// Whether the baseline commits messages to PostgreSQL before fanning them out.
    pub durable_baseline: bool,
    /// Whether every user connects at once, instead of a few at a time.
    pub join_storm: bool,
    /// Whether the rooms are encrypted and messages sealed.
    pub encrypted: bool,
}

impl Workload {
    /// The room of user `user`.
    pub(crate) fn room_of(&self, user: u32) -> u32 {
        user % self.rooms
    }

    /// User number `member` of room `room` (members are numbered `user / rooms`).
    pub(crate) fn member(&self, room: u32, member: u32) -> u32 {
        room + member * self.rooms
    }

    /// How many server instances the users are spread over.
    pub(crate) fn instances(&self) -> usize {
        1 + self.also_urls.len()
    }

    /// The instance, of `instances`, that user `user` connects to: round
    /// robin over each room's members (see the module documentation).
    pub(crate) fn instance_of(&self, user: u32, instances: usize) -> usize {
        (user / self.rooms) as usize % instances
    }

    /// How many users room `room` has.
    pub(crate) fn room_size(&self, room: u32) -> u32 {
        self.users / self.rooms + u32::from(room < self.users % self.rooms)
    }

    /// How many messages the sending phase offers.
    pub(crate) fn total_messages(&self) -> u64 {
        (self.rate_msgs_per_s * self.duration_s).floor() as u64
    }

    /// Who sends message `g`, and when it is meant to go, in µs since the epoch.
    pub(crate) fn schedule(&self, g: u64) -> (u32, u64) {
        let user = (g % u64::from(self.users)) as u32;
        let intended_us = (g as f64 * 1e6 / self.rate_msgs_per_s) as u64;
        (user, intended_us)
    }

    /// How many messages are due by `elapsed_us` since the epoch (message 0 is due at 0).
    pub(crate) fn due_by(&self, elapsed_us: u64) -> u64 {
        let due = (elapsed_us as f64 * self.rate_msgs_per_s / 1e6).floor() as u64 + 1;
        due.min(self.total_messages())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(users: u32, rooms: u32, rate: f64, duration: f64) -> Workload {
        Workload {
            url: "http://127.0.0.1:8080".into(),
            also_urls: Vec::new(),
            users,
            rooms,
            rate_msgs_per_s: rate,
            duration_s: duration,
            payload_bytes: 100,
            drain_s: 5.0,
            durable_baseline: false,
            join_storm: false,
            encrypted: false,
        }
    }

    #[test]
    fn users_spread_over_rooms_with_dense_member_indexes() {
        let w = workload(23, 10, 100.0, 1.0);
        assert_eq!((0..10).map(|r| w.room_size(r)).sum::<u32>(), 23);
        assert_eq!(w.room_size(2), 3);
        assert_eq!(w.room_size(3), 2);
        for room in 0..10 {
            let mut members: Vec<u32> =
                (0..23).filter(|&u| w.room_of(u) == room).map(|u| u / w.rooms).collect();
            members.sort_unstable();
            assert_eq!(members, (0..w.room_size(room)).collect::<Vec<_>>());
            assert!(members.iter().all(|&m| w.room_of(w.member(room, m)) == room));
        }
    }

    #[test]
    fn schedule_is_round_robin_at_the_rate() {
        let w = workload(4, 2, 1000.0, 2.0);
        assert_eq!(w.total_messages(), 2000);
        assert_eq!(w.schedule(0), (0, 0));
        assert_eq!(w.schedule(5), (1, 5000));
        assert_eq!(w.schedule(1999), (3, 1_999_000));
        assert_eq!(w.due_by(0), 1);
        assert_eq!(w.due_by(999), 1);
        assert_eq!(w.due_by(1000), 2);
        assert_eq!(w.due_by(10_000_000), 2000);
    }

    #[test]
    fn users_are_assigned_round_robin_to_instances() {
        let w = workload(40, 10, 100.0, 1.0);
        let instance: Vec<usize> = (0..40).map(|u| w.instance_of(u, 2)).collect();
        // Users 0-9 are member 0 of their rooms, 10-19 member 1, and so on.
        assert!(instance[..10].iter().chain(&instance[20..30]).all(|&i| i == 0));
        assert!(instance[10..20].iter().chain(&instance[30..]).all(|&i| i == 1));
        for room in 0..10 {
            let members = (0..w.room_size(room)).map(|m| w.member(room, m));
            let on: Vec<usize> = members.map(|u| w.instance_of(u, 3)).collect();
            assert_eq!(on, [0, 1, 2, 0], "room {room}");
        }
        // One instance (or the baseline): everyone on it.
        assert!((0..40).all(|u| w.instance_of(u, 1) == 0));
    }
}
