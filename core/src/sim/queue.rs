//! The event queue: events ordered by virtual time, then by the order they were scheduled in
//! (a sequence number), so that two events at the same millisecond always run in the same
//! order. Nothing else decides what happens next.

use crate::types::Millis;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An event waiting for its time.
#[derive(Debug)]
struct Queued<E> {
    at: Millis,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Queued<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Queued<E> {}

impl<E> PartialOrd for Queued<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Queued<E> {
    /// Reversed, so that the max-heap pops the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A deterministic priority queue of events.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Queued<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Millis, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Queued { at, seq, event });
    }

    /// The earliest event, with its time and sequence number.
    pub fn pop(&mut self) -> Option<(Millis, u64, E)> {
        self.heap.pop().map(|q| (q.at, q.seq, q.event))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<Millis> {
        self.heap.peek().map(|q| q.at)
    }

    pub fn len(&self) -> u64 {
        self.heap.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Every queued event, in no particular order (for views of messages in flight).
    pub fn iter(&self) -> impl Iterator<Item = (Millis, &E)> {
        self.heap.iter().map(|q| (q.at, &q.event))
    }

    /// Every queued event with its sequence number, which names it uniquely for as long as
    /// it is queued (the web page tells one message in flight from another by it).
    pub fn iter_seq(&self) -> impl Iterator<Item = (Millis, u64, &E)> {
        self.heap.iter().map(|q| (q.at, q.seq, &q.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_insertion() {
        let mut queue = EventQueue::default();
        queue.push(5, "c");
        queue.push(1, "a");
        queue.push(5, "d");
        queue.push(1, "b");
        let order: Vec<&str> = std::iter::from_fn(|| queue.pop().map(|(_, _, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }
}
