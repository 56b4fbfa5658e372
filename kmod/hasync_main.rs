// SPDX-License-Identifier: GPL-2.0

//! hasync: the data plane side of high-availability state replication.
//!
//! The module keeps, per replication channel, the interface state tables
//! written by the `hasyncd` daemons, the acked-opid register and the owner
//! epoch the daemons trust after a failover, a log of which sections recent
//! opids touched, and per-section digests.  It speaks the generic netlink
//! family `hasync` described by `hasync.yaml`; the C files next to this one
//! are the generated genetlink tables and a thin dispatch layer, everything
//! stateful lives in Rust.

use kernel::prelude::*;

mod channel;
mod cookie_log;
mod error;
mod glue;
mod hash;
mod nla;
mod params;
mod parse;
mod record;
mod state;
mod stats;

/// Attribute and command numbers, generated from `hasync.yaml`: the very
/// file userspace compiles, so both sides read one numbering.
#[allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
#[path = "../userspace/hasync-nl/src/generated.rs"]
mod uapi;

/// The module version, reported by `info` (NUL-terminated for the C glue).
pub(crate) const VERSION_C: &CStr = kernel::c_str!("0.1.0");

module! {
    type: HasyncModule,
    name: "hasync",
    author: "The hasync developers",
    description: "High-availability state replication: interface tables and acked-opid registers",
    license: "GPL",
}

struct HasyncModule {
    state: Pin<KBox<state::State>>,
}

impl kernel::Module for HasyncModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let params = params::Params::from_module_params()?;
        let state = KBox::pin_init(state::State::new(params), GFP_KERNEL)?;
        glue::register_family(&state)?;
        pr_info!(
            "version {} loaded (channels <= {}, entries <= {}, cookie log {})\n",
            VERSION_C,
            params.max_channels,
            params.max_entries,
            params.cookie_log_len
        );
        Ok(HasyncModule { state })
    }
}

impl Drop for HasyncModule {
    fn drop(&mut self) {
        // The family goes first: once it is unregistered no handler can
        // reach `self.state`, which is freed right after this.
        glue::unregister_family(&self.state);
        pr_info!("unloaded\n");
    }
}
