// Do not edit directly, generated from hasync.yaml by scripts/ynl-gen-rs.
// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)

//! Wire constants of the `hasync` generic netlink family.
//!
//! High-availability state replication: the data plane's interface state
//! tables, per-channel acked-opid registers and owner epochs, kept by the
//! hasync kernel module and written by the hasyncd replication daemons.

#![allow(clippy::doc_lazy_continuation)]

/// Generic netlink family name; the kernel assigns the id at registration.
pub const FAMILY_NAME: &str = "hasync";

/// Family version, sent in every request's `genlmsghdr.version`.
pub const FAMILY_VERSION: u8 = 1;

/// Command numbers (`genlmsghdr.cmd`); a reply carries its request's number.
pub mod cmd {
    /// Get the module's version, limits and current counts.
    ///
    /// Attribute set `info`; do.
    pub const INFO: u8 = 1;

    /// The spec's name for command `cmd`.
    pub const fn name(cmd: u8) -> Option<&'static str> {
        match cmd {
            INFO => Some("info"),
            _ => None,
        }
    }
}

/// Attribute types (`nla_type`), one module per attribute set.
pub mod attr {
    pub mod info {
        /// Module version string.
        ///
        /// Wire type: `string`.
        pub const VERSION: u16 = 1;

        /// Version of this netlink protocol; bumped on incompatible change.
        ///
        /// Wire type: `u32`.
        pub const PROTO_VERSION: u16 = 2;

        /// Limit on the number of channels (module parameter).
        ///
        /// Wire type: `u32`.
        pub const MAX_CHANNELS: u16 = 3;

        /// Limit on the number of interface records per channel.
        ///
        /// Wire type: `u32`.
        pub const MAX_ENTRIES: u16 = 4;

        /// Largest section count a channel may be created with.
        ///
        /// Wire type: `u32`.
        pub const MAX_SECTIONS: u16 = 5;

        /// Number of (opid, cookie) pairs each channel remembers.
        ///
        /// Wire type: `u32`.
        pub const COOKIE_LOG_LEN: u16 = 6;

        /// Channels that currently exist.
        ///
        /// Wire type: `u32`.
        pub const CHANNELS: u16 = 7;

        /// Interface records held, summed over all channels.
        ///
        /// Wire type: `uint`.
        pub const ENTRIES: u16 = 8;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                VERSION => Some("version"),
                PROTO_VERSION => Some("proto-version"),
                MAX_CHANNELS => Some("max-channels"),
                MAX_ENTRIES => Some("max-entries"),
                MAX_SECTIONS => Some("max-sections"),
                COOKIE_LOG_LEN => Some("cookie-log-len"),
                CHANNELS => Some("channels"),
                ENTRIES => Some("entries"),
                _ => None,
            }
        }
    }
}
