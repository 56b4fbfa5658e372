// SPDX-License-Identifier: GPL-2.0

//! The stable hashes against the shared vectors: FNV-1a, the mixer, a
//! name's section and a whole record's hash.

use kernel::prelude::*;

use super::vectors::{FNV1A64, MIX64, RECORDS, SECTION_OF};
use super::{check_eq, kunit_suite, must, Test};
use crate::hash::{mix64, section_of, Fnv};
use crate::record::{Addr, Iface, Name};

fn fnv1a64_vectors(t: &Test) {
    for &(bytes, want) in FNV1A64 {
        check_eq!(t, Fnv::new().bytes(bytes).finish(), want);
    }
}

fn mix64_vectors(t: &Test) {
    for &(x, want) in MIX64 {
        check_eq!(t, mix64(x), want);
    }
}

fn section_vectors(t: &Test) {
    for &(name, sections, want) in SECTION_OF {
        check_eq!(t, section_of(name, sections), want);
    }
}

/// A record of the vectors, sealed as an update would.
pub(crate) fn record(v: &super::vectors::RecordVector) -> Option<(Name, Iface)> {
    let name = Name::new(v.name)?;
    let mut rec = Iface::new_default();
    rec.admin_up = v.admin_up;
    rec.mtu = v.mtu;
    rec.mac = v.mac;
    rec.vlan = v.vlan;
    rec.speed = v.speed;
    for &(family, prefix_len, bytes) in v.addrs {
        rec.addrs
            .push(Addr::new(family, prefix_len, bytes)?, GFP_KERNEL)
            .ok()?;
    }
    rec.desc.extend_from_slice(v.desc, GFP_KERNEL).ok()?;
    rec.seal(&name).ok()?;
    Some((name, rec))
}

fn record_hash_vectors(t: &Test) {
    for v in RECORDS {
        let (_, rec) = must!(t, record(v));
        check_eq!(t, rec.hash, v.hash);
    }
}

kunit_suite!(
    "hasync_hash",
    [
        fnv1a64_vectors,
        mix64_vectors,
        section_vectors,
        record_hash_vectors
    ]
);
