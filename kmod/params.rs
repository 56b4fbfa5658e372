// SPDX-License-Identifier: GPL-2.0

//! Load-time limits: read from the module parameters (declared in the C glue,
//! since the 6.12 `module!` macro has no parameter support) and validated here
//! so that a bad `insmod` line fails with a message naming the parameter.

use kernel::prelude::*;

/// Twin of `struct hasync_params`: the values as `insmod` gave them.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RawParams {
    pub(crate) max_channels: u32,
    pub(crate) max_entries: u32,
    pub(crate) cookie_log_len: u32,
}

/// Validated module parameters.
///
/// INVARIANT: every field lies within the range its parameter documents.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    pub(crate) max_channels: u32,
    pub(crate) max_entries: u32,
    pub(crate) cookie_log_len: u32,
}

/// Inclusive bounds of each parameter; kept in step with MODULE_PARM_DESC.
const MAX_CHANNELS: (u32, u32) = (1, 65536);
const MAX_ENTRIES: (u32, u32) = (1, 1 << 20);
const COOKIE_LOG_LEN: (u32, u32) = (1, 65536);

fn check(name: &str, value: u32, (lo, hi): (u32, u32)) -> Result<u32> {
    if value < lo || value > hi {
        pr_err!(
            "parameter {}={} out of range {}..={}\n",
            name,
            value,
            lo,
            hi
        );
        return Err(EINVAL);
    }
    Ok(value)
}

impl Params {
    pub(crate) fn validate(raw: &RawParams) -> Result<Self> {
        // INVARIANT: each field passes `check` against its documented range.
        Ok(Params {
            max_channels: check("max_channels", raw.max_channels, MAX_CHANNELS)?,
            max_entries: check("max_entries", raw.max_entries, MAX_ENTRIES)?,
            cookie_log_len: check("cookie_log_len", raw.cookie_log_len, COOKIE_LOG_LEN)?,
        })
    }
}
