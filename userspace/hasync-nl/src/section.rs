//! Which section of a channel an interface name falls in, and the cookie
//! of an update: the bitmask of the sections its ops touch.
//!
//! A copy of `fnv1a64` and `section_of` from `hasync-engine/src/hash.rs`,
//! kept here so that the netlink client does not depend on the engine; its
//! tests check the vectors of `kmod/kunit/vectors.rs`, which the engine and
//! the kernel's KUnit suites check too, so a divergence fails on every side.

/// FNV-1a 64 over `bytes` (offset basis `0xcbf29ce484222325`, prime
/// `0x100000001b3`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The section of `name` in a channel of `sections` sections (a power of
/// two from 1 to 64): the low bits of `fnv1a64(name)`.
pub fn section_of(name: &str, sections: u32) -> u32 {
    // The mask is below 64, so the value fits in a u32.
    (fnv1a64(name.as_bytes()) & u64::from(sections.wrapping_sub(1)) & 63) as u32
}

/// The cookie of an update whose ops touch `names`: bit `section_of(name)`
/// set for each.
pub fn cookie_of<'a>(names: impl IntoIterator<Item = &'a str>, sections: u32) -> u64 {
    names
        .into_iter()
        .fold(0, |c, n| c | 1u64 << section_of(n, sections))
}

/// Whether `sections` is a section count a channel can have.
pub fn valid_sections(sections: u32) -> bool {
    sections.is_power_of_two() && sections <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors the engine and the kernel's KUnit suites check too.
    #[allow(dead_code)]
    mod vectors {
        include!("../../../kmod/kunit/vectors.rs");
    }

    #[test]
    fn shared_vectors() {
        for &(bytes, want) in vectors::FNV1A64 {
            assert_eq!(fnv1a64(bytes), want, "{bytes:?}");
        }
        for &(name, sections, want) in vectors::SECTION_OF {
            let name = std::str::from_utf8(name).expect("ASCII names");
            assert_eq!(section_of(name, sections), want, "{name} in {sections}");
        }
    }

    #[test]
    fn cookies_or_the_sections() {
        assert_eq!(cookie_of(["eth0"], 64), 1 << 4);
        assert_eq!(cookie_of(["eth0", "lo", "eth0"], 64), 1 << 4 | 1 << 0x2c);
        assert_eq!(cookie_of(["eth0", "lo"], 1), 1);
        assert_eq!(cookie_of([], 64), 0);
        assert!(valid_sections(1) && valid_sections(64) && valid_sections(8));
        assert!(!valid_sections(0) && !valid_sections(3) && !valid_sections(128));
    }
}
