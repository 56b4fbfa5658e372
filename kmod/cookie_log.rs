// SPDX-License-Identifier: GPL-2.0

//! The cookie log: the last N updates and replays applied to a channel, each
//! as `(opid, epoch, sections touched)`, so that a new owner that finds the
//! register beyond anything it received can ask which sections those opids
//! touched and which owner wrote them.

use kernel::prelude::*;

/// One applied update or replay.  A replay may advance the register by more
/// than one: the entry then covers every opid above the previous entry's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Entry {
    pub(crate) opid: u64,
    pub(crate) cookie: u64,
    pub(crate) epoch: u32,
}

/// A ring of [`Entry`], grown on demand up to its capacity so that an idle
/// channel costs no memory, the oldest entry starting after `base`.  A ring
/// that cannot grow stops growing: it then forgets sooner, never refuses.
///
/// INVARIANT: `len <= ring.len() <= cap`; the opids of the `len` live
/// entries strictly increase from the oldest to the newest and all exceed
/// `base`; while `len == ring.len()` and `head == 0`, they are `ring[..len]`
/// in order, and only then does the ring grow.
pub(crate) struct CookieLog {
    /// Large logs (a `cookie_log_len` of 65536 is 1.5 MiB) may be virtually
    /// contiguous.
    ring: KVVec<Entry>,
    cap: usize,
    /// Index the next entry is written to.
    head: usize,
    len: usize,
    /// Register value before the oldest live entry.
    base: u64,
}

/// The answer to "which sections did the opids after X touch".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Cookies {
    Known(u64),
    /// The log no longer reaches back to X.
    Short,
}

impl CookieLog {
    pub(crate) fn new(capacity: u32) -> Self {
        // INVARIANT: empty log, base 0 = nothing applied yet.
        CookieLog {
            ring: KVVec::new(),
            cap: capacity as usize,
            head: 0,
            len: 0,
            base: 0,
        }
    }

    /// Makes room for the next [`CookieLog::push`], which then cannot
    /// fail; a ring that cannot grow stays at its size from then on.
    pub(crate) fn reserve(&mut self) {
        if self.growing() && self.ring.reserve(1, GFP_KERNEL).is_err() {
            self.cap = self.ring.len();
        }
    }

    /// Still filling `ring[..len]` in order, below the capacity.
    fn growing(&self) -> bool {
        self.len == self.ring.len() && self.head == 0 && self.ring.len() < self.cap
    }

    /// Records that the register moved to `entry.opid`, which must exceed
    /// every opid logged so far (the caller's register rule).  Call
    /// [`CookieLog::reserve`] first: without room the oldest entry is
    /// evicted early instead (an empty ring forgets everything so far).
    pub(crate) fn push(&mut self, entry: Entry) {
        if self.growing() && self.ring.len() < self.ring.capacity() {
            // Within the reserved capacity: this push does not allocate.
            if self.ring.push(entry, GFP_KERNEL).is_ok() {
                // `head` stays 0: once full, the oldest entry, ring[0], is
                // the first to be overwritten.
                self.len += 1;
                return;
            }
        }
        let size = self.ring.len();
        if size == 0 {
            // Only without a reservation on an empty ring: nothing to keep,
            // so the log forgets everything up to here.
            self.base = entry.opid;
            return;
        }
        if self.len == size {
            // Evict the oldest: later questions about it are "too short".
            let oldest = (self.head + size - self.len) % size;
            self.base = self.ring[oldest].opid;
            self.len -= 1;
        }
        self.ring[self.head] = entry;
        self.head = (self.head + 1) % size;
        self.len += 1;
    }

    /// The `k`-th newest live entry (0 = the newest).
    fn newest(&self, k: usize) -> Option<&Entry> {
        if k >= self.len {
            return None;
        }
        let size = self.ring.len();
        // `k < len <= size`, so `size > 0`; `checked_rem` keeps a
        // division-by-zero panic path out of the module all the same.
        let i = (self.head + size - 1 - k).checked_rem(size)?;
        self.ring.get(i)
    }

    /// OR of the cookies of applied opids above `after`, up to `register`.
    pub(crate) fn since(&self, after: u64, register: u64) -> Cookies {
        if after >= register {
            return Cookies::Known(0);
        }
        if after < self.base {
            return Cookies::Short;
        }
        let mut cookie = 0;
        let mut k = 0;
        while let Some(e) = self.newest(k) {
            if e.opid <= after {
                break;
            }
            cookie |= e.cookie;
            k += 1;
        }
        Cookies::Known(cookie)
    }

    /// The live entries with an opid above `after`, oldest first;
    /// `Err(())` when the log no longer reaches back to `after` (the entry
    /// covering the opid after it is gone).
    pub(crate) fn entries_after(&self, after: u64) -> core::result::Result<EntriesAfter<'_>, ()> {
        if after < self.base {
            return Err(());
        }
        let mut k = 0;
        while let Some(e) = self.newest(k) {
            if e.opid <= after {
                break;
            }
            k += 1;
        }
        Ok(EntriesAfter { log: self, left: k })
    }

    /// Epoch of the update or replay that set the register to `opid`, if
    /// the log still holds it.
    pub(crate) fn epoch_of(&self, opid: u64) -> Option<u32> {
        let mut k = 0;
        while let Some(e) = self.newest(k) {
            if e.opid == opid {
                return Some(e.epoch);
            }
            if e.opid < opid {
                return None;
            }
            k += 1;
        }
        None
    }

    /// Lowest opid the log can still answer for; 0 when nothing is logged.
    pub(crate) fn first_opid(&self) -> u64 {
        if self.len == 0 {
            0
        } else {
            self.base + 1
        }
    }
}

/// Iterator of [`CookieLog::entries_after`].
pub(crate) struct EntriesAfter<'a> {
    log: &'a CookieLog,
    /// The entries still to yield are the `left` newest ones.
    left: usize,
}

impl Iterator for EntriesAfter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        self.left = self.left.checked_sub(1)?;
        self.log.newest(self.left).copied()
    }
}
