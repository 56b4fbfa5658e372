// SPDX-License-Identifier: GPL-2.0

//! The module's state: limits fixed at load time and the tables behind one
//! lock.  Channels, registers and tables arrive with the full family; for now
//! the core answers `info` from it.

use kernel::prelude::*;
use kernel::{new_mutex, sync::Mutex};

use crate::params::Params;

/// Module version, reported by `info`.
pub(crate) const VERSION: &str = "0.1.0";
/// The same, NUL-terminated for the C glue.
pub(crate) const VERSION_C: &CStr = kernel::c_str!("0.1.0");
/// Version of the netlink protocol in `hasync.yaml`.
pub(crate) const PROTO_VERSION: u32 = 1;
/// A channel's sections are the bits of a u64 cookie.
pub(crate) const MAX_SECTIONS: u32 = 64;

/// Mutable state, only reached through [`State::tables`].
struct Tables {
    channels: u32,
    entries: u64,
}

/// What the `info` command reports.
pub(crate) struct InfoSnapshot {
    pub(crate) params: Params,
    pub(crate) channels: u32,
    pub(crate) entries: u64,
}

#[pin_data]
pub(crate) struct State {
    params: Params,
    #[pin]
    tables: Mutex<Tables>,
}

impl State {
    pub(crate) fn new(params: Params) -> impl PinInit<Self> {
        pin_init!(State {
            params,
            tables <- new_mutex!(Tables { channels: 0, entries: 0 }, "hasync_tables"),
        })
    }

    /// A consistent view of the counts: taken under the lock so that the
    /// channel and entry counts describe the same moment.
    pub(crate) fn info(&self) -> InfoSnapshot {
        let tables = self.tables.lock();
        InfoSnapshot {
            params: self.params,
            channels: tables.channels,
            entries: tables.entries,
        }
    }
}
