//! The stable hash functions shared with the kernel module.
//!
//! `hasync.ko` must compute exactly the same values, so everything here is
//! specified bit for bit and pinned by test vectors:
//!
//! * [`fnv1a64`]: FNV-1a, 64 bit. Offset basis `0xcbf29ce484222325`, prime
//!   `0x100000001b3`; for each byte `h ^= byte; h = h.wrapping_mul(prime)`.
//! * [`mix64`]: the splitmix64 finalizer (Steele, Lea, Flood 2014):
//!   `z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
//!   z *= 0x94d049bb133111eb; z ^= z >> 31` (all multiplications wrapping).
//! * [`section_of`]: `fnv1a64(key) & (section_count - 1)`, where
//!   `section_count` is a power of two in `1..=64`.
//! * [`entry_hash`]: `mix64(fnv1a64(canonical encoding of the record))`; the
//!   encoding is defined in [`crate::table`].
//!
//! FNV-1a alone is a weak mixer in the high bits; the finalizer is there so
//! that a *sum* of entry hashes (the section digest) does not cancel out for
//! records that differ in a single byte.

/// FNV-1a 64-bit offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(FNV_OFFSET, bytes)
}

/// FNV-1a 64 state `h` carried on over `bytes`: hashing an encoding piece
/// by piece equals [`fnv1a64`] of the whole, without building it.
fn fnv1a64_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// splitmix64 finalizer: a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Section index of a key. `section_count` must be a power of two in 1..=64
/// (validated by [`crate::table::SectionCount`]); the mask keeps the low bits.
pub fn section_of(key: &[u8], section_count: u32) -> u32 {
    // Truncation is intended: section_count <= 64, so the mask fits in u32.
    (fnv1a64(key) & u64::from(section_count.wrapping_sub(1))) as u32
}

/// Hash of one entry's canonical encoding (see [`crate::table`]).
pub fn entry_hash(canonical: &[u8]) -> u64 {
    let mut h = EntryHasher::new();
    h.update(canonical);
    h.finish()
}

/// [`entry_hash`] of an encoding handed over piece by piece, without
/// building it first (a table hashes a record or two per change).
#[derive(Debug, Clone, Copy)]
pub struct EntryHasher(u64);

impl EntryHasher {
    /// Nothing hashed yet.
    pub fn new() -> Self {
        EntryHasher(FNV_OFFSET)
    }

    /// The next piece of the encoding.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0 = fnv1a64_extend(self.0, bytes);
    }

    /// The entry hash of the pieces so far.
    pub fn finish(self) -> u64 {
        mix64(self.0)
    }
}

impl Default for EntryHasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors the kernel's KUnit suites check too (`hasync_hash`).
    #[allow(dead_code)]
    mod vectors {
        include!("../../../kmod/kunit/vectors.rs");
    }

    #[test]
    fn fnv1a64_vectors() {
        for &(bytes, want) in vectors::FNV1A64 {
            assert_eq!(fnv1a64(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn mix64_vectors() {
        for &(x, want) in vectors::MIX64 {
            assert_eq!(mix64(x), want, "{x:#x}");
        }
    }

    #[test]
    fn section_vectors() {
        for &(name, sections, want) in vectors::SECTION_OF {
            assert_eq!(section_of(name, sections), want, "{name:?} in {sections}");
        }
    }
}
