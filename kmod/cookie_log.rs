// SPDX-License-Identifier: GPL-2.0

//! The cookie log: the last N `(opid, cookie)` applied to a channel, so a new
//! owner that finds the register beyond anything it received can ask which
//! sections those opids touched.

use kernel::prelude::*;

/// A ring of `(opid, cookie)`; entry `k` covers the opids in
/// `(opid of entry k-1, opid of entry k]` (a replay may advance the register
/// by more than one), the oldest one starting after `base`.
///
/// INVARIANT: `len <= ring.len()`; the opids of the `len` live entries
/// strictly increase from the oldest to the newest, and all exceed `base`.
pub(crate) struct CookieLog {
    ring: KVec<(u64, u64)>,
    /// Index the next entry is written to.
    head: usize,
    len: usize,
    /// Register value before the oldest live entry.
    base: u64,
}

/// The answer to "which sections did the opids after X touch".
pub(crate) enum Cookies {
    Known(u64),
    /// The log no longer reaches back to X.
    Short,
}

impl CookieLog {
    pub(crate) fn new(capacity: u32) -> Result<Self> {
        // INVARIANT: empty log, base 0 = nothing applied yet.
        Ok(CookieLog {
            ring: KVec::from_elem((0, 0), capacity as usize, GFP_KERNEL)?,
            head: 0,
            len: 0,
            base: 0,
        })
    }

    /// Records that the register moved to `opid` touching `cookie`; `opid`
    /// must exceed every opid logged so far (the caller's register rule).
    pub(crate) fn push(&mut self, opid: u64, cookie: u64) {
        let cap = self.ring.len();
        // Never true (the length parameter is at least 1), but it keeps the
        // remainders below free of a division-by-zero panic path.
        if cap == 0 {
            return;
        }
        if self.len == cap {
            // Evict the oldest: later questions about it are "too short".
            let oldest = (self.head + cap - self.len) % cap;
            self.base = self.ring[oldest].0;
            self.len -= 1;
        }
        self.ring[self.head] = (opid, cookie);
        self.head = (self.head + 1) % cap;
        self.len += 1;
    }

    /// OR of the cookies of applied opids above `after`, up to `register`.
    pub(crate) fn since(&self, after: u64, register: u64) -> Cookies {
        if after >= register {
            return Cookies::Known(0);
        }
        if after < self.base {
            return Cookies::Short;
        }
        let cap = self.ring.len();
        if cap == 0 {
            return Cookies::Short;
        }
        let mut cookie = 0;
        for k in 0..self.len {
            let (opid, c) = self.ring[(self.head + cap - 1 - k) % cap];
            if opid <= after {
                break;
            }
            cookie |= c;
        }
        Cookies::Known(cookie)
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
