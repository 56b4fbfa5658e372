//! Fixed-offset field access for the C structs of `<linux/tipc.h>`.
//!
//! Every field the kernel exchanges with us is in the host's byte order
//! (see [`crate::subscr`] for the one place where the kernel would swap),
//! so these are native-endian. Callers check lengths before they call.

/// The `u32` at `off`. Panics if `buf` is too short: callers check.
pub(crate) fn get_u32(buf: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[off..off + 4]);
    u32::from_ne_bytes(b)
}

/// The `u16` at `off`.
pub(crate) fn get_u16(buf: &[u8], off: usize) -> u16 {
    let mut b = [0u8; 2];
    b.copy_from_slice(&buf[off..off + 2]);
    u16::from_ne_bytes(b)
}

/// Store `v` at `off`.
pub(crate) fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

/// Store `v` at `off`.
pub(crate) fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}
