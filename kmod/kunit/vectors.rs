// SPDX-License-Identifier: GPL-2.0

// The hashes every side of hasync must agree on: the kernel's KUnit suites,
// the engine's and the netlink client's tests all check these very values
// (userspace `include!`s this file), so a divergence fails on every side.
//
// A record's hash is `mix64(fnv1a64(canonical encoding))` and a section's
// digest the wrapping sum of its records' hashes.

/// `(bytes, fnv1a64(bytes))`; the first three are FNV's published vectors.
pub const FNV1A64: &[(&[u8], u64)] = &[
    (b"", 0xcbf2_9ce4_8422_2325),
    (b"a", 0xaf63_dc4c_8601_ec8c),
    (b"foobar", 0x8594_4171_f739_67e8),
    (b"eth0", 0xc41b_f760_7a25_a404),
    (b"lo", 0x08ad_3907_b553_f8ec),
];

/// `(x, mix64(x))`: splitmix64's finalizer.
pub const MIX64: &[(u64, u64)] = &[(0, 0), (0x9e37_79b9_7f4a_7c15, 0xe220_a839_7b1d_cdaf)];

/// `(name, sections, section)`: a name's section in a channel of that many
/// sections.
pub const SECTION_OF: &[(&[u8], u32, u32)] = &[
    (b"eth0", 1, 0),
    (b"eth0", 8, 4),
    (b"eth0", 64, 4),
    (b"lo", 64, 44),
    (b"lo", 16, 12),
];

/// One interface record and its hash.
pub struct RecordVector {
    pub name: &'static [u8],
    pub admin_up: bool,
    pub mtu: u32,
    pub mac: [u8; 6],
    pub vlan: u16,
    /// `(family, prefix_len, address bytes)`, in any order: the hash is
    /// over the canonical (sorted) order.
    pub addrs: &'static [(u8, u8, &'static [u8])],
    pub desc: &'static [u8],
    /// Mb/s, 0 when unknown (then not in the encoding).
    pub speed: u32,
    pub hash: u64,
}

pub const RECORDS: &[RecordVector] = &[
    RecordVector {
        name: b"eth0",
        admin_up: true,
        mtu: 9000,
        mac: [2, 0, 0, 0, 0, 1],
        vlan: 42,
        addrs: &[
            (
                6,
                64,
                &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (4, 24, &[10, 0, 0, 1]),
        ],
        desc: b"uplink",
        speed: 0,
        hash: 0x391c_75c0_e67d_04be,
    },
    // Every field at its default.
    RecordVector {
        name: b"lo",
        admin_up: false,
        mtu: 1500,
        mac: [0; 6],
        vlan: 0,
        addrs: &[],
        desc: b"",
        speed: 0,
        hash: 0x657d_5c52_7238_4f8d,
    },
    // Release 2's fields: a known speed, a description longer than the
    // 64 bytes of release 1.
    RecordVector {
        name: b"wan0",
        admin_up: true,
        mtu: 1500,
        mac: [2, 0, 0, 0, 0, 2],
        vlan: 0,
        addrs: &[],
        desc: b"uplink to the provider's edge router, circuit 4711, contract 2026-0815, \
                escalate to the NOC",
        speed: 10000,
        hash: 0xb552_92dd_39ca_b464,
    },
];
