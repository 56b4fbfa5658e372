//! hasync's data model, the one every part of hasync uses: the kernel
//! module implements the same rules, the engine replicates these records,
//! the netlink client and the control API carry them, the CLI parses and
//! prints them.
//!
//! * [`hash`]: the stable hashes shared with `hasync.ko` (sections, record
//!   hashes; pinned by `kmod/kunit/vectors.rs`).
//! * [`table`]: interface records and their canonical encoding, ops,
//!   sections, cookies, a channel's table with its digests, and the rules
//!   an update must keep.
//! * [`text`]: how a record reads and prints: addresses, MACs, and the
//!   `dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr P/L]... [desc S]`
//!   grammar of the CLI and of record files, as a [`text::RecordChange`].

pub mod hash;
pub mod table;
pub mod text;
pub mod words;

pub use table::{
    cookie_of, expand, weight_of, IfName, IfRecord, Op, Prefix, SectionCount, Table, TableError,
    MAX_OPS,
};
pub use text::RecordChange;
