//! Delivery bookkeeping: what one receiver saw of one sender's messages.
//!
//! Every sender numbers its messages 0, 1, 2…; the server must hand each of
//! them to every member of the room once, in that order. A receiver keeps one
//! [`Stream`] per sender of its room: the next sequence it expects, and the
//! sequences it skipped (a gap) that may still arrive late.

/// One (receiver, sender) pair.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Stream {
    /// One past the highest sequence seen.
    next: u32,
    /// Sequences below `next` not seen yet: lost, unless they arrive late.
    gaps: Vec<u32>,
    /// Copies of a sequence already seen.
    duplicated: u32,
    /// Sequences that arrived after a higher one.
    reordered: u32,
}

/// How a delivered sequence fits its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The first copy: in order, or ahead of the expected one (the skipped
    /// ones become gaps).
    First,
    /// The first copy, but after a higher sequence: reordered.
    Late,
    /// Seen before.
    Duplicate,
}

impl Seen {
    /// Whether this is the first copy, counted as a delivery.
    pub(crate) fn is_first(self) -> bool {
        self != Seen::Duplicate
    }
}

impl Stream {
    /// Records that `seq` arrived.
    pub(crate) fn observe(&mut self, seq: u32) -> Seen {
        if seq >= self.next {
            self.gaps.extend(self.next..seq);
            self.next = seq + 1;
            Seen::First
        } else if let Some(at) = self.gaps.iter().position(|&gap| gap == seq) {
            self.gaps.swap_remove(at);
            self.reordered += 1;
            Seen::Late
        } else {
            self.duplicated += 1;
            Seen::Duplicate
        }
    }

    /// The sequences seen at least once.
    pub(crate) fn distinct(&self) -> u32 {
        self.next - self.gaps.len() as u32
    }

    /// What this stream contributes to the run's totals, given how many
    /// messages its sender sent.
    pub(crate) fn tally(&self, sent: u32) -> Tally {
        let distinct = u64::from(self.distinct());
        Tally {
            expected: u64::from(sent),
            delivered: distinct,
            lost: u64::from(sent).saturating_sub(distinct),
            duplicated: u64::from(self.duplicated),
            reordered: u64::from(self.reordered),
            // More distinct messages than were sent: the server invented some.
            unexpected: distinct.saturating_sub(u64::from(sent)),
        }
    }
}

/// Delivery totals, summed over streams.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Deliveries due: every message sent, to every connected member of its room.
    pub(crate) expected: u64,
    /// Distinct messages that arrived.
    pub(crate) delivered: u64,
    /// Due but never arrived.
    pub(crate) lost: u64,
    /// Extra copies.
    pub(crate) duplicated: u64,
    /// Arrived after a later message of the same sender.
    pub(crate) reordered: u64,
    /// Sequences the sender never sent (counted as errors).
    pub(crate) unexpected: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.unexpected += other.unexpected;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u32]) -> (Stream, Vec<Seen>) {
        let mut stream = Stream::default();
        let seen = seqs.iter().map(|&seq| stream.observe(seq)).collect();
        (stream, seen)
    }

    #[test]
    fn in_order_stream_is_clean() {
        let (stream, seen) = feed(&[0, 1, 2, 3]);
        assert!(seen.iter().all(|s| *s == Seen::First));
        let tally = stream.tally(4);
        assert_eq!(tally, Tally { expected: 4, delivered: 4, ..Tally::default() });
    }

    #[test]
    fn missing_messages_are_lost_including_the_tail() {
        // 2 never comes, and 5 (the last one sent) neither.
        let (stream, _) = feed(&[0, 1, 3, 4]);
        let tally = stream.tally(6);
        assert_eq!(tally.delivered, 4);
        assert_eq!(tally.lost, 2);
        assert_eq!(tally.reordered, 0);
        assert_eq!(tally.duplicated, 0);
    }

    #[test]
    fn late_arrival_is_reordered_not_lost() {
        let (stream, seen) = feed(&[0, 2, 1, 3]);
        assert_eq!(seen, [Seen::First, Seen::First, Seen::Late, Seen::First]);
        let tally = stream.tally(4);
        assert_eq!((tally.delivered, tally.lost, tally.reordered), (4, 0, 1));
    }

    #[test]
    fn second_copy_is_a_duplicate_wherever_it_lands() {
        let (stream, seen) = feed(&[0, 1, 1, 2, 0, 4, 4]);
        assert_eq!(seen.iter().filter(|s| !s.is_first()).count(), 3);
        let tally = stream.tally(5);
        assert_eq!(tally.duplicated, 3);
        assert_eq!(tally.delivered, 4);
        assert_eq!(tally.lost, 1);
        assert_eq!(tally.reordered, 0);
    }

    #[test]
    fn a_late_copy_of_a_late_message_is_a_duplicate() {
        let (stream, seen) = feed(&[1, 0, 0]);
        assert_eq!(seen, [Seen::First, Seen::Late, Seen::Duplicate]);
        assert_eq!(
            stream.tally(2),
            Tally { expected: 2, delivered: 2, duplicated: 1, reordered: 1, ..Tally::default() }
        );
    }

    #[test]
    fn sequences_never_sent_are_flagged() {
        let (stream, _) = feed(&[0, 1, 2]);
        let tally = stream.tally(2);
        assert_eq!((tally.lost, tally.unexpected), (0, 1));
    }

    #[test]
    fn tallies_add_up() {
        let mut total = Tally::default();
        total += feed(&[0, 2]).0.tally(3);
        total += feed(&[1, 0]).0.tally(2);
        assert_eq!(
            total,
            Tally { expected: 5, delivered: 4, lost: 1, reordered: 1, ..Tally::default() }
        );
    }
}
