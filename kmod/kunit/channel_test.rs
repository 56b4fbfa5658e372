// SPDX-License-Identifier: GPL-2.0

//! A channel's update rules: in order, duplicates, gaps, fencing, limits,
//! all-or-nothing, and digests that follow every change.

use kernel::prelude::*;

use super::vectors::RECORDS;
use super::{check, check_eq, cookie, errno, kunit_suite, must, Test};
use crate::channel::{Channel, Op, Ops};
use crate::error::{EPROTO, ESTALE};
use crate::hash::section_of;
use crate::record::{Iface, Name};

pub(crate) const SECTIONS: u32 = 8;

/// A `set` of `name` with `mtu`, in a channel of [`SECTIONS`] sections.
pub(crate) fn set(name: &[u8], mtu: u32) -> Option<Op> {
    let name = Name::new(name)?;
    let mut rec = Iface::new_default();
    rec.mtu = mtu;
    rec.seal(&name).ok()?;
    Some(Op::Set {
        section: section_of(name.as_bytes(), SECTIONS),
        name,
        rec,
        node: None,
    })
}

pub(crate) fn del(name: &[u8]) -> Option<Op> {
    let name = Name::new(name)?;
    Some(Op::Del {
        section: section_of(name.as_bytes(), SECTIONS),
        name,
    })
}

/// Ops and their cookie; one op is kept inline, as the parser does.
pub(crate) fn ops<const N: usize>(list: [Option<Op>; N]) -> Option<(Ops, u64)> {
    let mut v = KVec::with_capacity(N, GFP_KERNEL).ok()?;
    let mut cookie = 0;
    for op in list {
        let op = op?;
        cookie |= 1u64 << op.section();
        v.push(op, GFP_KERNEL).ok()?;
    }
    if N == 1 {
        let mut it = v.into_iter();
        return Some((Ops::One(it.next()?), cookie));
    }
    Some((Ops::Many(v), cookie))
}

/// Applies `list` as update `opid` under `epoch`, limit 100 entries.
pub(crate) fn apply<const N: usize>(
    c: &mut Channel,
    epoch: u32,
    opid: u64,
    list: [Option<Op>; N],
) -> crate::error::HResult<crate::channel::Applied> {
    let (v, cookie) = ops(list).ok_or_else(|| crate::error::fail!(ENOMEM, Nomem, "test setup"))?;
    c.apply(epoch, opid, cookie, v, 100, None)
}

/// Recomputes a section's digest and count from its records.
pub(crate) fn walk(c: &Channel, section: usize) -> (u64, u32) {
    c.sections[section]
        .tree
        .values()
        .fold((0u64, 0u32), |(d, n), r| (d.wrapping_add(r.hash), n + 1))
}

fn digests_consistent(t: &Test, c: &Channel) {
    let mut entries = 0;
    for (i, s) in c.sections.iter().enumerate() {
        let (d, n) = walk(c, i);
        check_eq!(t, s.digest, d);
        check_eq!(t, s.count, n);
        entries += n;
    }
    check_eq!(t, c.entries, entries);
}

fn in_order_and_duplicates(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    let a = must!(t, apply(&mut c, 1, 1, [set(b"eth0", 1500)]));
    check!(t, !a.duplicate);
    check_eq!(t, (c.register, c.register_epoch, c.entries), (1, 1, 1));
    must!(
        t,
        apply(&mut c, 1, 2, [set(b"eth1", 1500), set(b"eth0", 9000)])
    );
    check_eq!(t, c.entries, 2);
    // A retransmission of opid 1: acknowledged, nothing applied.
    let d = must!(t, apply(&mut c, 1, 1, [set(b"zz", 1500)]));
    check!(t, d.duplicate);
    check_eq!(t, d.epoch, Some(1));
    check_eq!(t, (c.register, c.entries), (2, 2));
    digests_consistent(t, &c);
}

fn gaps_refused_with_the_register(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    must!(t, apply(&mut c, 1, 1, [set(b"eth0", 1500)]));
    let r = apply(&mut c, 1, 3, [set(b"eth1", 1500)]);
    check_eq!(t, errno(&r), EPROTO().to_errno());
    check_eq!(t, cookie(&r), 1);
    check_eq!(t, (c.register, c.entries), (1, 1));
}

fn fencing(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    must!(t, apply(&mut c, 3, 1, [set(b"eth0", 1500)]));
    // A newer epoch writes and becomes the owner.
    must!(t, apply(&mut c, 5, 2, [set(b"eth1", 1500)]));
    check_eq!(t, (c.epoch, c.register_epoch), (5, 5));
    let r = apply(&mut c, 3, 3, [set(b"eth2", 1500)]);
    check_eq!(t, errno(&r), ESTALE().to_errno());
    check_eq!(t, cookie(&r), 5);
    check_eq!(t, (c.register, c.entries), (2, 2));
    // A claim raises the owner without writing.
    c.claim(7);
    check_eq!(t, (c.epoch, c.register_epoch), (7, 5));
    check_eq!(
        t,
        errno(&apply(&mut c, 5, 3, [set(b"eth2", 1500)])),
        ESTALE().to_errno()
    );
    must!(t, apply(&mut c, 7, 3, [set(b"eth2", 1500)]));
    check_eq!(t, c.log.epoch_of(2), Some(5));
    check_eq!(t, c.log.epoch_of(3), Some(7));
}

fn ops_see_earlier_ops(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    must!(
        t,
        apply(
            &mut c,
            1,
            1,
            [set(b"a", 1500), del(b"a"), set(b"b", 1500), set(b"b", 2000)]
        )
    );
    check_eq!(t, c.entries, 1);
    must!(
        t,
        apply(&mut c, 1, 2, [del(b"b"), set(b"b", 3000), del(b"absent")])
    );
    check_eq!(t, c.entries, 1);
    let b = must!(t, Name::new(b"b"));
    let rec = must!(
        t,
        c.sections[section_of(b"b", SECTIONS) as usize].tree.get(&b)
    );
    check_eq!(t, rec.mtu, 3000);
    digests_consistent(t, &c);
}

fn entry_limit_changes_nothing(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    let (v, ck) = must!(t, ops([set(b"a", 1500), set(b"b", 1500)]));
    must!(t, c.apply(1, 1, ck, v, 2, None));
    let (v, ck) = must!(t, ops([set(b"a", 2000), set(b"c", 1500)]));
    let r = c.apply(1, 2, ck, v, 2, None);
    check_eq!(t, errno(&r), ENOSPC.to_errno());
    check_eq!(t, (c.register, c.entries), (1, 2));
    let a = must!(t, Name::new(b"a"));
    let rec = must!(
        t,
        c.sections[section_of(b"a", SECTIONS) as usize].tree.get(&a)
    );
    check_eq!(t, rec.mtu, 1500);
    // Replacing within the limit is fine.
    let (v, ck) = must!(t, ops([set(b"a", 2000), del(b"b"), set(b"c", 1500)]));
    must!(t, c.apply(1, 2, ck, v, 2, None));
    check_eq!(t, c.entries, 2);
    digests_consistent(t, &c);
}

fn digests_match_the_vectors(t: &Test) {
    let mut c = must!(t, Channel::new(64, 16));
    let mut v = KVec::new();
    let mut ck = 0;
    for r in RECORDS {
        let (name, rec) = must!(t, super::hash_test::record(r));
        let section = section_of(name.as_bytes(), 64);
        ck |= 1u64 << section;
        must!(
            t,
            v.push(
                Op::Set {
                    section,
                    name,
                    rec,
                    node: None
                },
                GFP_KERNEL
            )
        );
    }
    must!(t, c.apply(1, 1, ck, Ops::Many(v), 100, None));
    for r in RECORDS {
        let s = section_of(r.name, 64) as usize;
        check_eq!(t, c.sections[s].digest, r.hash);
    }
    digests_consistent(t, &c);
}

fn changed_names_reported(t: &Test) {
    let mut c = must!(t, Channel::new(SECTIONS, 16));
    let (v, ck) = must!(t, ops([set(b"a", 1500), del(b"b")]));
    let mut changed = KVec::new();
    must!(t, c.apply(1, 1, ck, v, 100, Some(&mut changed)));
    check_eq!(t, changed.len(), 2);
    check!(t, changed[0].1.as_bytes() == b"a");
    check!(t, changed[1].1.as_bytes() == b"b");
}

kunit_suite!(
    "hasync_channel",
    [
        in_order_and_duplicates,
        gaps_refused_with_the_register,
        fencing,
        ops_see_earlier_ops,
        entry_limit_changes_nothing,
        digests_match_the_vectors,
        changed_names_reported,
    ]
);
