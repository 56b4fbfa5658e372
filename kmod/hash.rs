// SPDX-License-Identifier: GPL-2.0

//! The stable hashes shared with userspace (`hasync-engine`'s `hash.rs`):
//! section of a key and the per-record hash whose wrapping sum is a section's
//! digest.  Changing anything here breaks every peer's digests.

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Streaming FNV-1a 64, so a record is hashed field by field without first
/// building its canonical encoding in a buffer.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(FNV_OFFSET)
    }

    pub(crate) fn bytes(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// The splitmix64 finalizer: spreads FNV's weak high bits so that a sum of
/// record hashes does not cancel for records one byte apart.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Section of a key; `sections` is a power of two in 1..=64.
pub(crate) fn section_of(key: &[u8], sections: u32) -> u32 {
    // The mask is below 64, so the truncation keeps every set bit.
    (Fnv::new().bytes(key).finish() & u64::from(sections - 1)) as u32
}
