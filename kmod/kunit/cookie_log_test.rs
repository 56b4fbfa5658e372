// SPDX-License-Identifier: GPL-2.0

//! The cookie log: ORs over ranges, per-entry paging, epochs, and what is
//! forgotten once it wraps.

use kernel::prelude::*;

use super::{check, check_eq, kunit_suite, must, Test};
use crate::cookie_log::{CookieLog, Cookies, Entry};

fn push(log: &mut CookieLog, opid: u64, epoch: u32, cookie: u64) {
    log.reserve();
    log.push(Entry {
        opid,
        cookie,
        epoch,
    });
}

fn entries(log: &CookieLog, after: u64) -> Option<KVec<Entry>> {
    let mut v = KVec::new();
    for e in log.entries_after(after).ok()? {
        v.push(e, GFP_KERNEL).ok()?;
    }
    Some(v)
}

fn ranges_and_entries(t: &Test) {
    let mut log = CookieLog::new(8);
    check_eq!(t, log.first_opid(), 0);
    check_eq!(t, log.since(0, 0), Cookies::Known(0));
    for opid in 1..=4 {
        push(&mut log, opid, 1, 1 << opid);
    }
    check_eq!(t, log.first_opid(), 1);
    check_eq!(t, log.since(0, 4), Cookies::Known(0b11110));
    check_eq!(t, log.since(2, 4), Cookies::Known(0b11000));
    check_eq!(t, log.since(4, 4), Cookies::Known(0));
    let e = must!(t, entries(&log, 2));
    check_eq!(t, e.len(), 2);
    check_eq!(
        t,
        e[0],
        Entry {
            opid: 3,
            cookie: 1 << 3,
            epoch: 1
        }
    );
    check_eq!(t, e[1].opid, 4);
    check_eq!(t, must!(t, entries(&log, 4)).len(), 0);
}

fn replay_jumps_and_epochs(t: &Test) {
    let mut log = CookieLog::new(8);
    push(&mut log, 1, 3, 0x1);
    // A replay moved the register from 1 to 10 under a new owner.
    push(&mut log, 10, 5, 0xf0);
    push(&mut log, 11, 5, 0x2);
    check_eq!(t, log.epoch_of(1), Some(3));
    check_eq!(t, log.epoch_of(10), Some(5));
    // Opids inside a replay's jump have no entry of their own.
    check_eq!(t, log.epoch_of(7), None);
    check_eq!(t, log.since(5, 11), Cookies::Known(0xf2));
    let e = must!(t, entries(&log, 5));
    check_eq!(t, e.len(), 2);
    check_eq!(t, e[0].epoch, 5);
}

fn wrap_forgets_the_oldest(t: &Test) {
    let mut log = CookieLog::new(4);
    for opid in 1..=10 {
        push(&mut log, opid, opid as u32, 1 << (opid % 64));
    }
    // Entries 7..=10 remain; the log answers from 6 on.
    check_eq!(t, log.first_opid(), 7);
    check_eq!(t, log.since(5, 10), Cookies::Short);
    check!(t, log.entries_after(5).is_err());
    check_eq!(t, log.since(6, 10), Cookies::Known(0b11110000000));
    let e = must!(t, entries(&log, 6));
    check_eq!(t, e.len(), 4);
    check_eq!(t, e[0].opid, 7);
    check_eq!(t, e[3].opid, 10);
    check_eq!(t, log.epoch_of(6), None);
    check_eq!(t, log.epoch_of(9), Some(9));
}

fn capacity_one(t: &Test) {
    let mut log = CookieLog::new(1);
    push(&mut log, 1, 1, 1);
    push(&mut log, 2, 1, 2);
    check_eq!(t, log.since(1, 2), Cookies::Known(2));
    check_eq!(t, log.since(0, 2), Cookies::Short);
}

kunit_suite!(
    "hasync_cookie_log",
    [
        ranges_and_entries,
        replay_jumps_and_epochs,
        wrap_forgets_the_oldest,
        capacity_one
    ]
);
