// SPDX-License-Identifier: GPL-2.0

//! hasync: the data plane side of high-availability state replication.
//!
//! The module keeps, per replication channel, the interface state tables
//! written by the `hasyncd` daemons, the acked-opid register and the owner
//! epoch the daemons trust after a failover, a log of which sections recent
//! updates touched and under which epoch, and per-section digests.  It
//! speaks the generic netlink family `hasync` described by `hasync.yaml`,
//! one set of tables for every network namespace.
//!
//! The core (`state`, `channel`, `cookie_log`, `record`, `parse`, `hash`)
//! is safe Rust and is also built into `hasync_kunit.ko` for its KUnit
//! suites.  The netlink side (`request`, `ops`, `dump`, `emit`, `notify`,
//! `msg`) parses requests and formats every message; `glue` is the FFI edge
//! to the C file, which holds only what the 6.12 `kernel` crate cannot: the
//! module parameters, the generated genetlink tables and inline helpers.

use kernel::prelude::*;

mod channel;
mod cookie_log;
mod dump;
mod emit;
mod error;
mod glue;
mod hash;
mod msg;
mod nla;
mod notify;
mod ops;
mod params;
mod parse;
mod record;
mod request;
mod state;
mod stats;

/// Attribute and command numbers, generated from `hasync.yaml`.
#[allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
#[path = "uapi_gen.rs"]
mod uapi;

/// The module version, reported by `info`.
pub(crate) const VERSION: &str = "0.2.0";

module! {
    type: HasyncModule,
    name: "hasync",
    author: "The hasync developers",
    description: "High-availability state replication: interface tables and acked-opid registers",
    license: "GPL",
}

struct HasyncModule {
    _family: glue::Registration,
}

impl kernel::Module for HasyncModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let params = params::Params::validate(&glue::module_params())?;
        let state = KBox::pin_init(state::State::new(params), GFP_KERNEL)?;
        let family = glue::Registration::new(state)?;
        pr_info!(
            "version {} loaded (channels <= {}, entries <= {}, cookie log {})\n",
            VERSION,
            params.max_channels,
            params.max_entries,
            params.cookie_log_len
        );
        Ok(HasyncModule { _family: family })
    }
}

impl Drop for HasyncModule {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
