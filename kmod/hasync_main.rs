// SPDX-License-Identifier: GPL-2.0

//! hasync: the data plane side of high-availability state replication.
//!
//! The module keeps, per replication channel, the interface state tables
//! written by the `hasyncd` daemons, the acked-opid register and the owner
//! epoch the daemons trust after a failover.  It speaks the generic netlink
//! family `hasync` described by `hasync.yaml`; the C files next to this one
//! are the generated genetlink tables and a thin dispatch layer, everything
//! stateful lives in Rust.

use kernel::prelude::*;

mod state;
mod glue;
mod params;

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
            state::VERSION,
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
