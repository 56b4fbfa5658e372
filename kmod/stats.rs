// SPDX-License-Identifier: GPL-2.0

//! Counters for `hasync stats`: per command, per error class, and the two
//! throughput figures a person watching replication wants first.
//!
//! Commands and errors are counted with relaxed atomics, never a lock on
//! the update path; ACKs and ops are counted per channel under the lock an
//! update holds anyway (`Channel::acks`), and summed when read.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::uapi::ErrClass;

/// Commands are numbered from 1; slot 0 stays unused.
pub(crate) const CMD_SLOTS: usize = 32;
pub(crate) const ERR_CLASSES: usize = 8;

pub(crate) struct Counters {
    ok: [AtomicU64; CMD_SLOTS],
    failed: [AtomicU64; CMD_SLOTS],
    err: [AtomicU64; ERR_CLASSES],
}

/// A reading of the counters.
pub(crate) struct Stats {
    pub(crate) ok: [u64; CMD_SLOTS],
    pub(crate) failed: [u64; CMD_SLOTS],
    pub(crate) err: [u64; ERR_CLASSES],
    pub(crate) acks_published: u64,
    pub(crate) ops_applied: u64,
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Counters {
            ok: [const { AtomicU64::new(0) }; CMD_SLOTS],
            failed: [const { AtomicU64::new(0) }; CMD_SLOTS],
            err: [const { AtomicU64::new(0) }; ERR_CLASSES],
        }
    }

    pub(crate) fn record(&self, cmd: u8, failed: Option<ErrClass>) {
        let slot = usize::from(cmd).min(CMD_SLOTS - 1);
        match failed {
            None => self.ok[slot].fetch_add(1, Ordering::Relaxed),
            Some(class) => {
                self.failed[slot].fetch_add(1, Ordering::Relaxed);
                let c = (class as usize).min(ERR_CLASSES - 1);
                self.err[c].fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// The counters, with the ACK and op totals the caller summed.
    pub(crate) fn read(&self, acks_published: u64, ops_applied: u64) -> Stats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            ok: self.ok.each_ref().map(load),
            failed: self.failed.each_ref().map(load),
            err: self.err.each_ref().map(load),
            acks_published,
            ops_applied,
        }
    }
}
