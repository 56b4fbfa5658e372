// SPDX-License-Identifier: GPL-2.0

//! Generic netlink messages built from Rust: a safe writer over an
//! `sk_buff` and an owned message that is freed unless it is sent.
//!
//! Every reply, dump message and notification of the family is built with
//! these, by `emit.rs`; the C glue only lends the kernel's inline helpers.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::alloc::AllocError;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

use crate::glue::{self, SkBuff};
use crate::request::Request;

/// The message is full: what was being added did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// `NLM_F_MULTI`: a message of a dump.
pub(crate) const NLM_F_MULTI: u16 = 2;
/// `NLA_F_NESTED`.
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_HDRLEN: usize = 4;
/// `GENL_HDRLEN + NLMSG_HDRLEN`: what a message costs before its attributes.
pub(crate) const MSG_OVERHEAD: usize = 20;

/// Bytes an attribute of `payload` bytes takes in a message
/// (`nla_total_size`).
pub(crate) const fn attr_size(payload: usize) -> usize {
    (NLA_HDRLEN + payload + 3) & !3
}

/// Bytes a `uint` attribute of value `v` takes.
pub(crate) const fn uint_size(v: u64) -> usize {
    if v > u32::MAX as u64 {
        attr_size(8)
    } else {
        attr_size(4)
    }
}

/// Where a message goes and how it is flagged.
#[derive(Clone, Copy)]
pub(crate) struct Dest {
    portid: u32,
    seq: u32,
    flags: u16,
}

impl Dest {
    /// The reply to a doit request.
    pub(crate) fn reply(req: &Request<'_>) -> Self {
        Dest {
            portid: req.portid,
            seq: req.seq,
            flags: 0,
        }
    }

    /// One message of a dump.
    pub(crate) fn dump(req: &Request<'_>) -> Self {
        Dest {
            portid: req.portid,
            seq: req.seq,
            flags: NLM_F_MULTI,
        }
    }

    /// A multicast notification.
    pub(crate) const NOTIFY: Dest = Dest {
        portid: 0,
        seq: 0,
        flags: 0,
    };
}

/// A message started with [`Writer::begin`], to be ended or cancelled on
/// the same writer.
pub(crate) struct Header {
    hdr: NonNull<core::ffi::c_void>,
}

/// Appends attributes to an `sk_buff`.
///
/// INVARIANT: `skb` is a live `sk_buff` that nothing else writes to while
/// the writer exists (`'a`).
pub(crate) struct Writer<'a> {
    skb: NonNull<SkBuff>,
    _skb: PhantomData<&'a mut SkBuff>,
}

impl Writer<'_> {
    /// A writer for `skb`.
    ///
    /// # Safety
    ///
    /// `skb` must be a live `sk_buff` that only this writer appends to for
    /// its lifetime.
    pub(crate) unsafe fn new(skb: NonNull<SkBuff>) -> Self {
        // INVARIANT: the caller's promise.
        Writer {
            skb,
            _skb: PhantomData,
        }
    }

    /// One whole message: its headers, then `fill`'s attributes; a message
    /// that does not fit is taken back out entirely.
    pub(crate) fn message(
        &mut self,
        to: Dest,
        cmd: u8,
        fill: impl FnOnce(&mut Self) -> Result<(), Full>,
    ) -> Result<(), Full> {
        let hdr = self.begin(to, cmd)?;
        let r = fill(self);
        match r {
            Ok(()) => self.end(hdr),
            Err(Full) => self.cancel(hdr),
        }
        r
    }

    /// Starts a message whose attributes come in several steps; close it
    /// with [`Writer::end`] or [`Writer::cancel`].
    pub(crate) fn begin(&mut self, to: Dest, cmd: u8) -> Result<Header, Full> {
        // SAFETY: `skb` is live and ours (the invariant).
        let hdr =
            unsafe { glue::hasync_msg_start(self.skb.as_ptr(), to.portid, to.seq, to.flags, cmd) };
        NonNull::new(hdr).map(|hdr| Header { hdr }).ok_or(Full)
    }

    pub(crate) fn end(&mut self, h: Header) {
        // SAFETY: `h` was started on this skb (only `begin` makes one, and a
        // writer's skb never changes) and only attributes came after it.
        unsafe { glue::hasync_msg_end(self.skb.as_ptr(), h.hdr.as_ptr()) };
    }

    pub(crate) fn cancel(&mut self, h: Header) {
        // SAFETY: as for `end`.
        unsafe { glue::hasync_msg_cancel(self.skb.as_ptr(), h.hdr.as_ptr()) };
    }

    /// An attribute of `len` payload bytes, written by `write`.
    fn reserve(
        &mut self,
        kind: u16,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), Full> {
        let clen = c_int::try_from(len).map_err(|_| Full)?;
        // SAFETY: `skb` is live and ours (the invariant).
        let a = unsafe { glue::nla_reserve(self.skb.as_ptr(), c_int::from(kind), clen) };
        if a.is_null() {
            return Err(Full);
        }
        // SAFETY: `nla_reserve` returned an attribute followed by `len`
        // writable payload bytes inside the skb's data.
        let payload =
            unsafe { core::slice::from_raw_parts_mut(a.cast::<u8>().add(NLA_HDRLEN), len) };
        write(payload);
        Ok(())
    }

    pub(crate) fn bytes(&mut self, kind: u16, data: &[u8]) -> Result<(), Full> {
        self.reserve(kind, data.len(), |p| p.copy_from_slice(data))
    }

    pub(crate) fn u8(&mut self, kind: u16, v: u8) -> Result<(), Full> {
        self.bytes(kind, &[v])
    }

    pub(crate) fn u16(&mut self, kind: u16, v: u16) -> Result<(), Full> {
        self.bytes(kind, &v.to_ne_bytes())
    }

    pub(crate) fn u32(&mut self, kind: u16, v: u32) -> Result<(), Full> {
        self.bytes(kind, &v.to_ne_bytes())
    }

    /// An `NLA_UINT`: 4 bytes when the value fits them, 8 otherwise.
    pub(crate) fn uint(&mut self, kind: u16, v: u64) -> Result<(), Full> {
        match u32::try_from(v) {
            Ok(v) => self.u32(kind, v),
            Err(_) => self.bytes(kind, &v.to_ne_bytes()),
        }
    }

    pub(crate) fn flag(&mut self, kind: u16) -> Result<(), Full> {
        self.bytes(kind, &[])
    }

    /// An `NLA_NUL_STRING` from bytes stored without their NUL.
    pub(crate) fn string(&mut self, kind: u16, s: &[u8]) -> Result<(), Full> {
        self.reserve(kind, s.len() + 1, |p| {
            p[..s.len()].copy_from_slice(s);
            p[s.len()] = 0;
        })
    }

    /// A nest of the attributes `fill` writes; one that does not fit is
    /// taken back out, so the message can end without it.
    pub(crate) fn nest(
        &mut self,
        kind: u16,
        fill: impl FnOnce(&mut Self) -> Result<(), Full>,
    ) -> Result<(), Full> {
        // SAFETY: `skb` is live and ours (the invariant).
        let start = unsafe {
            glue::hasync_nest_start(self.skb.as_ptr(), c_int::from(kind & !NLA_F_NESTED))
        };
        if start.is_null() {
            return Err(Full);
        }
        let r = fill(self);
        // SAFETY: `start` is the nest header `hasync_nest_start` put in this
        // skb; only attributes were appended since.
        unsafe {
            match r {
                Ok(()) => glue::hasync_nest_end(self.skb.as_ptr(), start),
                Err(Full) => glue::hasync_nest_cancel(self.skb.as_ptr(), start),
            }
        }
        r
    }
}

/// A message this code owns until it is sent: a [`Writer`] over its own
/// skb.
///
/// INVARIANT: `w.skb` is a live `sk_buff` from `hasync_msg_new` that
/// nothing else refers to; it is freed on drop unless sent.
pub(crate) struct Msg {
    w: Writer<'static>,
}

impl Msg {
    /// A message with room for `payload` bytes of genetlink messages
    /// (headers included).
    pub(crate) fn new(payload: usize) -> Result<Self, AllocError> {
        // SAFETY: no preconditions; returns NULL without memory.
        let skb = unsafe { glue::hasync_msg_new(payload, kernel::bindings::GFP_KERNEL) };
        let skb = NonNull::new(skb).ok_or(AllocError)?;
        // SAFETY: a fresh skb nothing else knows, freed only by our drop.
        let w = unsafe { Writer::new(skb) };
        Ok(Msg { w })
    }

    /// Gives up ownership of the skb to a consuming C call.
    fn into_raw(self) -> *mut SkBuff {
        let skb = self.w.skb.as_ptr();
        core::mem::forget(self);
        skb
    }

    /// Sends the message as the reply to `req`.
    pub(crate) fn reply(self, req: &Request<'_>) -> Result {
        let info = req.info();
        // SAFETY: the skb is ours to give (`into_raw`); `info` is the live
        // `genl_info` of the request being handled.
        to_result(unsafe { glue::hasync_msg_reply(self.into_raw(), info) })
    }

    /// Sends the message to `group`'s subscribers in every namespace.
    pub(crate) fn multicast(self, group: u32) {
        // SAFETY: the skb is ours to give (`into_raw`).
        unsafe { glue::hasync_msg_multicast(self.into_raw(), group) };
    }
}

impl core::ops::Deref for Msg {
    type Target = Writer<'static>;

    fn deref(&self) -> &Writer<'static> {
        &self.w
    }
}

impl core::ops::DerefMut for Msg {
    fn deref_mut(&mut self) -> &mut Writer<'static> {
        &mut self.w
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        // SAFETY: the skb is live and ours (the invariant).
        unsafe { glue::hasync_msg_free(self.w.skb.as_ptr()) };
    }
}

/// Whether anyone, in any namespace, subscribes to `group`.
pub(crate) fn has_listeners(group: u32) -> bool {
    // SAFETY: no preconditions.
    unsafe { glue::hasync_has_listeners(group) }
}
