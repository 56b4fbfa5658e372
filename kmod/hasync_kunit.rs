// SPDX-License-Identifier: GPL-2.0

//! hasync_kunit: the KUnit suites of hasync's Rust core.
//!
//! The module builds the same core files as `hasync.ko` (without its
//! netlink side) and the suites in `kunit/`; loading it runs them and
//! prints KTAP to the kernel log, which the VM selftests read.  It
//! registers nothing and is unloaded right after.

// The suites use the core's functions, not all of them.
#![allow(dead_code)]

use kernel::prelude::*;

mod channel;
mod cookie_log;
mod error;
mod hash;
mod kunit;
mod nla;
mod params;
mod parse;
mod record;
mod state;
mod stats;

/// Attribute and command numbers, generated from `hasync.yaml`.
#[allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
#[path = "uapi_gen.rs"]
mod uapi;

module! {
    type: HasyncKunit,
    name: "hasync_kunit",
    author: "The hasync developers",
    description: "KUnit suites of hasync's Rust core",
    license: "GPL",
}

struct HasyncKunit;

impl kernel::Module for HasyncKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(HasyncKunit)
    }
}
