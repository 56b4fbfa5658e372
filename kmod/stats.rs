// SPDX-License-Identifier: GPL-2.0

//! Counters for `hasync stats`: per command, per error class, and the two
//! throughput figures a person watching replication wants first.

use crate::uapi::ErrClass;

/// Commands are numbered from 1; slot 0 stays unused.
pub(crate) const CMD_SLOTS: usize = 32;
pub(crate) const ERR_CLASSES: usize = 8;

#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Stats {
    pub(crate) ok: [u64; CMD_SLOTS],
    pub(crate) failed: [u64; CMD_SLOTS],
    pub(crate) err: [u64; ERR_CLASSES],
    pub(crate) acks_published: u64,
    pub(crate) ops_applied: u64,
}

impl Stats {
    pub(crate) const fn new() -> Self {
        Stats {
            ok: [0; CMD_SLOTS],
            failed: [0; CMD_SLOTS],
            err: [0; ERR_CLASSES],
            acks_published: 0,
            ops_applied: 0,
        }
    }

    pub(crate) fn record(&mut self, cmd: u8, failed: Option<ErrClass>) {
        let slot = usize::from(cmd).min(CMD_SLOTS - 1);
        match failed {
            None => self.ok[slot] += 1,
            Some(class) => {
                self.failed[slot] += 1;
                let c = (class as usize).min(ERR_CLASSES - 1);
                self.err[c] += 1;
            }
        }
    }
}
