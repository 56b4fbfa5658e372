//! The simulators' timeline: events in time order, and in the order they
//! were scheduled when their times are equal (so a seed replays exactly).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Scheduled events of type `E`.
pub struct Timeline<E> {
    seq: u64,
    order: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, E>,
}

impl<E> Default for Timeline<E> {
    fn default() -> Self {
        Timeline {
            seq: 0,
            order: BinaryHeap::new(),
            events: BTreeMap::new(),
        }
    }
}

impl<E> Timeline<E> {
    /// Schedule `ev` at time `at`.
    pub fn push(&mut self, at: u64, ev: E) {
        self.seq += 1;
        self.order.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, ev);
    }

    /// The next event and its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        loop {
            let Reverse((t, seq)) = self.order.pop()?;
            if let Some(ev) = self.events.remove(&seq) {
                return Some((t, ev));
            }
        }
    }
}
