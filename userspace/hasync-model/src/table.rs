//! Interface records, sections, ops and per-section digests: the data model
//! the kernel module implements identically.
//!
//! # Canonical record encoding
//!
//! Used for the entry hash (digests) *and* as the record encoding on the
//! replication wire, so there is exactly one byte form of a record. All
//! multi-byte integers are **big-endian**. Fields, in this order:
//!
//! | field      | bytes        | rule                                                  |
//! |------------|--------------|-------------------------------------------------------|
//! | name_len   | u8           | 1..=15                                                |
//! | name       | name_len     | bytes 0x21..=0x7e except `/`                          |
//! | flags      | u8           | bit 0 = admin up, bit 1 = speed known; bits 2..7 are 0 |
//! | mtu        | u32          | 68..=65535                                            |
//! | mac        | 6            | as is                                                 |
//! | vlan       | u16          | 0..=4094 (0 = untagged)                               |
//! | addr_count | u8           | 0..=16                                                |
//! | addrs      | per address  | `family u8 (4 or 6), prefix_len u8, addr 4 or 16 bytes` |
//! | desc_len   | u8           | 0..=255 (0..=64 in release 1)                         |
//! | desc       | desc_len     | any byte except NUL                                   |
//! | speed      | u32          | only when flags bit 1: Mb/s, not 0 (release 2)         |
//!
//! A record of release 2 whose speed is unknown (0) and whose description
//! fits 64 bytes has exactly the encoding, and so the hash, that release 1
//! gives it: the first release's digests and frames stay valid, and
//! [`IfRecord::release`] says which release a record needs.
//!
//! Addresses are sorted ascending by their encoded bytes compared with
//! `memcmp` (family first, so all IPv4 before all IPv6; then prefix length,
//! then address bytes in network order) and contain no duplicates; prefix
//! length is at most 32 (IPv4) or 128 (IPv6). Host bits are kept: these are
//! interface addresses (`10.0.0.1/24`), not routes.
//!
//! # Sections and digests
//!
//! A channel's table is split into `section_count` sections (power of two,
//! 1..=64) by [`crate::hash::section_of`] of the name. A *cookie* is the u64
//! bitmask of sections an update touches. A section's digest is the wrapping
//! sum of [`crate::hash::entry_hash`] over its records (0 when empty): order
//! independent, and updated incrementally (subtract old hash, add new).

use std::collections::BTreeMap;

use crate::hash::{section_of, EntryHasher};
use crate::text::RecordChange;

/// Longest interface name (Linux `IFNAMSIZ - 1`).
pub const NAME_MAX: usize = 15;
/// Most addresses per record.
pub const MAX_ADDRS: usize = 16;
/// Longest description (Linux's ifalias).
pub const DESC_MAX: usize = 255;
/// Longest description release 1 carries.
pub const DESC_MAX_RELEASE_1: usize = 64;
/// Most sections per channel (one bit each in a u64 cookie).
pub const MAX_SECTIONS: u32 = 64;
/// Most records a channel table can ever be configured to hold: the upper
/// bound of the module's `max_entries` parameter. Decoders bound counts by it.
pub const MAX_ENTRIES: usize = 1 << 20;
/// Records per channel table unless configured otherwise: the module's
/// default `max_entries`, which the daemon follows.
pub const DEFAULT_MAX_ENTRIES: usize = 65536;
/// Most records one section-replace op carries (its count is 16 bits on
/// the replication wire).
pub const MAX_REPLACE_RECORDS: usize = u16::MAX as usize;
/// Most ops per update.
pub const MAX_OPS: usize = 64;
/// MTU of a record that does not name one.
pub const MTU_DEFAULT: u32 = 1500;
/// Smallest MTU Linux accepts for IPv4.
pub const MTU_MIN: u32 = 68;
/// Largest MTU we carry.
pub const MTU_MAX: u32 = 65535;
/// Largest VLAN id (4095 is reserved).
pub const VLAN_MAX: u16 = 4094;

/// Why a record, op or update is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Interface name empty, too long, or with a forbidden byte.
    #[error("bad interface name")]
    BadName,
    /// MTU outside 68..=65535.
    #[error("mtu {0} out of range")]
    BadMtu(u32),
    /// VLAN above 4094.
    #[error("vlan {0} out of range")]
    BadVlan(u16),
    /// Address family not 4 or 6, or prefix length too long.
    #[error("bad address")]
    BadAddr,
    /// Addresses not strictly ascending (unsorted or duplicated).
    #[error("addresses not in canonical order")]
    AddrOrder,
    /// Too many addresses.
    #[error("too many addresses")]
    TooManyAddrs,
    /// Description too long or contains NUL.
    #[error("bad description")]
    BadDesc,
    /// Reserved flag bits set.
    #[error("bad flags")]
    BadFlags,
    /// Section count not a power of two in 1..=64.
    #[error("bad section count {0}")]
    BadSectionCount(u32),
    /// A section-replace op names a section beyond the channel's count, or
    /// carries a record that does not hash into that section, or records are
    /// not sorted by name.
    #[error("section replace for section {0} is inconsistent")]
    BadSection(u32),
    /// The update would leave more records than the channel's limit
    /// (`limits.max_records`, at most the module's `max_entries`).
    #[error("table full: the channel holds as many records as its limit allows")]
    TooManyEntries,
    /// More than [`MAX_OPS`] ops, or none.
    #[error("bad op count")]
    BadOpCount,
    /// A rename of a record the table does not hold.
    #[error("no such interface")]
    NoRecord,
    /// A rename onto a name the table holds.
    #[error("an interface by that name exists")]
    Exists,
}

impl TableError {
    /// What the error says, as a fixed text (for error types that carry
    /// no allocation, such as a netlink parse error).
    pub fn why(&self) -> &'static str {
        match self {
            TableError::BadName => "bad interface name",
            TableError::BadMtu(_) => "mtu out of range",
            TableError::BadVlan(_) => "vlan out of range",
            TableError::BadAddr => "bad address",
            TableError::AddrOrder => "addresses not in canonical order",
            TableError::TooManyAddrs => "too many addresses",
            TableError::BadDesc => "bad description",
            TableError::BadFlags => "bad flags",
            TableError::BadSectionCount(_) => "bad section count",
            TableError::BadSection(_) => "inconsistent section replace",
            TableError::TooManyEntries => "table full",
            TableError::BadOpCount => "bad op count",
            TableError::NoRecord => "no such interface",
            TableError::Exists => "an interface by that name exists",
        }
    }
}

/// Validated interface name (1..=15 bytes, printable ASCII without `/`).
///
/// Held inline: a table keys every record by its name and the record
/// holds it too, so a heap name would be two allocations per record.
// INVARIANT: 1 <= len <= NAME_MAX, bytes[..len] is the name and
// bytes[len..] are zero. Names hold no zero byte, so comparing the padded
// arrays orders names as their bytes do (a prefix first), and the derived
// Ord, Eq and Hash are those of the name (`bytes` is compared first).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName {
    bytes: [u8; NAME_MAX],
    len: u8,
}

impl IfName {
    /// Validate and wrap a name.
    pub fn new(name: &[u8]) -> Result<Self, TableError> {
        let ok = !name.is_empty()
            && name.len() <= NAME_MAX
            && name
                .iter()
                .all(|&b| (0x21..=0x7e).contains(&b) && b != b'/');
        if !ok {
            return Err(TableError::BadName);
        }
        let mut bytes = [0; NAME_MAX];
        bytes[..name.len()].copy_from_slice(name);
        // At most NAME_MAX (15): fits u8.
        Ok(IfName {
            bytes,
            len: name.len() as u8,
        })
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for IfName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("IfName")
            .field(&String::from_utf8_lossy(self.as_bytes()))
            .finish()
    }
}

impl std::fmt::Display for IfName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// An interface address with prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Prefix {
    /// IPv4 address and prefix length (0..=32).
    V4([u8; 4], u8),
    /// IPv6 address and prefix length (0..=128).
    V6([u8; 16], u8),
}

impl Prefix {
    fn validate(&self) -> Result<(), TableError> {
        match *self {
            Prefix::V4(_, l) if l <= 32 => Ok(()),
            Prefix::V6(_, l) if l <= 128 => Ok(()),
            _ => Err(TableError::BadAddr),
        }
    }

    fn encode_with(&self, put: &mut impl FnMut(&[u8])) {
        match self {
            Prefix::V4(a, l) => {
                put(&[4, *l]);
                put(a);
            }
            Prefix::V6(a, l) => {
                put(&[6, *l]);
                put(a);
            }
        }
    }

    /// Canonical sort key: orders as the encoded bytes do (what the kernel
    /// memcmp()s). The family byte decides between families, so padding a
    /// v4 address with zeros never changes an order.
    fn sort_key(&self) -> (u8, u8, [u8; 16]) {
        match *self {
            Prefix::V4(a, l) => {
                let mut k = [0; 16];
                k[..4].copy_from_slice(&a);
                (4, l, k)
            }
            Prefix::V6(a, l) => (6, l, a),
        }
    }
}

/// One interface record: the value of a table entry, with its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IfRecord {
    /// Key.
    pub name: IfName,
    /// Administratively up.
    pub admin_up: bool,
    /// MTU, 68..=65535.
    pub mtu: u32,
    /// Hardware address.
    pub mac: [u8; 6],
    /// VLAN id, 0..=4094.
    pub vlan: u16,
    /// Addresses in canonical order (see module docs).
    pub addrs: Vec<Prefix>,
    /// Free text, no NUL.
    pub description: Vec<u8>,
    /// Link speed in Mb/s, 0 when unknown (release 2).
    pub speed: u32,
}

impl IfRecord {
    /// A record with defaults (down, MTU 1500, zero MAC, untagged, no
    /// addresses, no description).
    pub fn new(name: IfName) -> Self {
        IfRecord {
            name,
            admin_up: false,
            mtu: MTU_DEFAULT,
            mac: [0; 6],
            vlan: 0,
            addrs: Vec::new(),
            description: Vec::new(),
            speed: 0,
        }
    }

    /// The oldest replication release whose encoding carries this record:
    /// 2 for a known speed or a description over 64 bytes, else 1.
    pub fn release(&self) -> u16 {
        if self.speed != 0 || self.description.len() > DESC_MAX_RELEASE_1 {
            2
        } else {
            1
        }
    }

    /// The record as release 1 holds it when its speed is not synced
    /// (the description must already fit release 1).
    pub fn without_speed(&self) -> IfRecord {
        IfRecord {
            speed: 0,
            ..self.clone()
        }
    }

    /// Sort addresses into canonical order and drop duplicates, so callers
    /// can build records in any order before validating.
    pub fn canonicalize(&mut self) {
        canonical_addrs(&mut self.addrs);
    }

    /// Check every field rule of the canonical encoding.
    pub fn validate(&self) -> Result<(), TableError> {
        check_mtu(self.mtu)?;
        check_vlan(self.vlan)?;
        check_addrs(&self.addrs)?;
        check_description(&self.description)
        // The name was validated when the IfName was built.
    }

    /// Append the canonical encoding (module docs) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(&mut |b| out.extend_from_slice(b));
    }

    /// The canonical encoding, piece by piece, to `put`.
    fn encode_with(&self, put: &mut impl FnMut(&[u8])) {
        self.encode_speed(self.speed, put)
    }

    /// The canonical encoding with `speed` for this record's.
    fn encode_speed(&self, speed: u32, put: &mut impl FnMut(&[u8])) {
        let name = self.name.as_bytes();
        // Lengths are bounded by validation (<= 64), so the casts are lossless.
        put(&[name.len() as u8]);
        put(name);
        put(&[u8::from(self.admin_up) | (u8::from(speed != 0) << 1)]);
        put(&self.mtu.to_be_bytes());
        put(&self.mac);
        put(&self.vlan.to_be_bytes());
        put(&[self.addrs.len() as u8]);
        for a in &self.addrs {
            a.encode_with(put);
        }
        put(&[self.description.len() as u8]);
        put(&self.description);
        if speed != 0 {
            put(&speed.to_be_bytes());
        }
    }

    /// Length of the canonical encoding, without encoding.
    pub fn encoded_len(&self) -> usize {
        let addrs: usize = self
            .addrs
            .iter()
            .map(|a| match a {
                Prefix::V4(..) => 6,
                Prefix::V6(..) => 18,
            })
            .sum();
        // name_len, flags, mtu, mac, vlan, addr_count, desc_len.
        let speed = if self.speed != 0 { 4 } else { 0 };
        1 + 1
            + 4
            + 6
            + 2
            + 1
            + 1
            + self.name.as_bytes().len()
            + addrs
            + self.description.len()
            + speed
    }

    /// The canonical encoding as a fresh buffer.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32 + self.description.len() + 18 * self.addrs.len());
        self.encode(&mut v);
        v
    }

    /// The entry hash that section digests sum: [`crate::hash::entry_hash`] of the
    /// canonical encoding, hashed as it is produced (every table change
    /// hashes one or two records; no buffer for them).
    pub fn hash(&self) -> u64 {
        let mut h = EntryHasher::new();
        self.encode_with(&mut |b| h.update(b));
        h.finish()
    }

    /// The hash of [`IfRecord::without_speed`], without building it.
    pub fn hash_without_speed(&self) -> u64 {
        let mut h = EntryHasher::new();
        self.encode_speed(0, &mut |b| h.update(b));
        h.finish()
    }
}

/// Field rules of the canonical encoding, one field each (a partial
/// change checks only the fields it names).
pub(crate) fn check_mtu(mtu: u32) -> Result<(), TableError> {
    if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
        return Err(TableError::BadMtu(mtu));
    }
    Ok(())
}

pub(crate) fn check_vlan(vlan: u16) -> Result<(), TableError> {
    if vlan > VLAN_MAX {
        return Err(TableError::BadVlan(vlan));
    }
    Ok(())
}

/// Addresses into canonical order, duplicates dropped.
pub(crate) fn canonical_addrs(addrs: &mut Vec<Prefix>) {
    addrs.sort_by_key(Prefix::sort_key);
    addrs.dedup();
}

/// Count, each prefix, and strictly ascending canonical order.
pub(crate) fn check_addrs(addrs: &[Prefix]) -> Result<(), TableError> {
    if addrs.len() > MAX_ADDRS {
        return Err(TableError::TooManyAddrs);
    }
    for a in addrs {
        a.validate()?;
    }
    for w in addrs.windows(2) {
        if w[0].sort_key() >= w[1].sort_key() {
            return Err(TableError::AddrOrder);
        }
    }
    Ok(())
}

pub(crate) fn check_description(d: &[u8]) -> Result<(), TableError> {
    if d.len() > DESC_MAX || d.contains(&0) {
        return Err(TableError::BadDesc);
    }
    Ok(())
}

/// A validated section count: a power of two in 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionCount(u32);

impl SectionCount {
    /// One section (the whole table).
    pub const ONE: SectionCount = SectionCount(1);
    /// The maximum, 64 sections.
    pub const MAX: SectionCount = SectionCount(MAX_SECTIONS);

    /// Validate a section count.
    pub fn new(n: u32) -> Result<Self, TableError> {
        if n.is_power_of_two() && n <= MAX_SECTIONS {
            Ok(SectionCount(n))
        } else {
            Err(TableError::BadSectionCount(n))
        }
    }

    /// The count.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Cookie with every section's bit set.
    pub fn all_mask(self) -> u64 {
        if self.0 == 64 {
            u64::MAX
        } else {
            (1u64 << self.0) - 1
        }
    }

    /// Section of a name.
    pub fn section_of(self, name: &IfName) -> u32 {
        section_of(name.as_bytes(), self.0)
    }
}

/// One mutation inside an update. Every op *sets* state to a value carried in
/// the op (never "increment" or "append"), so re-applying an op, or applying
/// it on top of a newer snapshot of the touched keys and then the ops after
/// it, converges to the same state. Bulk sync and audit repair rely on this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or overwrite the record under `rec.name`.
    Set(IfRecord),
    /// Remove a record; removing an absent name is not an error.
    Del(IfName),
    /// Replace a whole section: remove all its records, insert these (sorted
    /// by name, all hashing to `section`). Used by selective replay, audit
    /// repair and bulk sync.
    ReplaceSection {
        /// Section index.
        section: u32,
        /// The section's complete new content.
        records: Vec<IfRecord>,
    },
    /// Remove `from` and insert `record` (under its new name), in one step:
    /// exactly `[Del(from), Set(record)]`, which is what the kernel and a
    /// peer of a release without this op receive instead (see
    /// `docs/upgrade.md`). Since replication release 2.
    Rename {
        /// The name the record had.
        from: IfName,
        /// The record under its new name.
        record: IfRecord,
    },
}

impl Op {
    /// The sections this op touches, as a cookie.
    pub fn cookie(&self, sc: SectionCount) -> u64 {
        match self {
            Op::Set(r) => 1u64 << sc.section_of(&r.name),
            Op::Del(n) => 1u64 << sc.section_of(n),
            Op::ReplaceSection { section, .. } => 1u64 << (section & 63),
            Op::Rename { from, record } => {
                (1u64 << sc.section_of(from)) | (1u64 << sc.section_of(&record.name))
            }
        }
    }

    /// The records the op carries whole.
    pub fn records(&self) -> std::slice::Iter<'_, IfRecord> {
        match self {
            Op::Set(r) | Op::Rename { record: r, .. } => std::slice::from_ref(r).iter(),
            Op::ReplaceSection { records, .. } => records.iter(),
            Op::Del(_) => [].iter(),
        }
    }

    /// How many ops this one is where ops are counted against
    /// [`MAX_OPS`]: a rename is a delete and a set to the kernel and to a
    /// peer of a release without renames.
    pub fn weight(&self) -> usize {
        match self {
            Op::Rename { .. } => 2,
            _ => 1,
        }
    }

    /// The ops of the first release that do exactly what this one does.
    pub fn expand_into(&self, out: &mut Vec<Op>) {
        match self {
            Op::Rename { from, record } => {
                out.push(Op::Del(from.clone()));
                out.push(Op::Set(record.clone()));
            }
            op => out.push(op.clone()),
        }
    }

    /// Stateless validation: field rules, section membership, sort order.
    pub fn validate(&self, sc: SectionCount) -> Result<(), TableError> {
        match self {
            Op::Set(r) | Op::Rename { record: r, .. } => r.validate(),
            Op::Del(_) => Ok(()),
            Op::ReplaceSection { section, records } => {
                if *section >= sc.get() || records.len() > MAX_REPLACE_RECORDS {
                    return Err(TableError::BadSection(*section));
                }
                for r in records {
                    r.validate()?;
                    if sc.section_of(&r.name) != *section {
                        return Err(TableError::BadSection(*section));
                    }
                }
                if records.windows(2).any(|w| w[0].name >= w[1].name) {
                    return Err(TableError::BadSection(*section));
                }
                Ok(())
            }
        }
    }
}

/// Cookie of a whole update: OR of its ops' cookies.
pub fn cookie_of(ops: &[Op], sc: SectionCount) -> u64 {
    ops.iter().fold(0, |c, op| c | op.cookie(sc))
}

/// The ops counted against [`MAX_OPS`] (see [`Op::weight`]).
pub fn weight_of(ops: &[Op]) -> usize {
    ops.iter().map(Op::weight).sum()
}

/// `ops` in the first release's ops (see [`Op::expand_into`]).
pub fn expand(ops: &[Op]) -> Vec<Op> {
    let mut out = Vec::with_capacity(weight_of(ops));
    for op in ops {
        op.expand_into(&mut out);
    }
    out
}

/// One channel's table with incrementally maintained section digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    sc: SectionCount,
    records: BTreeMap<IfName, IfRecord>,
    sums: SectionSums,
}

/// Per section sums over its records, kept as records come and go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SectionSums {
    // INVARIANT: digests[s] == wrapping sum of hash() of records in section s.
    digests: [u64; MAX_SECTIONS as usize],
    // INVARIANT: speeds[s] == wrapping sum of hash_without_speed() - hash()
    // of the records in section s (only those with a speed add to it).
    speeds: [u64; MAX_SECTIONS as usize],
}

impl SectionSums {
    const EMPTY: SectionSums = SectionSums {
        digests: [0; MAX_SECTIONS as usize],
        speeds: [0; MAX_SECTIONS as usize],
    };

    /// What `r` adds to its section's two sums.
    fn terms(r: &IfRecord) -> (u64, u64) {
        let h = r.hash();
        let speed = if r.speed != 0 {
            r.hash_without_speed().wrapping_sub(h)
        } else {
            0
        };
        (h, speed)
    }

    /// `r` into section `s`'s sums.
    fn add(&mut self, s: usize, r: &IfRecord) {
        let (h, speed) = Self::terms(r);
        self.digests[s] = self.digests[s].wrapping_add(h);
        self.speeds[s] = self.speeds[s].wrapping_add(speed);
    }

    /// `r` out of section `s`'s sums.
    fn sub(&mut self, s: usize, r: &IfRecord) {
        let (h, speed) = Self::terms(r);
        self.digests[s] = self.digests[s].wrapping_sub(h);
        self.speeds[s] = self.speeds[s].wrapping_sub(speed);
    }

    fn clear(&mut self, s: usize) {
        self.digests[s] = 0;
        self.speeds[s] = 0;
    }
}

impl Table {
    /// An empty table.
    pub fn new(sc: SectionCount) -> Self {
        Table {
            sc,
            records: BTreeMap::new(),
            sums: SectionSums::EMPTY,
        }
    }

    /// Section count.
    pub fn section_count(&self) -> SectionCount {
        self.sc
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Look up a record.
    pub fn get(&self, name: &IfName) -> Option<&IfRecord> {
        self.records.get(name)
    }

    /// All records in name order.
    pub fn iter(&self) -> impl Iterator<Item = &IfRecord> {
        self.records.values()
    }

    /// Digest of one section.
    pub fn digest(&self, section: u32) -> u64 {
        self.sums.digests[(section & 63) as usize]
    }

    /// Digests of all `section_count` sections.
    pub fn digests(&self) -> Vec<u64> {
        self.sums.digests[..self.sc.get() as usize].to_vec()
    }

    /// The digests of the table as a peer of release 1 holds it, every
    /// speed left out (what it audits against: a speed it was never sent
    /// is not a difference).
    pub fn release_1_digests(&self) -> Vec<u64> {
        let n = self.sc.get() as usize;
        self.sums.digests[..n]
            .iter()
            .zip(&self.sums.speeds[..n])
            .map(|(d, s)| d.wrapping_add(*s))
            .collect()
    }

    /// A section's records, sorted by name (the content of a ReplaceSection).
    pub fn section_records(&self, section: u32) -> Vec<IfRecord> {
        self.records
            .values()
            .filter(|r| self.sc.section_of(&r.name) == section)
            .cloned()
            .collect()
    }

    /// One page of a section's key range `(after, upto]` in name order
    /// (`None`: open at that end): as many records as fit `budget` bytes of
    /// canonical encoding, at least one, and whether the page reaches the
    /// range's end. Bulk sync splits a dense section into such pages.
    pub fn section_page(
        &self,
        section: u32,
        after: Option<&IfName>,
        upto: Option<&IfName>,
        budget: usize,
    ) -> (Vec<IfRecord>, bool) {
        let mut out = Vec::new();
        let mut used = 0;
        for r in self.range(after, upto) {
            if self.sc.section_of(&r.name) != section {
                continue;
            }
            let n = r.encoded_len();
            if !out.is_empty() && used + n > budget {
                return (out, false);
            }
            used += n;
            out.push(r.clone());
        }
        (out, true)
    }

    /// Replace a section's key range `(after, upto]` with `records` (which
    /// the caller checked lie in that section and range): a page of a
    /// bulk sync. Like a section replace, but for part of a section.
    pub fn replace_range(
        &mut self,
        section: u32,
        after: Option<&IfName>,
        upto: Option<&IfName>,
        records: &[IfRecord],
    ) {
        let gone: Vec<IfName> = self
            .range(after, upto)
            .filter(|r| self.sc.section_of(&r.name) == section)
            .map(|r| r.name.clone())
            .collect();
        for n in &gone {
            self.remove(n);
        }
        for r in records {
            self.insert(r.clone());
        }
    }

    /// Records named in `(after, upto]`, in name order.
    fn range<'a>(
        &'a self,
        after: Option<&'a IfName>,
        upto: Option<&'a IfName>,
    ) -> impl Iterator<Item = &'a IfRecord> + 'a {
        use std::ops::Bound;
        // An empty or inverted range would make BTreeMap::range panic.
        let empty = matches!((after, upto), (Some(a), Some(u)) if a >= u);
        let lo = after.map_or(Bound::Unbounded, Bound::Excluded);
        let hi = upto.map_or(Bound::Unbounded, Bound::Included);
        let range = if empty {
            None
        } else {
            Some(self.records.range::<IfName, _>((lo, hi)))
        };
        range.into_iter().flatten().map(|(_, r)| r)
    }

    /// Number of records in the sections of `mask`.
    pub fn count_in(&self, mask: u64) -> usize {
        self.records
            .keys()
            .filter(|n| mask & (1u64 << self.sc.section_of(n)) != 0)
            .count()
    }

    /// Would `ops` apply cleanly under the default record limit? Nothing
    /// changes.
    pub fn check(&self, ops: &[Op]) -> Result<(), TableError> {
        self.check_within(ops, DEFAULT_MAX_ENTRIES)
    }

    /// Would `ops` apply cleanly (validation, and at most `max_entries`
    /// records after)? Nothing changes.
    pub fn check_within(&self, ops: &[Op], max_entries: usize) -> Result<(), TableError> {
        if ops.is_empty() || weight_of(ops) > MAX_OPS {
            return Err(TableError::BadOpCount);
        }
        for op in ops {
            op.validate(self.sc)?;
        }
        // Track the entry count through the ops with a small overlay instead
        // of cloning the table: the limit applies to the final state only.
        let mut overlay: BTreeMap<&IfName, bool> = BTreeMap::new();
        let mut cleared = 0u64;
        let mut count = self.records.len();
        let present = |ov: &BTreeMap<&IfName, bool>, cleared: u64, n: &IfName| -> bool {
            match ov.get(n) {
                Some(&p) => p,
                None => {
                    cleared & (1u64 << self.sc.section_of(n)) == 0 && self.records.contains_key(n)
                }
            }
        };
        for op in ops {
            match op {
                Op::Set(r) => {
                    if !present(&overlay, cleared, &r.name) {
                        count += 1;
                    }
                    overlay.insert(&r.name, true);
                }
                Op::Del(n) => {
                    if present(&overlay, cleared, n) {
                        count -= 1;
                    }
                    overlay.insert(n, false);
                }
                Op::Rename { from, record } => {
                    if present(&overlay, cleared, from) {
                        count -= 1;
                    }
                    overlay.insert(from, false);
                    if !present(&overlay, cleared, &record.name) {
                        count += 1;
                    }
                    overlay.insert(&record.name, true);
                }
                Op::ReplaceSection { section, records } => {
                    let bit = 1u64 << section;
                    let mut gone = 0;
                    if cleared & bit == 0 {
                        gone += self
                            .records
                            .keys()
                            .filter(|n| {
                                self.sc.section_of(n) == *section && !overlay.contains_key(n)
                            })
                            .count();
                    }
                    gone += overlay
                        .iter()
                        .filter(|(n, &p)| p && self.sc.section_of(n) == *section)
                        .count();
                    overlay.retain(|n, _| self.sc.section_of(n) != *section);
                    cleared |= bit;
                    count = count - gone + records.len();
                    for r in records {
                        overlay.insert(&r.name, true);
                    }
                }
            }
        }
        if count > max_entries {
            return Err(TableError::TooManyEntries);
        }
        Ok(())
    }

    /// Apply an update atomically: all ops or, on error, none.
    pub fn apply(&mut self, ops: &[Op]) -> Result<(), TableError> {
        self.apply_within(ops, DEFAULT_MAX_ENTRIES)
    }

    /// [`Table::apply`] with the channel's record limit.
    pub fn apply_within(&mut self, ops: &[Op], max_entries: usize) -> Result<(), TableError> {
        self.check_within(ops, max_entries)?;
        for op in ops {
            self.apply_op(op);
        }
        Ok(())
    }

    /// Set `change` onto its record (or a new one), the update a single
    /// request makes: the same rules and result as [`Table::apply_within`]
    /// of the `Op::Set` of [`RecordChange::onto`], with one lookup for a
    /// record that exists and no scratch state. Returns the record set.
    pub fn set_change(
        &mut self,
        change: &RecordChange,
        max_entries: usize,
    ) -> Result<IfRecord, TableError> {
        let s = self.sc.section_of(&change.name) as usize;
        let over = self.records.len() > max_entries;
        if let Some(cur) = self.records.get_mut(&change.name) {
            let r = change.onto(Some(cur));
            r.validate()?;
            if over {
                return Err(TableError::TooManyEntries);
            }
            self.sums.sub(s, cur);
            self.sums.add(s, &r);
            cur.clone_from(&r);
            return Ok(r);
        }
        let r = change.onto(None);
        r.validate()?;
        if self.records.len() >= max_entries {
            return Err(TableError::TooManyEntries);
        }
        self.sums.add(s, &r);
        self.records.insert(r.name.clone(), r.clone());
        Ok(r)
    }

    /// Apply ops that a trusted peer already validated, without the entry
    /// limit. Standbys use this for redo after a fuzzy snapshot, where the
    /// intermediate state may briefly hold more records than the final one.
    pub fn apply_trusted(&mut self, ops: &[Op]) {
        for op in ops {
            self.apply_op(op);
        }
    }

    fn apply_op(&mut self, op: &Op) {
        match op {
            Op::Set(r) => self.insert(r.clone()),
            Op::Del(n) => self.remove(n),
            Op::ReplaceSection { section, records } => {
                self.clear_section(*section);
                for r in records {
                    self.insert(r.clone());
                }
            }
            Op::Rename { from, record } => {
                self.remove(from);
                self.insert(record.clone());
            }
        }
    }

    fn insert(&mut self, r: IfRecord) {
        let s = self.sc.section_of(&r.name) as usize;
        self.sums.add(s, &r);
        if let Some(old) = self.records.insert(r.name.clone(), r) {
            self.sums.sub(s, &old);
        }
    }

    fn remove(&mut self, n: &IfName) {
        if let Some(old) = self.records.remove(n) {
            let s = self.sc.section_of(n) as usize;
            self.sums.sub(s, &old);
        }
    }

    fn clear_section(&mut self, section: u32) {
        let sc = self.sc;
        self.records.retain(|n, _| sc.section_of(n) != section);
        self.sums.clear((section & 63) as usize);
    }

    /// Recompute every digest from scratch (audit self-check).
    pub fn recompute_digests(&self) -> Vec<u64> {
        let mut d = vec![0u64; self.sc.get() as usize];
        for r in self.records.values() {
            let s = self.sc.section_of(&r.name) as usize;
            d[s] = d[s].wrapping_add(r.hash());
        }
        d
    }

    /// Sections (as a mask) whose content differs from `other`'s.
    pub fn diff_sections(&self, other: &Table) -> u64 {
        let mut m = 0u64;
        for s in 0..self.sc.get() {
            if self.section_records(s) != other.section_records(s) {
                m |= 1u64 << s;
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefix() -> impl Strategy<Value = Prefix> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, l)| Prefix::V4(a, l)),
            (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, l)| Prefix::V6(a, l)),
        ]
    }

    #[test]
    fn a_rename_is_its_delete_and_set() {
        let sc = SectionCount::new(8).expect("sc");
        let mut t = Table::new(sc);
        let mut r = IfRecord::new(name("eth0"));
        r.mtu = 9000;
        t.apply(&[Op::Set(r.clone())]).expect("set");
        let mut moved = r.clone();
        moved.name = name("lan0");
        let rename = Op::Rename {
            from: name("eth0"),
            record: moved.clone(),
        };
        let expanded = expand(std::slice::from_ref(&rename));
        assert_eq!(
            expanded,
            vec![Op::Del(name("eth0")), Op::Set(moved.clone())]
        );
        assert_eq!(rename.weight(), 2);
        assert_eq!(
            cookie_of(std::slice::from_ref(&rename), sc),
            cookie_of(&expanded, sc)
        );
        let mut a = t.clone();
        let mut b = t.clone();
        a.apply(std::slice::from_ref(&rename)).expect("rename");
        b.apply(&expanded).expect("expanded");
        assert_eq!(a, b);
        assert_eq!(a.get(&name("lan0")), Some(&moved));
        assert!(a.get(&name("eth0")).is_none());
        assert_eq!(a.recompute_digests(), a.digests());
        // Counted as two ops against the limit, and as one record.
        let many: Vec<Op> = (0..33)
            .map(|i| Op::Rename {
                from: name(&format!("x{i}")),
                record: IfRecord::new(name(&format!("y{i}"))),
            })
            .collect();
        assert_eq!(t.check_within(&many, 1 << 20), Err(TableError::BadOpCount));
        assert_eq!(t.check_within(&[rename], 1), Ok(()));
    }

    proptest! {
        /// Names order, compare and hash as their bytes.
        #[test]
        fn names_order_as_bytes(a in "[!-.0-~]{1,15}", b in "[!-.0-~]{1,15}") {
            let (x, y) = (name(&a), name(&b));
            prop_assert_eq!(x.cmp(&y), a.as_bytes().cmp(b.as_bytes()));
            prop_assert_eq!(x == y, a == b);
            prop_assert_eq!(x.as_bytes(), a.as_bytes());
            prop_assert_eq!(x.to_string(), a);
        }

        /// The sort key orders as the encoded bytes (the kernel's order).
        #[test]
        fn sort_key_orders_as_encoding(a in prefix(), b in prefix()) {
            let enc = |p: &Prefix| {
                let mut v = Vec::new();
                p.encode_with(&mut |x| v.extend_from_slice(x));
                v
            };
            prop_assert_eq!(a.sort_key().cmp(&b.sort_key()), enc(&a).cmp(&enc(&b)));
        }
    }

    fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid name")
    }

    pub(crate) fn sample() -> IfRecord {
        let mut r = IfRecord::new(name("eth0"));
        r.admin_up = true;
        r.mtu = 9000;
        r.mac = [0x02, 0, 0, 0, 0, 1];
        r.vlan = 42;
        r.addrs = vec![
            Prefix::V6(
                [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                64,
            ),
            Prefix::V4([10, 0, 0, 1], 24),
        ];
        r.description = b"uplink".to_vec();
        r.canonicalize();
        r
    }

    #[test]
    fn canonical_encoding_vector() {
        let r = sample();
        r.validate().expect("valid");
        let expect: Vec<u8> = [
            &[4u8][..],
            b"eth0",
            &[1],
            &[0, 0, 0x23, 0x28],
            &[2, 0, 0, 0, 0, 1],
            &[0, 42],
            &[2],
            &[4, 24, 10, 0, 0, 1],
            &[
                6, 64, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ],
            &[6],
            b"uplink",
        ]
        .concat();
        assert_eq!(r.canonical_bytes(), expect);
        assert_eq!(r.hash(), vectors::RECORDS[0].hash);
        let d = IfRecord::new(name("lo"));
        assert_eq!(
            d.canonical_bytes(),
            [2, b'l', b'o', 0, 0, 0, 5, 220, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(d.hash(), vectors::RECORDS[1].hash);
    }

    /// The vectors the kernel's KUnit suites check too (`hasync_hash`).
    #[allow(dead_code)]
    mod vectors {
        include!("../../../kmod/kunit/vectors.rs");
    }

    /// Every record of the shared vectors hashes as the kernel hashes it.
    #[test]
    fn record_vectors() {
        for v in vectors::RECORDS {
            let mut r = IfRecord::new(IfName::new(v.name).expect("name"));
            r.admin_up = v.admin_up;
            r.mtu = v.mtu;
            r.mac = v.mac;
            r.vlan = v.vlan;
            r.addrs = v
                .addrs
                .iter()
                .map(|&(family, len, bytes)| match family {
                    4 => Prefix::V4(bytes.try_into().expect("4 bytes"), len),
                    _ => Prefix::V6(bytes.try_into().expect("16 bytes"), len),
                })
                .collect();
            r.description = v.desc.to_vec();
            r.speed = v.speed;
            r.canonicalize();
            r.validate().expect("valid");
            assert_eq!(r.hash(), v.hash, "{}", r.name);
        }
    }

    /// The release 1 view's digests follow every way a table changes.
    #[test]
    fn release_1_digests_are_the_digests_without_speeds() {
        let sc = SectionCount::new(4).expect("sc");
        let name = |i: u32| IfName::new(format!("if{i}").as_bytes()).expect("name");
        let with_speed = |i: u32, speed: u32| {
            let mut r = IfRecord::new(name(i));
            r.speed = speed;
            r.mtu = 1000 + i;
            r
        };
        let mut t = Table::new(sc);
        for i in 0..40 {
            t.apply_trusted(&[Op::Set(with_speed(i, (i % 3) * 1000))]);
        }
        let view = |t: &Table| {
            let mut plain = Table::new(sc);
            let ops: Vec<Op> = t.iter().map(|r| Op::Set(r.without_speed())).collect();
            plain.apply_trusted(&ops);
            plain.digests()
        };
        assert_ne!(t.release_1_digests(), t.digests());
        assert_eq!(t.release_1_digests(), view(&t));
        let mut change = RecordChange::new(name(1));
        change.speed = Some(0);
        t.set_change(&change, 100).expect("valid");
        change.name = name(3);
        change.speed = Some(5);
        t.set_change(&change, 100).expect("valid");
        let s = sc.section_of(&name(2));
        let kept: Vec<IfRecord> = t.section_records(s).into_iter().skip(1).collect();
        t.apply_trusted(&[
            Op::ReplaceSection {
                section: s,
                records: kept,
            },
            Op::Del(name(4)),
            Op::Rename {
                from: name(5),
                record: with_speed(50, 9),
            },
        ]);
        assert_eq!(t.release_1_digests(), view(&t));
        assert_eq!(t.digests(), t.recompute_digests());
        // Without any speed the two are the same.
        let mut t = Table::new(sc);
        t.apply_trusted(&[Op::Set(with_speed(1, 0))]);
        assert_eq!(t.release_1_digests(), t.digests());
    }

    #[test]
    fn validation() {
        assert!(IfName::new(b"").is_err());
        assert!(IfName::new(b"0123456789abcdef").is_err());
        assert!(IfName::new(b"a/b").is_err());
        assert!(IfName::new(b"a b").is_err());
        let mut r = sample();
        r.mtu = 67;
        assert_eq!(r.validate(), Err(TableError::BadMtu(67)));
        let mut r = sample();
        r.vlan = 4095;
        assert_eq!(r.validate(), Err(TableError::BadVlan(4095)));
        let mut r = sample();
        r.addrs.reverse();
        assert_eq!(r.validate(), Err(TableError::AddrOrder));
        let mut r = sample();
        r.addrs = vec![Prefix::V4([1, 2, 3, 4], 33)];
        assert_eq!(r.validate(), Err(TableError::BadAddr));
        assert!(SectionCount::new(0).is_err());
        assert!(SectionCount::new(3).is_err());
        assert!(SectionCount::new(128).is_err());
        assert_eq!(
            SectionCount::new(64).map(SectionCount::all_mask),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn digests_incremental_and_atomic() {
        let sc = SectionCount::new(8).expect("sc");
        let mut t = Table::new(sc);
        let mut ops = Vec::new();
        for i in 0..40 {
            let mut r = IfRecord::new(name(&format!("if{i}")));
            r.mtu = 1000 + i;
            ops.push(Op::Set(r));
            if ops.len() == 10 {
                t.apply(&ops).expect("apply");
                ops.clear();
            }
        }
        t.apply(&[Op::Del(name("if3")), Op::Del(name("nope"))])
            .expect("del");
        assert_eq!(t.digests(), t.recompute_digests());
        let s = sc.section_of(&name("if5"));
        let before = t.clone();
        t.apply(&[Op::ReplaceSection {
            section: s,
            records: vec![],
        }])
        .expect("replace");
        assert_eq!(t.digest(s), 0);
        assert_eq!(t.digests(), t.recompute_digests());
        assert_eq!(before.diff_sections(&t), 1u64 << s);
        // Atomicity: the invalid second op leaves the table untouched.
        let snapshot = t.clone();
        let mut bad = IfRecord::new(name("x"));
        bad.mtu = 1;
        assert!(t.apply(&[Op::Del(name("if7")), Op::Set(bad)]).is_err());
        assert_eq!(t, snapshot);
    }

    #[test]
    fn entry_limit() {
        const LIMIT: usize = 1024;
        let sc = SectionCount::new(1).expect("sc");
        let mut t = Table::new(sc);
        let mut n = 0;
        while t.len() < LIMIT {
            let ops: Vec<Op> = (0..MAX_OPS)
                .map(|_| {
                    n += 1;
                    Op::Set(IfRecord::new(name(&format!("i{n}"))))
                })
                .collect();
            t.apply_within(&ops, LIMIT).expect("fits");
        }
        let one = Op::Set(IfRecord::new(name("extra")));
        assert_eq!(
            t.apply_within(std::slice::from_ref(&one), LIMIT),
            Err(TableError::TooManyEntries)
        );
        t.apply(std::slice::from_ref(&one))
            .expect("the default limit is larger");
        t.apply_trusted(&[Op::Del(name("extra"))]);
        // Replacing the only section with fewer records makes room in the same update.
        let replace = Op::ReplaceSection {
            section: 0,
            records: vec![],
        };
        t.apply_within(&[replace, one], LIMIT)
            .expect("room after replace");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn encoded_len_matches_encoding() {
        let r = sample();
        assert_eq!(r.encoded_len(), r.canonical_bytes().len());
        let bare = IfRecord::new(name("x"));
        assert_eq!(bare.encoded_len(), bare.canonical_bytes().len());
    }

    #[test]
    fn pages_cover_a_section_and_replace_ranges() {
        let sc = SectionCount::new(4).expect("sc");
        let mut t = Table::new(sc);
        for i in 0..300 {
            let mut r = sample();
            r.name = name(&format!("if{i}"));
            t.apply_trusted(&[Op::Set(r)]);
        }
        for s in 0..4 {
            let whole = t.section_records(s);
            // Pages of ~3 records tile the section exactly.
            let budget = 3 * sample().encoded_len();
            let mut after: Option<IfName> = None;
            let mut got = Vec::new();
            let mut rebuilt = Table::new(sc);
            loop {
                let (page, end) = t.section_page(s, after.as_ref(), None, budget);
                assert!(!page.is_empty() && page.len() <= 3);
                let upto = if end {
                    None
                } else {
                    page.last().map(|r| r.name.clone())
                };
                rebuilt.replace_range(s, after.as_ref(), upto.as_ref(), &page);
                got.extend(page);
                if end {
                    break;
                }
                after = upto;
            }
            assert_eq!(got, whole);
            assert_eq!(rebuilt.section_records(s), whole);
            assert_eq!(rebuilt.digest(s), t.digest(s));
        }
        // A range replace removes what the range held and nothing else.
        let before = t.clone();
        let s = sc.section_of(&name("if10"));
        let recs = t.section_records(s);
        let (a, u) = (recs[1].name.clone(), recs[4].name.clone());
        t.replace_range(s, Some(&a), Some(&u), &[]);
        assert_eq!(t.len(), before.len() - 3);
        assert!(t.get(&a).is_some() && t.get(&u).is_none());
        assert_eq!(t.digests(), t.recompute_digests());
        // Empty and inverted ranges are empty, not a panic.
        assert_eq!(t.section_page(s, Some(&u), Some(&a), 1000), (vec![], true));
        assert_eq!(t.section_page(s, Some(&a), Some(&a), 1000), (vec![], true));
    }
}
