// SPDX-License-Identifier: GPL-2.0

//! The edge between the C genetlink glue (`hasync_genl.c`) and the Rust core.
//!
//! All `unsafe` of the module is here.  The C side calls the `hasync_rs_*`
//! functions with the core pointer it was given at registration and with
//! pointers to its own stack objects or to the request's attributes, valid
//! for the duration of the call; the Rust side calls back into C only to put
//! attributes into a message (`hasync_emit_*`, `hasync_notify_*`).

use core::ffi::c_void;

use kernel::error::to_result;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

use crate::channel::Channel;
use crate::cookie_log::Cookies;
use crate::error::{Failure, HResult, MSG_MAX};
use crate::nla::Attrs;
use crate::record::{Addr, Iface, Name};
use crate::state::{ChannelRef, State, MAX_SECTIONS, PROTO_VERSION};
use crate::stats::Stats;
use crate::uapi::ErrClass;

/// Twin of `struct hasync_params`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RawParams {
    pub(crate) max_channels: u32,
    pub(crate) max_entries: u32,
    pub(crate) cookie_log_len: u32,
}

/// Twin of `struct hasync_info`.
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

/// Twin of `struct hasync_err`.
#[repr(C)]
pub(crate) struct RawErr {
    msg: [u8; MSG_MAX],
    bad_attr: i32,
    class: u8,
    cookie_len: u8,
    cookie: [u8; 8],
}

/// Twin of `struct hasync_attrs`.
#[repr(C)]
pub(crate) struct RawAttrs {
    data: *const u8,
    len: u32,
}

/// Twin of `struct hasync_ack`.
#[repr(C)]
pub(crate) struct RawAck {
    channel: u32,
    duplicate: u8,
    opid: u64,
    cookie: u64,
}

/// Twin of `struct hasync_iface_view`.
#[repr(C)]
pub(crate) struct RawIfaceView {
    channel: u32,
    section: u32,
    name: *const u8,
    name_len: u32,
    admin_up: u8,
    deleted: u8,
    vlan: u16,
    mtu: u32,
    n_addrs: u32,
    mac: *const u8,
    addrs: *const Addr,
    desc: *const u8,
    desc_len: u32,
}

/// Twin of `struct hasync_channel_view`.
#[repr(C)]
pub(crate) struct RawChannelView {
    id: u32,
    sections: u32,
    reg: u64,
    log_first: u64,
    epoch: u32,
    entries: u32,
    name: *const u8,
    name_len: u32,
    deleted: u8,
    digests: *const u64,
    counts: *const u32,
}

/// Twin of `struct hasync_dump_cursor`.
#[repr(C)]
pub(crate) struct RawCursor {
    channel: u32,
    section: u32,
    name: [u8; 16],
    name_len: u8,
    done: u8,
    has_channel: u8,
    has_section: u8,
    want_channel: u32,
    want_section: u32,
}

/// Twin of `struct hasync_claimed`.
#[repr(C)]
pub(crate) struct RawClaimed {
    id: u32,
    epoch: u32,
    reg: u64,
}

/// Opaque `struct hasync_emit`: only passed back to C.
#[repr(C)]
pub(crate) struct RawEmit {
    _private: [u8; 0],
}

// Keep in step with the static_asserts in hasync_glue.h.
static_assert!(core::mem::size_of::<RawParams>() == 12);
static_assert!(core::mem::size_of::<RawInfo>() == 40);
static_assert!(core::mem::size_of::<RawErr>() == 96);
static_assert!(core::mem::size_of::<RawAck>() == 24);
static_assert!(core::mem::size_of::<Addr>() == 18);
static_assert!(core::mem::size_of::<RawIfaceView>() == 64);
static_assert!(core::mem::size_of::<RawChannelView>() == 64);
static_assert!(core::mem::size_of::<RawCursor>() == 36);
static_assert!(core::mem::size_of::<RawClaimed>() == 16);
static_assert!(core::mem::size_of::<Stats>() == 8 * (2 * 32 + 8 + 2));

extern "C" {
    fn hasync_glue_params(out: *mut RawParams);
    fn hasync_genl_register(core: *const c_void) -> c_int;
    fn hasync_genl_unregister();
    fn hasync_emit_iface(to: *mut RawEmit, v: *const RawIfaceView) -> c_int;
    fn hasync_emit_channel(to: *mut RawEmit, v: *const RawChannelView) -> c_int;
    fn hasync_emit_claimed(to: *mut RawEmit, c: *const RawClaimed) -> c_int;
    fn hasync_monitor_listening() -> bool;
    fn hasync_notify_iface(v: *const RawIfaceView);
    fn hasync_notify_channel(v: *const RawChannelView);
}

pub(crate) fn module_params() -> RawParams {
    let mut raw = RawParams::default();
    // SAFETY: `raw` is a valid, writable `struct hasync_params` for the call.
    unsafe { hasync_glue_params(&mut raw) };
    raw
}

/// Registers the genetlink family; its handlers reach `state` until
/// [`unregister_family`] returns, so `state` must outlive that call.
pub(crate) fn register_family(state: &Pin<KBox<State>>) -> Result {
    let ptr: *const State = &**state;
    // SAFETY: the pointer is valid until `unregister_family`, which the module
    // calls in its `Drop` before the `KBox` holding the state is freed.
    to_result(unsafe { hasync_genl_register(ptr.cast()) })
}

/// Unregisters the family; when this returns no handler runs any more.
pub(crate) fn unregister_family(_state: &Pin<KBox<State>>) {
    // SAFETY: called once, after a successful `register_family`, from the
    // module's `Drop`.
    unsafe { hasync_genl_unregister() };
}

/// Recovers the state from the pointer the C glue passes back.
///
/// # Safety
///
/// `core` must be the pointer given to `hasync_genl_register`, and the family
/// must still be registered.
unsafe fn core_ref<'a>(core: *const c_void) -> &'a State {
    // SAFETY: per the function's contract the pointer is a live `State`,
    // shared (all mutation goes through its locks).
    unsafe { &*core.cast::<State>() }
}

/// The request's attribute stream.
///
/// # Safety
///
/// `a` must point to a `struct hasync_attrs` whose `data` is valid for reads
/// of `len` bytes for `'a`.
unsafe fn attrs_of<'a>(a: *const RawAttrs) -> Attrs<'a> {
    // SAFETY: `a` is valid (function contract).
    let a = unsafe { &*a };
    if a.data.is_null() || a.len == 0 {
        return Attrs::new(&[]);
    }
    // SAFETY: `data` is valid for `len` bytes for `'a` (function contract).
    Attrs::new(unsafe { core::slice::from_raw_parts(a.data, a.len as usize) })
}

/// Writes `f` into the C side's error report and returns its errno.
///
/// # Safety
///
/// `err` must be valid for writes.
unsafe fn report(err: *mut RawErr, f: Failure) -> c_int {
    let raw = RawErr {
        // NUL-terminated: `Failure` keeps the last byte free.
        msg: f.msg,
        bad_attr: f.bad_attr.and_then(|o| i32::try_from(o).ok()).unwrap_or(-1),
        class: f.class as u8,
        cookie_len: f.cookie_len,
        cookie: f.cookie,
    };
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { err.write(raw) };
    f.errno.to_errno()
}

/// Reports a handler's failure, if any, and returns the errno for C.
///
/// # Safety
///
/// `err` as for [`report`].
unsafe fn finish(err: *mut RawErr, r: HResult<()>) -> c_int {
    match r {
        Ok(()) => 0,
        // SAFETY: `err` is valid for writes (function contract).
        Err(e) => unsafe { report(err, e) },
    }
}

fn iface_view(channel: u32, section: u32, name: &Name, rec: &Iface) -> RawIfaceView {
    let name = name.as_bytes();
    RawIfaceView {
        channel,
        section,
        name: name.as_ptr(),
        // At most NAME_MAX (Name's invariant).
        name_len: name.len() as u32,
        admin_up: u8::from(rec.admin_up),
        deleted: 0,
        vlan: rec.vlan,
        mtu: rec.mtu,
        // At most ADDRS_MAX (Iface's invariant).
        n_addrs: rec.addrs.len() as u32,
        mac: rec.mac.as_ptr(),
        addrs: rec.addrs.as_ptr(),
        desc: rec.desc.as_ptr(),
        // At most DESC_MAX (Iface's invariant).
        desc_len: rec.desc.len() as u32,
    }
}

fn deleted_view(channel: u32, section: u32, name: &Name) -> RawIfaceView {
    let name = name.as_bytes();
    RawIfaceView {
        channel,
        section,
        name: name.as_ptr(),
        name_len: name.len() as u32,
        admin_up: 0,
        deleted: 1,
        vlan: 0,
        mtu: 0,
        n_addrs: 0,
        mac: core::ptr::null(),
        addrs: core::ptr::null(),
        desc: core::ptr::null(),
        desc_len: 0,
    }
}

/// Builds a channel view around `digests`/`counts` and hands it to `f`.
fn with_channel_view<R>(ch: &ChannelRef, c: &Channel, deleted: bool, f: impl FnOnce(&RawChannelView) -> R) -> R {
    let mut digests = [0u64; MAX_SECTIONS as usize];
    let mut counts = [0u32; MAX_SECTIONS as usize];
    for (i, s) in c.sections.iter().enumerate() {
        digests[i] = s.digest;
        counts[i] = s.count;
    }
    let name = ch.name();
    let v = RawChannelView {
        id: ch.id,
        sections: ch.nsections,
        reg: c.register,
        log_first: c.log.first_opid(),
        epoch: c.epoch,
        entries: c.entries,
        name: name.as_ptr(),
        // At most CHANNEL_NAME_MAX.
        name_len: name.len() as u32,
        deleted: u8::from(deleted),
        digests: digests.as_ptr(),
        counts: counts.as_ptr(),
    };
    f(&v)
}

fn monitor_listening() -> bool {
    // SAFETY: no preconditions; reads the family's listener state.
    unsafe { hasync_monitor_listening() }
}

fn notify_channel(ch: &ChannelRef, c: &Channel, deleted: bool) {
    if monitor_listening() {
        // SAFETY: the view and the arrays it points to live for the call.
        with_channel_view(ch, c, deleted, |v| unsafe { hasync_notify_channel(v) });
    }
}

/// Monitor notifications for the records an update or replay changed.
fn notify_records(ch: &ChannelRef, changed: &[(u32, Name)]) {
    if changed.is_empty() || !monitor_listening() {
        return;
    }
    let c = ch.inner.lock();
    for (section, name) in changed {
        let v = match c.sections[*section as usize].tree.get(name) {
            Some(rec) => iface_view(ch.id, *section, name, rec),
            None => deleted_view(ch.id, *section, name),
        };
        // SAFETY: `v` borrows from the locked channel for the call.
        unsafe { hasync_notify_iface(&v) };
    }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `out` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_info(core: *const c_void, out: *mut RawInfo) -> c_int {
    // SAFETY: the C glue passes the registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let info = state.info();
    let raw = RawInfo {
        version: crate::VERSION_C.as_char_ptr(),
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

/// # Safety
///
/// `core` as for [`core_ref`]; `name` valid for `name_len` bytes (or null
/// with 0); `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_channel_new(
    core: *const c_void,
    id: u32,
    name: *const u8,
    name_len: u32,
    sections: u32,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let name = if name.is_null() {
        &[][..]
    } else {
        // SAFETY: valid for `name_len` bytes (function contract).
        unsafe { core::slice::from_raw_parts(name, name_len as usize) }
    };
    let sections = if sections == 0 { None } else { Some(sections) };
    let r = (|| -> HResult<()> {
        let ch = state.channel_new(id, name, sections)?;
        notify_channel(&ch, &ch.inner.lock(), false);
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_channel_del(core: *const c_void, id: u32, err: *mut RawErr) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = (|| -> HResult<()> {
        let ch = state.channel_del(id)?;
        notify_channel(&ch, &ch.inner.lock(), true);
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `to` a valid emit target; `err` valid for
/// writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_channel_get(
    core: *const c_void,
    id: u32,
    to: *mut RawEmit,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = (|| -> HResult<()> {
        let ch = state.channel(id)?;
        let c = ch.inner.lock();
        // `to` is valid (function contract); the view lives for the call.
        // SAFETY: `to` is valid (function contract); the view lives for the call.
        let r = with_channel_view(&ch, &c, false, |v| unsafe { hasync_emit_channel(to, v) });
        to_result(r).map_err(Failure::from)
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// Channels in batches, so the map lock is not held while emitting.
const DUMP_BATCH: usize = 16;

/// # Safety
///
/// `core` as for [`core_ref`]; `cur` valid for reads and writes; `to` a
/// valid emit target.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_channel_dump(
    core: *const c_void,
    cur: *mut RawCursor,
    to: *mut RawEmit,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: `cur` is valid for reads and writes (function contract).
    let cur = unsafe { &mut *cur };
    if cur.done != 0 {
        return 0;
    }
    loop {
        let mut batch = KVec::new();
        if state.channels_from(cur.channel, &mut batch, DUMP_BATCH).is_err() {
            return ENOMEM.to_errno();
        }
        for ch in batch.iter() {
            let c = ch.inner.lock();
            // SAFETY: `to` is valid; the view lives for the call.
            let r = with_channel_view(ch, &c, false, |v| unsafe { hasync_emit_channel(to, v) });
            if r != 0 {
                cur.channel = ch.id;
                return 1;
            }
        }
        match batch.last() {
            Some(last) if batch.len() == DUMP_BATCH && last.id < u32::MAX => cur.channel = last.id + 1,
            _ => {
                cur.done = 1;
                return 0;
            }
        }
    }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `attrs` as for [`attrs_of`]; `ack` and `err`
/// valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_update(
    core: *const c_void,
    channel: u32,
    epoch: u32,
    opid: u64,
    cookie: u64,
    attrs: *const RawAttrs,
    ack: *mut RawAck,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: valid attribute stream (function contract).
    let attrs = unsafe { attrs_of(attrs) };
    let r = (|| -> HResult<()> {
        let mut changed = KVec::new();
        let (ch, applied) = state.update(channel, epoch, opid, cookie, attrs, &mut changed)?;
        let raw = RawAck {
            channel,
            duplicate: u8::from(applied.duplicate),
            opid: applied.opid,
            cookie: applied.cookie,
        };
        // SAFETY: `ack` is valid for writes (function contract).
        unsafe { ack.write(raw) };
        notify_records(&ch, &changed);
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `attrs` as for [`attrs_of`]; `to` a valid
/// emit target; `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_claim(
    core: *const c_void,
    epoch: u32,
    all: bool,
    attrs: *const RawAttrs,
    to: *mut RawEmit,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: valid attribute stream (function contract).
    let attrs = unsafe { attrs_of(attrs) };
    let r = (|| -> HResult<()> {
        let mut claimed = KVec::new();
        state.claim(epoch, all, attrs, &mut claimed)?;
        for ch in claimed.iter() {
            let c = ch.inner.lock();
            let raw = RawClaimed {
                id: ch.id,
                epoch: c.epoch,
                reg: c.register,
            };
            // SAFETY: `to` is valid (function contract); `raw` lives for the call.
            to_result(unsafe { hasync_emit_claimed(to, &raw) })?;
            notify_channel(ch, &c, false);
        }
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `cookie`, `log_short` and `err` valid for
/// writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_cookies(
    core: *const c_void,
    channel: u32,
    after: u64,
    cookie: *mut u64,
    log_short: *mut bool,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = (|| -> HResult<()> {
        let (c, short) = match state.cookies(channel, after)? {
            Cookies::Known(c) => (c, false),
            Cookies::Short => (0, true),
        };
        // SAFETY: both valid for writes (function contract).
        unsafe {
            cookie.write(c);
            log_short.write(short);
        }
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `net` any pointer (an identity only); `err`
/// valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_replay_begin(
    core: *const c_void,
    net: *const c_void,
    portid: u32,
    channel: u32,
    epoch: u32,
    opid: u64,
    sections: u64,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = state.replay_begin((net as usize, portid), channel, epoch, opid, sections);
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `attrs` as for [`attrs_of`]; `err` valid for
/// writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_replay_entries(
    core: *const c_void,
    net: *const c_void,
    portid: u32,
    channel: u32,
    attrs: *const RawAttrs,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: valid attribute stream (function contract).
    let attrs = unsafe { attrs_of(attrs) };
    let r = state.replay_entries((net as usize, portid), channel, attrs);
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `ack` and `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_replay_commit(
    core: *const c_void,
    net: *const c_void,
    portid: u32,
    channel: u32,
    ack: *mut RawAck,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = (|| -> HResult<()> {
        let (ch, opid, mask) = state.replay_commit((net as usize, portid), channel)?;
        let raw = RawAck {
            channel,
            duplicate: 0,
            opid,
            cookie: mask,
        };
        // SAFETY: `ack` is valid for writes (function contract).
        unsafe { ack.write(raw) };
        notify_channel(&ch, &ch.inner.lock(), false);
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_replay_abort(
    core: *const c_void,
    net: *const c_void,
    portid: u32,
    channel: u32,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let r = state.replay_abort((net as usize, portid), channel);
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// # Safety
///
/// `core` as for [`core_ref`].
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_sock_closed(core: *const c_void, net: *const c_void, portid: u32) {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    state.socket_closed((net as usize, portid));
}

/// # Safety
///
/// `core` as for [`core_ref`]; `name` valid for `name_len` bytes; `to` a
/// valid emit target; `err` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_entry_get(
    core: *const c_void,
    channel: u32,
    name: *const u8,
    name_len: u32,
    to: *mut RawEmit,
    err: *mut RawErr,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: valid for `name_len` bytes (function contract).
    let raw = unsafe { core::slice::from_raw_parts(name, name_len as usize) };
    let r = (|| -> HResult<()> {
        let name = Name::new(raw)
            .ok_or_else(|| crate::error::fail!(EINVAL, Invalid, "entry name is not a valid interface name"))?;
        let ch = state.channel(channel)?;
        let section = crate::hash::section_of(name.as_bytes(), ch.nsections);
        let c = ch.inner.lock();
        let rec = c.sections[section as usize]
            .tree
            .get(&name)
            .ok_or_else(|| crate::error::fail!(ENOENT, Noent, "no entry in channel {}", channel))?;
        let v = iface_view(channel, section, &name, rec);
        // SAFETY: `to` is valid (function contract); `v` borrows the
        // locked channel for the call.
        to_result(unsafe { hasync_emit_iface(to, &v) })?;
        Ok(())
    })();
    // SAFETY: `err` is valid for writes (function contract).
    unsafe { finish(err, r) }
}

/// Emits the records of one channel from the cursor on.  Returns false when
/// the message is full (the cursor then names the record to start with).
fn dump_channel(ch: &ChannelRef, cur: &mut RawCursor, to: *mut RawEmit) -> bool {
    let mut c = ch.inner.lock();
    while cur.section < ch.nsections {
        if cur.has_section != 0 && cur.section != cur.want_section {
            cur.section += 1;
            cur.name_len = 0;
            continue;
        }
        let tree = &mut c.sections[cur.section as usize].tree;
        let start = if cur.name_len > 0 {
            Name::new(&cur.name[..usize::from(cur.name_len)])
        } else {
            None
        };
        let mut pos = match start {
            Some(n) => tree.cursor_lower_bound(&n),
            None => tree.cursor_front(),
        };
        while let Some(p) = pos {
            let (name, rec) = p.current();
            let v = iface_view(ch.id, cur.section, name, rec);
            // SAFETY: `to` is valid (caller's contract); `v` borrows the
            // locked channel for the call.
            if unsafe { hasync_emit_iface(to, &v) } != 0 {
                let b = name.as_bytes();
                cur.name[..b.len()].copy_from_slice(b);
                // At most NAME_MAX.
                cur.name_len = b.len() as u8;
                return false;
            }
            pos = p.move_next();
        }
        cur.section += 1;
        cur.name_len = 0;
    }
    true
}

/// # Safety
///
/// `core` as for [`core_ref`]; `cur` valid for reads and writes; `to` a
/// valid emit target.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_entry_dump(
    core: *const c_void,
    cur: *mut RawCursor,
    to: *mut RawEmit,
) -> c_int {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: `cur` is valid for reads and writes (function contract).
    let cur = unsafe { &mut *cur };
    if cur.done != 0 {
        return 0;
    }
    if cur.has_channel != 0 {
        let Ok(ch) = state.channel(cur.want_channel) else {
            return ENOENT.to_errno();
        };
        if !dump_channel(&ch, cur, to) {
            return 1;
        }
        cur.done = 1;
        return 0;
    }
    loop {
        let mut batch = KVec::new();
        if state.channels_from(cur.channel, &mut batch, DUMP_BATCH).is_err() {
            return ENOMEM.to_errno();
        }
        for ch in batch.iter() {
            if ch.id != cur.channel {
                cur.channel = ch.id;
                cur.section = 0;
                cur.name_len = 0;
            }
            if !dump_channel(ch, cur, to) {
                return 1;
            }
        }
        match batch.last() {
            Some(last) if last.id < u32::MAX => {
                cur.channel = last.id + 1;
                cur.section = 0;
                cur.name_len = 0;
                if batch.len() < DUMP_BATCH {
                    cur.done = 1;
                    return 0;
                }
            }
            _ => {
                cur.done = 1;
                return 0;
            }
        }
    }
}

/// # Safety
///
/// `core` as for [`core_ref`]; `out` valid for writes of a `struct
/// hasync_stats`.
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_stats(core: *const c_void, out: *mut Stats) {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    // SAFETY: `out` is valid for writes; `Stats` is laid out as `struct
    // hasync_stats` (checked by the static_asserts on both sides).
    unsafe { out.write(state.stats()) };
}

/// # Safety
///
/// `core` as for [`core_ref`].
#[no_mangle]
pub(crate) unsafe extern "C" fn hasync_rs_count(core: *const c_void, cmd: u8, ret: c_int, class: u8) {
    // SAFETY: registered core pointer (function contract).
    let state = unsafe { core_ref(core) };
    let failed = if ret == 0 {
        None
    } else {
        Some(ErrClass::from_u32(u32::from(class)).unwrap_or(ErrClass::Invalid))
    };
    state.count(cmd, failed);
}
