// Do not edit directly, generated from hasync.yaml by scripts/ynl-gen-rs.
// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)

//! Wire constants of the `hasync` generic netlink family.
//!
//! High-availability state replication: the data plane's interface state
//! tables, per-channel acked-opid registers and owner epochs, kept by the
//! hasync kernel module and written by the hasyncd replication daemons.
//! One set of tables serves every network namespace: requests from any
//! namespace see and (with CAP_NET_ADMIN in the initial user namespace)
//! change the same channels, and notifications reach subscribers in every
//! namespace.

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

    /// Create a channel (register 0, epoch 0, empty table).
    ///
    /// Attribute set `channel`; do; needs CAP_NET_ADMIN.
    pub const CHANNEL_NEW: u8 = 2;

    /// Delete a channel and its table.
    ///
    /// Attribute set `channel`; do; needs CAP_NET_ADMIN.
    pub const CHANNEL_DEL: u8 = 3;

    /// Get one channel, or dump all, with registers, epoch, counts and per-section digests.
    ///
    /// Attribute set `channel`; do, dump.
    pub const CHANNEL_GET: u8 = 4;

    /// Apply a state update of 1 to 64 ops atomically (all ops or none).
    /// Replies with the ACK and publishes it on the acks group of every
    /// network namespace.  The ACK's epoch is the update's; a duplicate
    /// (opid at or below the register) is re-ACKed with the duplicate flag
    /// and the epoch the log holds for that opid (absent when the log no
    /// longer does), changes nothing and is not published.
    ///
    /// Attribute set `update`; do; needs CAP_NET_ADMIN.
    pub const UPDATE: u8 = 5;

    /// An ACK, published on the acks group.
    ///
    /// Notifies as `update`; multicast group `acks`.
    pub const ACK_NTF: u8 = 6;

    /// Raise the owner epoch of the named channels (`id`, repeated for
    /// several, or `all`) to `epoch`, fencing every older owner and
    /// discarding replays they left open.  All or nothing: claiming with an
    /// epoch below any named channel's is fenced, and a claim whose reply
    /// would not fit one message is refused, both before any epoch changes.
    /// The reply lists each claimed channel with its register and the
    /// register's epoch; with `brief` it carries only claimed-count and
    /// epoch, so a claim of any size fits, and the registers are read with
    /// a brief channel-get dump.
    ///
    /// Attribute set `channel`; do; needs CAP_NET_ADMIN.
    pub const CLAIM: u8 = 7;

    /// Which sections the applied opids above after-opid touched: do answers
    /// with their OR (or log-short) and the register it runs up to; dump
    /// pages through the log's entries themselves, (opid, epoch, sections)
    /// oldest first, and ends with log-short if the log no longer reaches
    /// back to after-opid.
    ///
    /// Attribute set `cookies`; do, dump.
    pub const COOKIES: u8 = 8;

    /// Open a section replay on this socket.
    ///
    /// Attribute set `replay`; do; needs CAP_NET_ADMIN.
    pub const REPLAY_BEGIN: u8 = 9;

    /// Stage records (iface) for the open replay; each must hash into a replayed section.
    ///
    /// Attribute set `replay`; do; needs CAP_NET_ADMIN.
    pub const REPLAY_ENTRIES: u8 = 10;

    /// Atomically install the staged sections and set the register; publishes an ACK whose cookie is the replayed sections.
    ///
    /// Attribute set `replay`; do; needs CAP_NET_ADMIN.
    pub const REPLAY_COMMIT: u8 = 11;

    /// Discard the open replay.
    ///
    /// Attribute set `replay`; do; needs CAP_NET_ADMIN.
    pub const REPLAY_ABORT: u8 = 12;

    /// Get one record, or dump a channel's records (optionally one section).
    ///
    /// Attribute set `entry`; do, dump.
    pub const ENTRY_GET: u8 = 13;

    /// Counters per command and per error class.
    ///
    /// Attribute set `stats`; do.
    pub const STATS: u8 = 14;

    /// An interface record changed (monitor group): the record after the
    /// change, or only name + channel when it was deleted.
    ///
    /// Notifies as `entry-get`; multicast group `monitor`.
    pub const ENTRY_NTF: u8 = 15;

    /// A channel was created, deleted, claimed or replayed (monitor group).
    ///
    /// Notifies as `channel-get`; multicast group `monitor`.
    pub const CHANNEL_NTF: u8 = 16;

    /// The spec's name for command `cmd`.
    pub const fn name(cmd: u8) -> Option<&'static str> {
        match cmd {
            INFO => Some("info"),
            CHANNEL_NEW => Some("channel-new"),
            CHANNEL_DEL => Some("channel-del"),
            CHANNEL_GET => Some("channel-get"),
            UPDATE => Some("update"),
            ACK_NTF => Some("ack-ntf"),
            CLAIM => Some("claim"),
            COOKIES => Some("cookies"),
            REPLAY_BEGIN => Some("replay-begin"),
            REPLAY_ENTRIES => Some("replay-entries"),
            REPLAY_COMMIT => Some("replay-commit"),
            REPLAY_ABORT => Some("replay-abort"),
            ENTRY_GET => Some("entry-get"),
            STATS => Some("stats"),
            ENTRY_NTF => Some("entry-ntf"),
            CHANNEL_NTF => Some("channel-ntf"),
            _ => None,
        }
    }

    /// The attribute set of command `cmd`'s attributes.
    pub const fn attribute_set(cmd: u8) -> Option<&'static str> {
        match cmd {
            INFO => Some("info"),
            CHANNEL_NEW => Some("channel"),
            CHANNEL_DEL => Some("channel"),
            CHANNEL_GET => Some("channel"),
            UPDATE => Some("update"),
            CLAIM => Some("channel"),
            COOKIES => Some("cookies"),
            REPLAY_BEGIN => Some("replay"),
            REPLAY_ENTRIES => Some("replay"),
            REPLAY_COMMIT => Some("replay"),
            REPLAY_ABORT => Some("replay"),
            ENTRY_GET => Some("entry"),
            STATS => Some("stats"),
            _ => None,
        }
    }
}

/// Multicast group names; the kernel assigns the ids at registration.
pub mod mcgrp {
    pub const ACKS: &str = "acks";

    pub const MONITOR: &str = "monitor";
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

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    /// One interface address with its prefix length.
    pub mod addr {
        /// 4 or 6.
        ///
        /// Wire type: `u8`.
        pub const FAMILY: u16 = 1;

        /// At most 32 (IPv4) or 128 (IPv6).
        ///
        /// Wire type: `u8`.
        pub const PREFIX_LEN: u16 = 2;

        /// 4 (IPv4) or 16 (IPv6) bytes, network order (length checked against family).
        ///
        /// Wire type: `binary`.
        pub const ADDRESS: u16 = 3;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                FAMILY => Some("family"),
                PREFIX_LEN => Some("prefix-len"),
                ADDRESS => Some("address"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    /// One interface record.  In an update's `set` op the whole record is
    /// given: an omitted field takes its default (down, mtu 1500, zero mac,
    /// vlan 0, no addresses, empty description, speed 0).
    pub mod iface {
        /// Interface name, 1-15 printable ASCII bytes without '/'; the key.
        ///
        /// Wire type: `string`.
        pub const NAME: u16 = 1;

        /// 1 when administratively up, 0 when down.
        ///
        /// Wire type: `u8`.
        pub const ADMIN_UP: u16 = 2;

        /// Wire type: `u32`.
        pub const MTU: u16 = 3;

        /// Wire type: `binary`.
        pub const MAC: u16 = 4;

        /// VLAN id, 0 for untagged.
        ///
        /// Wire type: `u16`.
        pub const VLAN: u16 = 5;

        /// Up to addrs-max addresses; stored sorted, duplicates refused.
        ///
        /// Wire type: `nest`, attribute set `addr`, may repeat.
        pub const ADDR: u16 = 6;

        /// Wire type: `string`.
        pub const DESC: u16 = 7;

        /// Section the name hashes to (replies only).
        ///
        /// Wire type: `u32`.
        pub const SECTION: u16 = 8;

        /// Link speed in Mb/s, 0 (the default) when unknown.  New in module
        /// 0.2.0; replies carry it only when it is not 0.
        ///
        /// Wire type: `u32`.
        pub const SPEED: u16 = 9;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                NAME => Some("name"),
                ADMIN_UP => Some("admin-up"),
                MTU => Some("mtu"),
                MAC => Some("mac"),
                VLAN => Some("vlan"),
                ADDR => Some("addr"),
                DESC => Some("desc"),
                SECTION => Some("section"),
                SPEED => Some("speed"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                ADDR => Some("addr"),
                _ => None,
            }
        }
    }

    /// Addresses one record (or, in a dump, a channel or one of its sections).
    pub mod entry {
        /// Wire type: `u32`.
        pub const CHANNEL: u16 = 1;

        /// In a dump request, only this section.
        ///
        /// Wire type: `u32`.
        pub const SECTION: u16 = 2;

        /// In a do request, the record's name.
        ///
        /// Wire type: `string`.
        pub const NAME: u16 = 3;

        /// Wire type: `nest`, attribute set `iface`.
        pub const IFACE: u16 = 4;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CHANNEL => Some("channel"),
                SECTION => Some("section"),
                NAME => Some("name"),
                IFACE => Some("iface"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                IFACE => Some("iface"),
                _ => None,
            }
        }
    }

    /// One operation of an update.
    pub mod op {
        /// Wire type: `u32`, enum `op-kind`.
        pub const KIND: u16 = 1;

        /// Wire type: `nest`, attribute set `iface`.
        pub const IFACE: u16 = 2;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                KIND => Some("kind"),
                IFACE => Some("iface"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                IFACE => Some("iface"),
                _ => None,
            }
        }
    }

    /// One section of a channel's table.
    pub mod section {
        /// Wire type: `u32`.
        pub const INDEX: u16 = 1;

        /// Wire type: `u32`.
        pub const ENTRIES: u16 = 2;

        /// Wrapping sum over the section's records of
        /// mix64(fnv1a64(canonical encoding)): see userspace/hasync-engine
        /// src/table.rs and src/hash.rs for the exact definition.
        ///
        /// Wire type: `uint`.
        pub const DIGEST: u16 = 3;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                INDEX => Some("index"),
                ENTRIES => Some("entries"),
                DIGEST => Some("digest"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    pub mod channel {
        /// Wire type: `u32`.
        pub const ID: u16 = 1;

        /// Wire type: `string`.
        pub const NAME: u16 = 2;

        /// Section count, a power of two from 1 to 64 (default 64).
        ///
        /// Wire type: `u32`.
        pub const SECTIONS: u16 = 3;

        /// Acked-opid register, the highest opid applied (0 = none).
        ///
        /// Wire type: `uint`.
        pub const REGISTER: u16 = 4;

        /// Owner epoch; updates and replays with a lower epoch are fenced.
        ///
        /// Wire type: `u32`.
        pub const EPOCH: u16 = 5;

        /// Wire type: `u32`.
        pub const ENTRIES: u16 = 6;

        /// Wire type: `nest`, attribute set `section`, may repeat.
        pub const SECTION: u16 = 7;

        /// Lowest opid the cookie log still remembers (0 = empty log).
        ///
        /// Wire type: `uint`.
        pub const LOG_FIRST_OPID: u16 = 8;

        /// In a claim, every existing channel.
        ///
        /// Wire type: `flag`.
        pub const ALL: u16 = 9;

        /// In a claim's reply, one per claimed channel.
        ///
        /// Wire type: `nest`, attribute set `claimed`, may repeat.
        pub const CLAIMED: u16 = 10;

        /// Epoch of the update or replay that set the register (0 = none):
        /// which owner's stream the register counts.
        ///
        /// Wire type: `u32`.
        pub const REGISTER_EPOCH: u16 = 11;

        /// In a claim request: reply with claimed-count only, however many
        /// channels are claimed (read the registers with a brief dump).  In a
        /// channel-get dump request: leave out the per-section digests.
        ///
        /// Wire type: `flag`.
        pub const BRIEF: u16 = 12;

        /// In a brief claim's reply, the number of channels claimed.
        ///
        /// Wire type: `u32`.
        pub const CLAIMED_COUNT: u16 = 13;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                ID => Some("id"),
                NAME => Some("name"),
                SECTIONS => Some("sections"),
                REGISTER => Some("register"),
                EPOCH => Some("epoch"),
                ENTRIES => Some("entries"),
                SECTION => Some("section"),
                LOG_FIRST_OPID => Some("log-first-opid"),
                ALL => Some("all"),
                CLAIMED => Some("claimed"),
                REGISTER_EPOCH => Some("register-epoch"),
                BRIEF => Some("brief"),
                CLAIMED_COUNT => Some("claimed-count"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                SECTION => Some("section"),
                CLAIMED => Some("claimed"),
                _ => None,
            }
        }
    }

    pub mod claimed {
        /// Wire type: `u32`.
        pub const ID: u16 = 1;

        /// Wire type: `uint`.
        pub const REGISTER: u16 = 2;

        /// Wire type: `u32`.
        pub const EPOCH: u16 = 3;

        /// Epoch of the update or replay that set the register (0 = none).
        ///
        /// Wire type: `u32`.
        pub const REGISTER_EPOCH: u16 = 4;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                ID => Some("id"),
                REGISTER => Some("register"),
                EPOCH => Some("epoch"),
                REGISTER_EPOCH => Some("register-epoch"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    /// A state update from the primary, and the ACK the kernel answers it with.
    pub mod update {
        /// Wire type: `u32`.
        pub const CHANNEL: u16 = 1;

        /// Wire type: `u32`.
        pub const EPOCH: u16 = 2;

        /// Must be register + 1; at or below the register it is a duplicate.
        ///
        /// Wire type: `uint`.
        pub const OPID: u16 = 3;

        /// Bitmask of the sections the update touches.
        ///
        /// Wire type: `uint`.
        pub const COOKIE: u16 = 4;

        /// Wire type: `nest`, attribute set `op`, may repeat.
        pub const OP: u16 = 5;

        /// In an ACK, the opid was at or below the register and nothing was applied.
        ///
        /// Wire type: `flag`.
        pub const DUPLICATE: u16 = 6;

        /// In a request: a later update of the same channel follows in this
        /// send.  The update is applied as any other, but neither answered
        /// nor published: the ACK of the last update of the run covers it
        /// (ACKs are cumulative).  A refused update is answered as always.
        /// If the update that ends the run is refused, the ones before it
        /// that were applied are not published.
        ///
        /// Wire type: `flag`.
        pub const MORE: u16 = 7;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CHANNEL => Some("channel"),
                EPOCH => Some("epoch"),
                OPID => Some("opid"),
                COOKIE => Some("cookie"),
                OP => Some("op"),
                DUPLICATE => Some("duplicate"),
                MORE => Some("more"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                OP => Some("op"),
                _ => None,
            }
        }
    }

    /// Which sections the applied opids above a point touched.
    pub mod cookies {
        /// Wire type: `u32`.
        pub const CHANNEL: u16 = 1;

        /// Wire type: `uint`.
        pub const AFTER_OPID: u16 = 2;

        /// OR of the cookies of applied opids in (after-opid, register].
        ///
        /// Wire type: `uint`.
        pub const COOKIE: u16 = 3;

        /// The log no longer holds every opid in (after-opid, register]: the
        /// caller must treat the whole channel as dirty.  `cookie` is then absent.
        ///
        /// Wire type: `flag`.
        pub const LOG_SHORT: u16 = 4;

        /// The register the answer runs up to.
        ///
        /// Wire type: `uint`.
        pub const REGISTER: u16 = 5;

        /// In a dump, the logged updates and replays above after-opid, oldest first.
        ///
        /// Wire type: `nest`, attribute set `cookie-entry`, may repeat.
        pub const ENTRY: u16 = 6;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CHANNEL => Some("channel"),
                AFTER_OPID => Some("after-opid"),
                COOKIE => Some("cookie"),
                LOG_SHORT => Some("log-short"),
                REGISTER => Some("register"),
                ENTRY => Some("entry"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                ENTRY => Some("cookie-entry"),
                _ => None,
            }
        }
    }

    /// One entry of a channel's cookie log.
    pub mod cookie_entry {
        /// The register after the update or replay; a replay may advance it by
        /// more than one, so an entry covers the opids above the previous one.
        ///
        /// Wire type: `uint`.
        pub const OPID: u16 = 1;

        /// Epoch of the update or replay.
        ///
        /// Wire type: `u32`.
        pub const EPOCH: u16 = 2;

        /// Sections it touched (the update's cookie, or the replayed mask).
        ///
        /// Wire type: `uint`.
        pub const SECTIONS: u16 = 3;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                OPID => Some("opid"),
                EPOCH => Some("epoch"),
                SECTIONS => Some("sections"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    /// Section replay.  replay-begin opens a replay of a set of sections on this
    /// socket, replay-entries stages records (any number of messages),
    /// replay-commit replaces every named section with exactly the staged
    /// records and sets the register to the replay's opid, in one step under
    /// the channel lock: readers see the old sections or the new ones, never a
    /// mix.  Closing the socket or replay-abort discards the staging and
    /// leaves the channel untouched, so a sender that dies mid-replay leaves
    /// the old state and its register for the next owner to find.
    pub mod replay {
        /// Wire type: `u32`.
        pub const CHANNEL: u16 = 1;

        /// Wire type: `u32`.
        pub const EPOCH: u16 = 2;

        /// Register value after the commit; must be at least the current register.
        ///
        /// Wire type: `uint`.
        pub const OPID: u16 = 3;

        /// Bitmask of the sections being replaced.
        ///
        /// Wire type: `uint`.
        pub const SECTIONS: u16 = 4;

        /// Wire type: `nest`, attribute set `iface`, may repeat.
        pub const IFACE: u16 = 5;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CHANNEL => Some("channel"),
                EPOCH => Some("epoch"),
                OPID => Some("opid"),
                SECTIONS => Some("sections"),
                IFACE => Some("iface"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                IFACE => Some("iface"),
                _ => None,
            }
        }
    }

    pub mod stats {
        /// Wire type: `nest`, attribute set `cmd-stats`, may repeat.
        pub const CMD: u16 = 1;

        /// Wire type: `nest`, attribute set `err-stats`, may repeat.
        pub const ERR: u16 = 2;

        /// Wire type: `uint`.
        pub const ACKS_PUBLISHED: u16 = 3;

        /// Wire type: `uint`.
        pub const OPS_APPLIED: u16 = 4;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CMD => Some("cmd"),
                ERR => Some("err"),
                ACKS_PUBLISHED => Some("acks-published"),
                OPS_APPLIED => Some("ops-applied"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            match attr {
                CMD => Some("cmd-stats"),
                ERR => Some("err-stats"),
                _ => None,
            }
        }
    }

    pub mod cmd_stats {
        /// Command number.
        ///
        /// Wire type: `u32`.
        pub const CMD: u16 = 1;

        /// Wire type: `uint`.
        pub const OK: u16 = 2;

        /// Wire type: `uint`.
        pub const FAILED: u16 = 3;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CMD => Some("cmd"),
                OK => Some("ok"),
                FAILED => Some("failed"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    pub mod err_stats {
        /// Wire type: `u32`, enum `err-class`.
        pub const CLASS: u16 = 1;

        /// Wire type: `uint`.
        pub const COUNT: u16 = 2;

        /// The spec's name for attribute type `attr`.
        pub const fn name(attr: u16) -> Option<&'static str> {
            match attr {
                CLASS => Some("class"),
                COUNT => Some("count"),
                _ => None,
            }
        }

        /// The attribute set a nest of type `attr` holds.
        pub const fn nested(attr: u16) -> Option<&'static str> {
            let _ = attr;
            None
        }
    }

    /// The spec's name for attribute type `attr` of attribute set `set`, and the
    /// set it holds if it is a nest.
    pub fn lookup(set: &str, attr: u16) -> Option<(&'static str, Option<&'static str>)> {
        let [name, nested]: [fn(u16) -> Option<&'static str>; 2] = match set {
            "info" => [info::name, info::nested],
            "addr" => [addr::name, addr::nested],
            "iface" => [iface::name, iface::nested],
            "entry" => [entry::name, entry::nested],
            "op" => [op::name, op::nested],
            "section" => [section::name, section::nested],
            "channel" => [channel::name, channel::nested],
            "claimed" => [claimed::name, claimed::nested],
            "update" => [update::name, update::nested],
            "cookies" => [cookies::name, cookies::nested],
            "cookie-entry" => [cookie_entry::name, cookie_entry::nested],
            "replay" => [replay::name, replay::nested],
            "stats" => [stats::name, stats::nested],
            "cmd-stats" => [cmd_stats::name, cmd_stats::nested],
            "err-stats" => [err_stats::name, err_stats::nested],
            _ => return None,
        };
        Some((name(attr)?, nested(attr)))
    }
}

/// Longest interface name (IFNAMSIZ - 1).
pub const NAME_MAX: u32 = 15;

pub const CHANNEL_NAME_MAX: u32 = 31;

/// Longest description, as long as the kernel's ifalias (64 before
/// module 0.2.0: a range that only grew, so older requests still fit).
pub const DESC_MAX: u32 = 255;

/// Most addresses one interface record carries.
pub const ADDRS_MAX: u32 = 16;

/// A channel's sections are the bits of a u64 cookie.
pub const SECTIONS_MAX: u32 = 64;

/// What one op of an update does to one interface record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum OpKind {
    /// Create the record or replace it whole (omitted fields take their defaults).
    Set = 0,
    /// Remove the record; removing an absent record is not an error.
    Del = 1,
}

impl OpKind {
    /// The entry with wire value `value`, if this version of the spec has one.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Set),
            1 => Some(Self::Del),
            _ => None,
        }
    }

    /// The entry's name in the spec.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Del => "del",
        }
    }

    /// The entry named `name` in the spec.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "set" => Some(Self::Set),
            "del" => Some(Self::Del),
            _ => None,
        }
    }
}

/// Error classes counted by `stats`; each failed command is counted under
/// exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrClass {
    /// Malformed or semantically invalid attributes (EINVAL, ERANGE from policy).
    Invalid = 0,
    /// Update opid is not register + 1 (EPROTO; extack cookie = register, u64).
    Gap = 1,
    /// Epoch below the channel's owner epoch (ESTALE; extack cookie = owner epoch, u32).
    Fenced = 2,
    /// No such channel or entry (ENOENT).
    Noent = 3,
    /// Channel id already in use (EEXIST).
    Exists = 4,
    /// A module limit would be exceeded (ENOSPC, E2BIG).
    Limit = 5,
    /// A replay is open on the channel or socket (EBUSY).
    Busy = 6,
    /// Allocation failure (ENOMEM).
    Nomem = 7,
}

impl ErrClass {
    /// The entry with wire value `value`, if this version of the spec has one.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Invalid),
            1 => Some(Self::Gap),
            2 => Some(Self::Fenced),
            3 => Some(Self::Noent),
            4 => Some(Self::Exists),
            5 => Some(Self::Limit),
            6 => Some(Self::Busy),
            7 => Some(Self::Nomem),
            _ => None,
        }
    }

    /// The entry's name in the spec.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Gap => "gap",
            Self::Fenced => "fenced",
            Self::Noent => "noent",
            Self::Exists => "exists",
            Self::Limit => "limit",
            Self::Busy => "busy",
            Self::Nomem => "nomem",
        }
    }

    /// The entry named `name` in the spec.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "invalid" => Some(Self::Invalid),
            "gap" => Some(Self::Gap),
            "fenced" => Some(Self::Fenced),
            "noent" => Some(Self::Noent),
            "exists" => Some(Self::Exists),
            "limit" => Some(Self::Limit),
            "busy" => Some(Self::Busy),
            "nomem" => Some(Self::Nomem),
            _ => None,
        }
    }
}
