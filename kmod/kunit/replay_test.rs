// SPDX-License-Identifier: GPL-2.0

//! Staged section replays: the swap is whole sections at once, the others
//! stay, the register and log follow, and a fenced or overtaken replay
//! never lands.

use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

use kernel::rbtree::RBTreeNode;
use kernel::sync::Arc;

use super::channel_test::{apply, set, walk, SECTIONS};
use super::{check, check_eq, errno, kunit_suite, must, Test};
use crate::channel::{Channel, ReplayTicket};
use crate::cookie_log::Cookies;
use crate::error::{EPROTO, ESTALE};
use crate::hash::section_of;
use crate::parse::Record;
use crate::record::{Iface, Name};

const A: (usize, u32) = (1, 7);
const B: (usize, u32) = (2, 7);

/// Opens a replay, counted in `open`.
fn begin(
    c: &mut Channel,
    open: &Arc<AtomicUsize>,
    owner: (usize, u32),
    epoch: u32,
    opid: u64,
    mask: u64,
) -> crate::error::HResult<()> {
    c.replay_begin(owner, epoch, opid, mask, ReplayTicket::new(open))
}

fn counter() -> Option<Arc<AtomicUsize>> {
    Arc::new(AtomicUsize::new(0), GFP_KERNEL).ok()
}

fn open_count(open: &Arc<AtomicUsize>) -> usize {
    open.load(Ordering::Relaxed)
}

fn record(name: &[u8], mtu: u32) -> Option<Record> {
    let name = Name::new(name)?;
    let mut rec = Iface::new_default();
    rec.mtu = mtu;
    rec.seal(&name).ok()?;
    let hash = rec.hash;
    Some(Record {
        section: section_of(name.as_bytes(), SECTIONS),
        name,
        node: RBTreeNode::new(name, rec, GFP_KERNEL).ok()?,
        hash,
        offset: 0,
    })
}

fn records<const N: usize>(list: [Option<Record>; N]) -> Option<KVec<Record>> {
    let mut v = KVec::with_capacity(N, GFP_KERNEL).ok()?;
    for r in list {
        v.push(r?, GFP_KERNEL).ok()?;
    }
    Some(v)
}

fn mask_of(names: &[&[u8]]) -> u64 {
    names
        .iter()
        .fold(0, |m, n| m | 1u64 << section_of(n, SECTIONS))
}

/// Three records in three different sections of an 8-section channel
/// (eth0 in 4, eth1 in 7, x1 in 2; n5 would go in 4 as well).
fn filled() -> Option<Channel> {
    let mut c = Channel::new(SECTIONS, 16).ok()?;
    apply(
        &mut c,
        1,
        1,
        [set(b"eth0", 1500), set(b"eth1", 1500), set(b"x1", 1500)],
    )
    .ok()?;
    Some(c)
}

fn swap_is_whole_sections(t: &Test) {
    let mut c = must!(t, filled());
    let open = must!(t, counter());
    let keep = section_of(b"eth1", SECTIONS) as usize;
    let kept = c.sections[keep].digest;
    let mask = mask_of(&[b"eth0"]);
    // Epoch 2 takes over and replays eth0's section as of opid 5.
    must!(t, begin(&mut c, &open, A, 2, 5, mask));
    let staged = must!(t, records([record(b"eth0", 9000)]));
    must!(t, c.replay_stage(A, staged, 100));
    // Nothing is visible before the commit.
    check_eq!(t, c.register, 1);
    let (opid, epoch, m, old) = must!(t, c.replay_commit(A));
    drop(old);
    check_eq!(t, (opid, epoch, m), (5, 2, mask));
    check_eq!(t, (c.register, c.register_epoch, c.epoch), (5, 2, 2));
    check_eq!(t, c.sections[keep].digest, kept);
    let s = section_of(b"eth0", SECTIONS) as usize;
    check_eq!(t, walk(&c, s).1, c.sections[s].count);
    check_eq!(t, c.cookies(1), Cookies::Known(mask));
    check_eq!(t, c.log.epoch_of(5), Some(2));
    check!(t, c.replay.is_none());
    check_eq!(t, open_count(&open), 0);
}

fn replay_at_the_register_rewrites(t: &Test) {
    let mut c = must!(t, filled());
    let open = must!(t, counter());
    let mask = mask_of(&[b"eth1"]);
    must!(t, begin(&mut c, &open, A, 4, 1, mask));
    must!(t, c.replay_stage(A, must!(t, records([])), 100));
    drop(must!(t, c.replay_commit(A)));
    // eth1's section is empty now; the register, its epoch and the log
    // still name update 1 of epoch 1.
    check_eq!(t, (c.register, c.register_epoch, c.epoch), (1, 1, 4));
    check_eq!(t, c.log.epoch_of(1), Some(1));
    check_eq!(t, c.entries, 2);
}

fn stale_and_overtaken_replays(t: &Test) {
    let mut c = must!(t, filled());
    let open = must!(t, counter());
    let mask = mask_of(&[b"eth0"]);
    check_eq!(
        t,
        errno(&begin(&mut c, &open, A, 1, 0, mask)),
        EPROTO().to_errno()
    );
    check_eq!(
        t,
        errno(&begin(&mut c, &open, A, 1, 1, 0)),
        EINVAL.to_errno()
    );
    check_eq!(
        t,
        errno(&begin(&mut c, &open, A, 1, 1, 1 << SECTIONS)),
        EINVAL.to_errno()
    );
    must!(t, begin(&mut c, &open, A, 2, 3, mask));
    // Another socket cannot use it, and the owner's epoch blocks writers.
    check_eq!(
        t,
        errno(&c.replay_stage(B, must!(t, records([])), 100)),
        EBUSY.to_errno()
    );
    check_eq!(
        t,
        errno(&apply(&mut c, 2, 2, [set(b"eth1", 1500)])),
        EBUSY.to_errno()
    );
    check_eq!(t, open_count(&open), 1);
    // A newer owner claims: the replay is gone, and cannot commit.
    c.claim(3);
    check!(t, c.replay.is_none());
    check_eq!(t, open_count(&open), 0);
    check_eq!(t, errno(&c.replay_commit(A)), ENOENT.to_errno());
    // A replay fenced while staging is dropped at its commit.
    must!(t, begin(&mut c, &open, A, 3, 3, mask));
    c.epoch = 4;
    check_eq!(t, errno(&c.replay_commit(A)), ESTALE().to_errno());
    check!(t, c.replay.is_none());
    check_eq!(t, c.register, 1);
}

fn staging_rules(t: &Test) {
    let mut c = must!(t, filled());
    let open = must!(t, counter());
    let mask = mask_of(&[b"eth0"]);
    must!(t, begin(&mut c, &open, A, 2, 2, mask));
    // Outside the replayed sections.
    check_eq!(
        t,
        errno(&c.replay_stage(A, must!(t, records([record(b"eth1", 1500)])), 100)),
        EINVAL.to_errno()
    );
    // Twice in one message, then again in a later one.
    let twice = must!(t, records([record(b"eth0", 1500), record(b"eth0", 1600)]));
    check_eq!(t, errno(&c.replay_stage(A, twice, 100)), EINVAL.to_errno());
    must!(
        t,
        c.replay_stage(A, must!(t, records([record(b"eth0", 1500)])), 100)
    );
    check_eq!(
        t,
        errno(&c.replay_stage(A, must!(t, records([record(b"eth0", 1600)])), 100)),
        EINVAL.to_errno()
    );
    // Two kept records plus one staged fill a limit of 3.
    check_eq!(t, mask_of(&[b"n5"]), mask);
    check_eq!(
        t,
        errno(&c.replay_stage(A, must!(t, records([record(b"n5", 1500)])), 3)),
        ENOSPC.to_errno()
    );
    must!(t, c.staging_of(A).map(|_| ()));
    c.replay = None;
    check_eq!(t, (c.register, c.entries), (1, 3));
}

kunit_suite!(
    "hasync_replay",
    [
        swap_is_whole_sections,
        replay_at_the_register_rewrites,
        stale_and_overtaken_replays,
        staging_rules,
    ]
);
