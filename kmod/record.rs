// SPDX-License-Identifier: GPL-2.0

//! Interface records: the key, the value, their limits and the canonical
//! encoding their hash is computed over.
//!
//! The canonical encoding (big-endian integers, in this order) is the one
//! `hasync-model/src/table.rs` documents: name_len u8, name, flags u8 (bit 0
//! admin up, bit 1 speed known), mtu u32, mac[6], vlan u16, addr_count u8,
//! per address (family u8, prefix_len u8, 4 or 16 address bytes) sorted by
//! those bytes, desc_len u8, desc, then speed u32 only when bit 1 is set.
//! A record without a speed hashes as it did before speeds existed.

use core::cmp::Ordering;

use kernel::prelude::*;

use crate::hash::{mix64, Fnv};

pub(crate) const NAME_MAX: usize = 15;
pub(crate) const DESC_MAX: usize = 255;
pub(crate) const ADDRS_MAX: usize = 16;
pub(crate) const MTU_DEFAULT: u32 = 1500;

/// An interface name: the key of a table.
///
/// INVARIANT: `len` is in `1..=NAME_MAX`, the first `len` bytes are printable
/// ASCII other than `/`, and the rest are zero.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Name {
    len: u8,
    bytes: [u8; NAME_MAX],
}

impl Name {
    /// Validates `raw` as an interface name.
    pub(crate) fn new(raw: &[u8]) -> Option<Self> {
        if raw.is_empty() || raw.len() > NAME_MAX {
            return None;
        }
        if !raw.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b'/') {
            return None;
        }
        let mut bytes = [0u8; NAME_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        // INVARIANT: length and bytes checked above, padding zeroed.
        Some(Name {
            len: raw.len() as u8,
            bytes,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

// Byte-wise order, the same as userspace's `BTreeMap<IfName, _>`, so dumps
// come out in the order the engine iterates.
impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One interface address.
///
/// INVARIANT: `family` is 4 or 6; `prefix_len` is at most 32 or 128 to
/// match; for family 4 only the first 4 bytes of `addr` are used, the rest
/// are zero.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addr {
    pub(crate) family: u8,
    pub(crate) prefix_len: u8,
    pub(crate) addr: [u8; 16],
}

impl Addr {
    pub(crate) fn new(family: u8, prefix_len: u8, raw: &[u8]) -> Option<Self> {
        let (len, max_prefix) = match family {
            4 => (4, 32),
            6 => (16, 128),
            _ => return None,
        };
        if raw.len() != len || prefix_len > max_prefix {
            return None;
        }
        let mut addr = [0u8; 16];
        addr[..len].copy_from_slice(raw);
        // INVARIANT: family, prefix length and address length checked above.
        Some(Addr {
            family,
            prefix_len,
            addr,
        })
    }

    pub(crate) fn addr_bytes(&self) -> &[u8] {
        if self.family == 4 {
            &self.addr[..4]
        } else {
            &self.addr[..]
        }
    }

    /// The canonical order: family, prefix length, then address bytes,
    /// i.e. `memcmp` of the canonical encoding.
    fn canonical_cmp(&self, other: &Self) -> Ordering {
        (self.family, self.prefix_len, self.addr_bytes()).cmp(&(
            other.family,
            other.prefix_len,
            other.addr_bytes(),
        ))
    }
}

/// The value of a record.
///
/// INVARIANT: `addrs` holds at most `ADDRS_MAX` addresses in canonical order
/// without duplicates; `desc` holds at most `DESC_MAX` bytes, none of them
/// NUL; `mtu` is in 68..=65535, `vlan` at most 4094; `hash` is
/// [`Iface::compute_hash`] of this record under its name.
pub(crate) struct Iface {
    pub(crate) admin_up: bool,
    pub(crate) mtu: u32,
    pub(crate) mac: [u8; 6],
    pub(crate) vlan: u16,
    pub(crate) addrs: KVec<Addr>,
    pub(crate) desc: KVec<u8>,
    /// Link speed in Mb/s, 0 when unknown.
    pub(crate) speed: u32,
    pub(crate) hash: u64,
}

/// Why a record was refused (the caller maps it to an attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    Mtu,
    Vlan,
    TooManyAddrs,
    DuplicateAddr,
    Desc,
}

impl Iface {
    /// A record with every field at its default, not yet hashed.
    pub(crate) fn new_default() -> Self {
        Iface {
            admin_up: false,
            mtu: MTU_DEFAULT,
            mac: [0; 6],
            vlan: 0,
            addrs: KVec::new(),
            desc: KVec::new(),
            speed: 0,
            hash: 0,
        }
    }

    /// Checks the field invariants, puts the addresses in canonical order
    /// and computes the hash under `name`.
    pub(crate) fn seal(&mut self, name: &Name) -> core::result::Result<(), RecordError> {
        if !(68..=65535).contains(&self.mtu) {
            return Err(RecordError::Mtu);
        }
        if self.vlan > 4094 {
            return Err(RecordError::Vlan);
        }
        if self.addrs.len() > ADDRS_MAX {
            return Err(RecordError::TooManyAddrs);
        }
        if self.desc.len() > DESC_MAX || self.desc.contains(&0) {
            return Err(RecordError::Desc);
        }
        // At most 16 elements: an insertion sort needs no allocation.
        let addrs = self.addrs.as_mut_slice();
        for i in 1..addrs.len() {
            let mut j = i;
            while j > 0 && addrs[j - 1].canonical_cmp(&addrs[j]) == Ordering::Greater {
                addrs.swap(j - 1, j);
                j -= 1;
            }
        }
        if addrs
            .windows(2)
            .any(|w| w[0].canonical_cmp(&w[1]) == Ordering::Equal)
        {
            return Err(RecordError::DuplicateAddr);
        }
        self.hash = self.compute_hash(name);
        Ok(())
    }

    /// `mix64(fnv1a64(canonical encoding))`.
    fn compute_hash(&self, name: &Name) -> u64 {
        let flags = u8::from(self.admin_up) | (u8::from(self.speed != 0) << 1);
        let mut h = Fnv::new()
            .bytes(&[name.len])
            .bytes(name.as_bytes())
            .bytes(&[flags])
            .bytes(&self.mtu.to_be_bytes())
            .bytes(&self.mac)
            .bytes(&self.vlan.to_be_bytes())
            // Bounded by ADDRS_MAX, checked in `seal`.
            .bytes(&[self.addrs.len() as u8]);
        for a in self.addrs.iter() {
            h = h.bytes(&[a.family, a.prefix_len]).bytes(a.addr_bytes());
        }
        // Bounded by DESC_MAX, checked in `seal`.
        h = h.bytes(&[self.desc.len() as u8]).bytes(&self.desc);
        if self.speed != 0 {
            h = h.bytes(&self.speed.to_be_bytes());
        }
        mix64(h.finish())
    }
}
