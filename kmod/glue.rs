// SPDX-License-Identifier: GPL-2.0

//! The FFI edge between the C glue (`hasync_genl.c`) and the Rust core.
//!
//! C calls three functions here: [`hasync_rs_doit`] and [`hasync_rs_dumpit`]
//! with a `struct hasync_req` describing the request, and
//! [`hasync_rs_sock_closed`].  Rust calls C for module parameters, the
//! family's registration and the netlink helpers the kernel keeps static
//! inline (declared below, wrapped safely by `msg.rs`).  The state crosses
//! the edge as a [`ForeignOwnable`]: [`Registration`] turns the pinned box
//! into the pointer C hands back with every request, and takes it back
//! only once the family is gone.

use core::ffi::c_void;

use kernel::error::to_result;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;
use kernel::types::ForeignOwnable;

use crate::params::RawParams;
use crate::request::Request;
use crate::state::State;

/// Twin of `struct hasync_req`.
#[repr(C)]
pub(crate) struct RawReq {
    pub(crate) core: *const c_void,
    pub(crate) attrs: *const u8,
    pub(crate) net: *const c_void,
    pub(crate) info: *mut c_void,
    pub(crate) extack: *mut c_void,
    pub(crate) attrs_len: u32,
    pub(crate) portid: u32,
    pub(crate) seq: u32,
    pub(crate) cmd: u8,
}

/// `struct sk_buff`, never looked into from Rust.
#[repr(C)]
pub(crate) struct SkBuff {
    _opaque: [u8; 0],
}

/// `struct nlattr`: a uAPI layout.
#[repr(C)]
pub(crate) struct NlAttr {
    pub(crate) len: u16,
    pub(crate) kind: u16,
}

// Keep in step with the static_asserts in hasync_glue.h.
static_assert!(core::mem::size_of::<RawParams>() == 12);
static_assert!(core::mem::size_of::<RawReq>() == 56);

extern "C" {
    fn hasync_glue_params(out: *mut RawParams);
    fn hasync_genl_register(core: *const c_void) -> c_int;
    fn hasync_genl_unregister();
    pub(crate) fn hasync_msg_new(payload: usize, gfp: u32) -> *mut SkBuff;
    pub(crate) fn hasync_msg_free(skb: *mut SkBuff);
    pub(crate) fn hasync_msg_start(
        skb: *mut SkBuff,
        portid: u32,
        seq: u32,
        flags: u16,
        cmd: u8,
    ) -> *mut c_void;
    pub(crate) fn hasync_msg_end(skb: *mut SkBuff, hdr: *mut c_void);
    pub(crate) fn hasync_msg_cancel(skb: *mut SkBuff, hdr: *mut c_void);
    pub(crate) fn hasync_msg_reply(skb: *mut SkBuff, info: *mut c_void) -> c_int;
    pub(crate) fn hasync_msg_multicast(skb: *mut SkBuff, group: u32);
    pub(crate) fn hasync_has_listeners(group: u32) -> bool;
    pub(crate) fn hasync_nest_start(skb: *mut SkBuff, kind: c_int) -> *mut NlAttr;
    pub(crate) fn hasync_nest_end(skb: *mut SkBuff, start: *mut NlAttr);
    pub(crate) fn hasync_nest_cancel(skb: *mut SkBuff, start: *mut NlAttr);
    pub(crate) fn hasync_extack(
        extack: *mut c_void,
        msg: *const c_char,
        bad_attr: *const NlAttr,
        miss_type: c_int,
        cookie: *const u8,
        cookie_len: u8,
    );
    /// Exported by `lib/nlattr.c`: reserves an attribute of `len` payload
    /// bytes (padding zeroed), or NULL when the message is full.
    pub(crate) fn nla_reserve(skb: *mut SkBuff, kind: c_int, len: c_int) -> *mut NlAttr;
}

pub(crate) fn module_params() -> RawParams {
    let mut raw = RawParams::default();
    // SAFETY: `raw` is a valid, writable `struct hasync_params` for the call.
    unsafe { hasync_glue_params(&mut raw) };
    raw
}

/// The genetlink family, registered for as long as this value lives, with
/// the state its handlers reach.
///
/// INVARIANT: `core` came from `Pin<KBox<State>>::into_foreign`; it is
/// handed back with `from_foreign` only in `drop`, after the family has been
/// unregistered (which waits for running handlers).
pub(crate) struct Registration {
    core: *const c_void,
}

// SAFETY: the registration only holds the state's pointer; `State` is
// `Send` and `Sync` (all mutation goes through its locks and atomics).
unsafe impl Send for Registration {}
// SAFETY: as above; `&Registration` gives access to nothing.
unsafe impl Sync for Registration {}

impl Registration {
    pub(crate) fn new(state: Pin<KBox<State>>) -> Result<Self> {
        let core = state.into_foreign();
        // SAFETY: `core` is a live `State` until `from_foreign` below or in
        // `drop`; C only passes it back to the functions of this file.
        if let Err(e) = to_result(unsafe { hasync_genl_register(core) }) {
            // SAFETY: `core` came from `into_foreign` above and the family
            // is not registered, so nothing else holds it.
            drop(unsafe { <Pin<KBox<State>> as ForeignOwnable>::from_foreign(core) });
            return Err(e);
        }
        Ok(Registration { core })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: the family was registered by `new`; unregistering waits
        // for running handlers, and dumps pin the module.
        unsafe { hasync_genl_unregister() };
        // SAFETY: `core` came from `into_foreign` (the invariant), and no
        // handler can reach it any more.
        drop(unsafe { <Pin<KBox<State>> as ForeignOwnable>::from_foreign(self.core) });
    }
}

/// The state behind a pointer C passed back.
///
/// # Safety
///
/// `core` must be the pointer of a live [`Registration`], used within a
/// handler of its family.
unsafe fn state<'a>(core: *const c_void) -> Pin<&'a State> {
    // SAFETY: per the contract, `core` came from `into_foreign` and
    // `from_foreign` has not been called (the registration outlives every
    // handler).
    unsafe { <Pin<KBox<State>> as ForeignOwnable>::borrow(core) }
}

/// One generic netlink request.
///
/// # Safety
///
/// `req` must point to a valid `struct hasync_req` whose pointers are valid
/// for the call (C builds it on its stack from the `genl_info`).
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_doit(req: *const RawReq) -> c_int {
    // SAFETY: valid for the call (function contract).
    let raw = unsafe { &*req };
    // SAFETY: C passes the registered state to its handlers.
    let state = unsafe { state(raw.core) };
    // SAFETY: the attributes are valid for the call (function contract).
    let req = unsafe { Request::new(raw) };
    crate::ops::doit(&state, &req)
}

/// One step of a dump: fills `skb` from the cursor in `ctx`.
///
/// # Safety
///
/// As for [`hasync_rs_doit`]; `skb` must be the dump's message, `ctx` the
/// dump's 48-byte, 8-aligned `netlink_callback::ctx`, zeroed when the dump
/// started and owned by this dump.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_dumpit(
    req: *const RawReq,
    skb: *mut SkBuff,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: valid for the call (function contract).
    let raw = unsafe { &*req };
    // SAFETY: C passes the registered state to its handlers.
    let state = unsafe { state(raw.core) };
    // SAFETY: the attributes are valid for the call (function contract).
    let req = unsafe { Request::new(raw) };
    // SAFETY: `skb` is the dump's message and `ctx` its cursor storage
    // (function contract).
    unsafe { crate::dump::dumpit(&state, &req, skb, ctx) }
}

/// A netlink socket was released: whatever replay it had open is dropped.
///
/// # Safety
///
/// `core` as for [`state`]; `net` is only compared, never dereferenced.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_sock_closed(
    core: *const c_void,
    net: *const c_void,
    portid: u32,
) {
    // SAFETY: C passes the registered state (function contract).
    let state = unsafe { state(core) };
    state.socket_closed((net as usize, portid));
}
