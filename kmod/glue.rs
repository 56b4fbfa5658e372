// SPDX-License-Identifier: GPL-2.0

//! The edge between the C genetlink glue (`hasync_genl.c`) and the Rust core.
//!
//! All `unsafe` of the module is here: the C side calls the `hasync_rs_*`
//! functions with the core pointer it was given at registration, and the Rust
//! side calls the few C entry points declared in `hasync_glue.h`.

use core::ffi::c_void;

use kernel::ffi::{c_char, c_int};

use kernel::error::to_result;
use kernel::prelude::*;

use crate::state::{State, MAX_SECTIONS, PROTO_VERSION, VERSION_C};

/// Twin of `struct hasync_params` in `hasync_glue.h`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RawParams {
    pub(crate) max_channels: u32,
    pub(crate) max_entries: u32,
    pub(crate) cookie_log_len: u32,
}

/// Twin of `struct hasync_info` in `hasync_glue.h`.
#[repr(C)]
pub(crate) struct RawInfo {
    version: *const c_char,
    proto_version: u32,
    max_channels: u32,
    max_entries: u32,
    max_sections: u32,
    cookie_log_len: u32,
    channels: u32,
    entries: u64,
}

// Keep in step with the static_asserts in hasync_glue.h.
static_assert!(core::mem::size_of::<RawParams>() == 12);
static_assert!(core::mem::size_of::<RawInfo>() == 40);

extern "C" {
    fn hasync_glue_params(out: *mut RawParams);
    fn hasync_genl_register(core: *const c_void) -> c_int;
    fn hasync_genl_unregister();
}

pub(crate) fn module_params() -> RawParams {
    let mut raw = RawParams::default();
    // SAFETY: `raw` is a valid, writable `struct hasync_params` for the call.
    unsafe { hasync_glue_params(&mut raw) };
    raw
}

/// Registers the genetlink family; its handlers reach `core` until
/// [`unregister_family`] returns, so `core` must outlive that call.
pub(crate) fn register_family(core: &Pin<KBox<State>>) -> Result {
    let ptr: *const State = &**core;
    // SAFETY: the pointer is valid until `unregister_family`, which the module
    // calls in its `Drop` before the `KBox` holding the core is freed.
    to_result(unsafe { hasync_genl_register(ptr.cast()) })
}

/// Unregisters the family; when this returns no handler runs any more.
pub(crate) fn unregister_family(_core: &Pin<KBox<State>>) {
    // SAFETY: called once, after a successful `register_family`, from the
    // module's `Drop`.
    unsafe { hasync_genl_unregister() };
}

/// Recovers the core from the pointer the C glue passes back.
///
/// # Safety
///
/// `core` must be the pointer given to `hasync_genl_register`, and the family
/// must still be registered.
unsafe fn core_ref<'a>(core: *const c_void) -> &'a State {
    // SAFETY: per the function's contract the pointer is a live `State`, shared
    // (never mutably aliased: all mutation goes through its lock).
    unsafe { &*core.cast::<State>() }
}

/// Fills the INFO reply.
///
/// # Safety
///
/// `core` as for [`core_ref`]; `out` must be valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_info(core: *const c_void, out: *mut RawInfo) -> c_int {
    // SAFETY: the C glue passes the registered core pointer (function contract).
    let core = unsafe { core_ref(core) };
    let info = core.info();
    let raw = RawInfo {
        version: VERSION_C.as_char_ptr(),
        proto_version: PROTO_VERSION,
        max_channels: info.params.max_channels,
        max_entries: info.params.max_entries,
        max_sections: MAX_SECTIONS,
        cookie_log_len: info.params.cookie_log_len,
        channels: info.channels,
        entries: info.entries,
    };
    // SAFETY: `out` is valid for writes (function contract).
    unsafe { out.write(raw) };
    0
}
