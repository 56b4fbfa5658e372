// SPDX-License-Identifier: GPL-2.0

//! Generic netlink messages built from Rust: a safe writer over an
//! `sk_buff` and an owned message that is freed unless it is sent.
//!
//! Every reply, dump message and notification of the family is built with
//! these, by `emit.rs`; the C glue only lends the kernel's inline helpers.

use core::ffi::c_void;
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
        let hdr = self.start(to, cmd)?;
        let r = fill(self);
        // SAFETY: `hdr` was started on this skb just above, and only
        // attributes came after it.
        unsafe { self.finish(hdr, r.is_ok()) };
        r
    }

    /// Puts a message's headers; returns where they are, for
    /// [`Writer::finish`].
    fn start(&mut self, to: Dest, cmd: u8) -> Result<NonNull<c_void>, Full> {
        // SAFETY: `skb` is live and ours (the invariant).
        let hdr =
            unsafe { glue::hasync_msg_start(self.skb.as_ptr(), to.portid, to.seq, to.flags, cmd) };
        NonNull::new(hdr).ok_or(Full)
    }

    /// Ends the message `hdr` heads (its length set), or takes it back out.
    ///
    /// # Safety
    ///
    /// `hdr` must come from [`Writer::start`] on this writer's skb, with
    /// only attributes added since, and not be finished yet.
    unsafe fn finish(&mut self, hdr: NonNull<c_void>, keep: bool) {
        // SAFETY: per the function's contract.
        unsafe {
            if keep {
                glue::hasync_msg_end(self.skb.as_ptr(), hdr.as_ptr());
            } else {
                glue::hasync_msg_cancel(self.skb.as_ptr(), hdr.as_ptr());
            }
        }
    }

    /// An attribute of `len` payload bytes, written by `write`.
    fn reserve(
        &mut self,
        kind: u16,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), Full> {
        // An attribute's length is a u16, header included.
        if len > usize::from(u16::MAX) - NLA_HDRLEN {
            return Err(Full);
        }
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
/// skb, and the genetlink message being built in it, if one is open.
///
/// INVARIANT: `w.skb` is a live `sk_buff` from `hasync_msg_new` that
/// nothing else refers to; it is freed on drop unless sent.  `open` heads a
/// message started in that skb with only attributes added since.
pub(crate) struct Msg {
    w: Writer<'static>,
    open: Option<NonNull<c_void>>,
    room: usize,
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
        Ok(Msg {
            w,
            open: None,
            room: payload,
        })
    }

    /// The room it was made with, for error messages.
    pub(crate) fn room(&self) -> usize {
        self.room
    }

    /// Starts a message whose attributes come in several steps (a claim's
    /// reply); [`Msg::close`] or sending ends it.
    pub(crate) fn open(&mut self, to: Dest, cmd: u8) -> Result<(), Full> {
        self.close();
        // INVARIANT: just started in our skb.
        self.open = Some(self.w.start(to, cmd)?);
        Ok(())
    }

    /// Ends the open message, if any.
    pub(crate) fn close(&mut self) {
        if let Some(hdr) = self.open.take() {
            // SAFETY: `hdr` heads a message of this skb with only attributes
            // after it (the invariant), and `take` finishes it once.
            unsafe { self.w.finish(hdr, true) };
        }
    }

    /// Gives up ownership of the skb to a consuming C call.
    fn into_raw(mut self) -> *mut SkBuff {
        self.close();
        let skb = self.w.skb.as_ptr();
        core::mem::forget(self);
        skb
    }

    /// Sends the message as the reply to `req` (a `do` request: a dump's
    /// messages go in the skb netlink hands the dump).
    pub(crate) fn reply(self, req: &Request<'_>) -> Result {
        let info = req.info();
        if info.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: the skb is ours to give (`into_raw`); `info` is the live
        // `genl_info` of the `do` request being handled.
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
