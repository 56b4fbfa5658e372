// SPDX-License-Identifier: GPL-2.0

//! A request as the handlers see it: its command, its attributes (already
//! validated against the generated policy by the genetlink core), the socket
//! that sent it, and the way back for its reply or its refusal.

use core::ffi::c_void;

use kernel::ffi::c_int;
use kernel::prelude::*;

use crate::channel::Owner;
use crate::error::{fail, Failure, HResult, MSG_MAX};
use crate::glue::{self, NlAttr, RawReq};
use crate::nla::{Attr, Attrs};
use crate::uapi::{attr, cmd};

/// Top-level attribute types a request is indexed by: above every
/// attribute set's largest.
const INDEXED: usize = 16;

pub(crate) struct Request<'a> {
    pub(crate) cmd: u8,
    pub(crate) portid: u32,
    pub(crate) seq: u32,
    attrs: &'a [u8],
    /// Offset + 1 of the last top-level attribute of each type (0: none),
    /// found in one walk, as `nla_parse` keeps the last of a repeated one.
    index: [u32; INDEXED],
    raw: &'a RawReq,
}

impl<'a> Request<'a> {
    /// # Safety
    ///
    /// `raw.attrs` must be valid for reads of `raw.attrs_len` bytes for
    /// `'a`, and `raw.info`/`raw.extack` as C filled them for this request.
    pub(crate) unsafe fn new(raw: &'a RawReq) -> Self {
        let attrs = if raw.attrs.is_null() || raw.attrs_len == 0 {
            &[][..]
        } else {
            // SAFETY: valid for `attrs_len` bytes for `'a` (function contract).
            unsafe { core::slice::from_raw_parts(raw.attrs, raw.attrs_len as usize) }
        };
        let mut index = [0u32; INDEXED];
        for a in Attrs::new(attrs) {
            if let Some(slot) = index.get_mut(usize::from(a.kind)) {
                // Offsets within one message fit a u32.
                *slot = a.offset as u32 + 1;
            }
        }
        Request {
            cmd: raw.cmd,
            portid: raw.portid,
            seq: raw.seq,
            attrs,
            index,
            raw,
        }
    }

    /// The sending socket, for replays it owns.
    pub(crate) fn owner(&self) -> Owner {
        (self.raw.net as usize, self.raw.portid)
    }

    /// The `genl_info` a reply goes to (null in dumps).
    pub(crate) fn info(&self) -> *mut c_void {
        self.raw.info
    }

    pub(crate) fn attrs(&self) -> Attrs<'a> {
        Attrs::new(self.attrs)
    }

    /// The attribute `kind`; the last one when repeated, as `nla_parse`.
    pub(crate) fn get(&self, kind: u16) -> Option<Attr<'a>> {
        match self.index.get(usize::from(kind)) {
            Some(&0) => None,
            Some(&at) => self.attrs.get(at as usize - 1..).and_then(|rest| {
                Attrs::new(rest).next().map(|a| Attr {
                    offset: a.offset + at as usize - 1,
                    ..a
                })
            }),
            // Beyond the index: no set has such attributes; walk anyway.
            None => self.attrs().filter(|a| a.kind == kind).last(),
        }
    }

    pub(crate) fn flag(&self, kind: u16) -> bool {
        self.get(kind).is_some()
    }

    /// A required attribute: its absence is refused naming it.
    pub(crate) fn need(&self, kind: u16) -> HResult<Attr<'a>> {
        self.get(kind).ok_or_else(|| {
            fail!(
                EINVAL,
                Invalid,
                "{} needs attribute {}",
                cmd::name(self.cmd).unwrap_or("request"),
                self.attr_name(kind)
            )
            .missing(kind)
        })
    }

    pub(crate) fn need_u32(&self, kind: u16) -> HResult<u32> {
        let a = self.need(kind)?;
        a.u32().ok_or_else(|| self.malformed(a))
    }

    pub(crate) fn need_uint(&self, kind: u16) -> HResult<u64> {
        let a = self.need(kind)?;
        a.uint().ok_or_else(|| self.malformed(a))
    }

    pub(crate) fn opt_u32(&self, kind: u16) -> HResult<Option<u32>> {
        self.get(kind)
            .map(|a| a.u32().ok_or_else(|| self.malformed(a)))
            .transpose()
    }

    /// Points `f` at the request's attribute `kind` (when it has one and
    /// `f` points nowhere yet): the attribute a refusal is about.
    pub(crate) fn blame(&self, f: Failure, kind: u16) -> Failure {
        match self.get(kind) {
            Some(a) => f.or_at(a.offset),
            None => f,
        }
    }

    /// Not reached after the policy checked the lengths; refused, not
    /// trusted.
    fn malformed(&self, a: Attr<'_>) -> Failure {
        fail!(
            EINVAL,
            Invalid,
            "attribute {} has a bad length",
            self.attr_name(a.kind)
        )
        .at(a.offset)
    }

    /// The name `hasync.yaml` gives attribute `kind` of this command's set.
    pub(crate) fn attr_name(&self, kind: u16) -> &'static str {
        let name = match self.cmd {
            cmd::INFO => attr::info::name(kind),
            cmd::CHANNEL_NEW | cmd::CHANNEL_DEL | cmd::CHANNEL_GET | cmd::CLAIM => {
                attr::channel::name(kind)
            }
            cmd::UPDATE => attr::update::name(kind),
            cmd::COOKIES => attr::cookies::name(kind),
            cmd::REPLAY_BEGIN | cmd::REPLAY_ENTRIES | cmd::REPLAY_COMMIT | cmd::REPLAY_ABORT => {
                attr::replay::name(kind)
            }
            cmd::ENTRY_GET => attr::entry::name(kind),
            _ => None,
        };
        name.unwrap_or("?")
    }

    /// Tells the sender why its request was refused (the extack) and
    /// returns the errno for the genetlink core.
    pub(crate) fn refuse(&self, f: &Failure) -> c_int {
        let mut msg = [0u8; MSG_MAX];
        let text = f.message();
        msg[..text.len()].copy_from_slice(text);
        let bad_attr = f
            .bad_attr
            .map(|o| o as usize)
            .filter(|&o| o + core::mem::size_of::<NlAttr>() <= self.attrs.len())
            .map_or(core::ptr::null(), |o| {
                self.attrs[o..].as_ptr().cast::<NlAttr>()
            });
        // SAFETY: `extack` is the request's (or null, which C checks); `msg`
        // is NUL-terminated (the Failure keeps its last byte free); `bad_attr`
        // points into the request's attributes; the cookie is valid for its
        // length.
        unsafe {
            glue::hasync_extack(
                self.raw.extack,
                msg.as_ptr().cast(),
                bad_attr,
                f.missing.map_or(0, c_int::from),
                f.cookie.as_ptr(),
                f.cookie_len,
            )
        };
        f.errno.to_errno()
    }
}
