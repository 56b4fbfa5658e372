//! Audit, the periodic assessment of the copies: compare per-section digests.
//!
//! Digests are order-independent sums ([`crate::table`]), so two copies of
//! a section agree exactly when their digests agree (up to 64-bit hash
//! collisions). The primary sends its digests tagged with an opid; a
//! standby compares when it is at that same opid and reports the mismatched
//! sections; the primary repairs them by replaying those sections through
//! the normal stream (a `ReplaceSection` update), which fixes the kernel and
//! every standby at once. The kernel's digests (read with
//! [`crate::kernel::KernelCmd::Digests`]) are compared the same way.

/// Bitmask of sections whose digests differ. Sections present in only one
/// list count as mismatched.
pub fn mismatched(a: &[u64], b: &[u64]) -> u64 {
    let n = a.len().max(b.len()).min(64);
    let mut m = 0u64;
    for s in 0..n {
        if a.get(s) != b.get(s) {
            m |= 1u64 << s;
        }
    }
    m
}

/// Result of auditing one channel across up to three copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Sections where the standby differs from the primary.
    pub standby: u64,
    /// Sections where the kernel differs from the primary.
    pub kernel: u64,
}

impl AuditReport {
    /// Sections to replay to bring everyone to the primary's content.
    pub fn repair_mask(&self) -> u64 {
        self.standby | self.kernel
    }
}

/// Audit a channel given the primary's digests and, when supplied, the
/// standby's and the kernel's (all at the same opid).
pub fn audit(primary: &[u64], standby: Option<&[u64]>, kernel: Option<&[u64]>) -> AuditReport {
    AuditReport {
        standby: standby.map_or(0, |s| mismatched(primary, s)),
        kernel: kernel.map_or(0, |k| mismatched(primary, k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mismatched(&[1, 2, 3], &[1, 2, 3]), 0);
        assert_eq!(mismatched(&[1, 2, 3], &[1, 9, 3]), 0b010);
        assert_eq!(mismatched(&[1, 2], &[1, 2, 3]), 0b100);
        let r = audit(&[1, 2, 3], Some(&[0, 2, 3]), Some(&[1, 2, 0]));
        assert_eq!(
            (r.standby, r.kernel, r.repair_mask()),
            (0b001, 0b100, 0b101)
        );
    }
}
