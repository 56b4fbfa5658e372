// SPDX-License-Identifier: GPL-2.0

//! The family's dumps: channels, records and cookie log entries, each
//! resumable from a cursor kept in `netlink_callback::ctx` between calls, so
//! that no reply ever has to hold more than one message.
//!
//! A dump step fills the message it is given and returns 1 while there is
//! more, 0 at the end; an object too large for an empty message is an
//! error, never an endless dump.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::ffi::c_int;
use kernel::prelude::*;

use crate::emit;
use crate::error::{fail, HResult};
use crate::glue::SkBuff;
use crate::msg::{Dest, Full, Writer};
use crate::record::{Name, NAME_MAX};
use crate::request::Request;
use crate::state::{ChannelRef, State};
use crate::uapi::{attr, cmd};

/// Channels taken from the map at a time, so its lock is not held while
/// emitting.
const BATCH: usize = 16;

/// Bytes of `netlink_callback::ctx`.
const CTX_LEN: usize = 48;

/// What a dump step did.
enum Step {
    /// The dump is complete.
    Done,
    /// More is to come; `wrote` says whether this step added anything.
    More { wrote: bool },
}

/// One dump step for `req`.
///
/// # Safety
///
/// `skb` must be the dump's message, writable for the call; `ctx` the
/// dump's `netlink_callback::ctx` (48 bytes, 8-aligned), zeroed when the
/// dump started and used by nothing else.
pub(crate) unsafe fn dumpit(
    state: &State,
    req: &Request<'_>,
    skb: *mut SkBuff,
    ctx: *mut c_void,
) -> c_int {
    let Some(skb) = NonNull::new(skb) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the dump's message, ours for the call (function contract).
    let mut w = unsafe { Writer::new(skb) };
    let r = match req.cmd {
        // SAFETY: `ctx` is this dump's cursor storage (function contract).
        cmd::CHANNEL_GET => channels(state, req, &mut w, unsafe { cursor(ctx) }),
        // SAFETY: as above.
        cmd::ENTRY_GET => records(state, req, &mut w, unsafe { cursor(ctx) }),
        // SAFETY: as above.
        cmd::COOKIES => cookie_entries(state, req, &mut w, unsafe { cursor(ctx) }),
        _ => Err(fail!(
            crate::error::EOPNOTSUPP(),
            Invalid,
            "command {} has no dump",
            req.cmd
        )),
    };
    match r {
        Ok(Step::Done) => 0,
        Ok(Step::More { wrote: true }) => 1,
        // One object larger than a whole dump message.
        Ok(Step::More { wrote: false }) => crate::error::EMSGSIZE().to_errno(),
        Err(f) => req.refuse(&f),
    }
}

/// The cursor of a dump, in its `ctx`.
///
/// # Safety
///
/// `ctx` as for [`dumpit`]; one dump uses one cursor type throughout (the
/// command never changes within a dump).
unsafe fn cursor<'a, C: Cursor>(ctx: *mut c_void) -> &'a mut C {
    const {
        assert!(core::mem::size_of::<C>() <= CTX_LEN);
        assert!(core::mem::align_of::<C>() <= 8);
    }
    // SAFETY: `ctx` is 48 bytes, 8-aligned and exclusively this dump's; an
    // all-zero `C` is valid (the `Cursor` contract) and the dump started
    // with zeroes; later steps find what earlier ones wrote.
    unsafe { &mut *ctx.cast::<C>() }
}

/// A dump position.
///
/// # Safety
///
/// Implementors are plain data for which all zero bytes are a valid value,
/// the start of the dump.
unsafe trait Cursor {}

/// Position of a channel dump.
#[repr(C)]
struct ChannelCursor {
    next: u32,
    done: bool,
}

// SAFETY: integers and a bool; zeroes = from channel 0, not done.
unsafe impl Cursor for ChannelCursor {}

/// Hands `each` the channels from id `*next` on, in id order, taken from
/// the map in batches so that its lock is not held while `each` emits.
/// Stops when `each` returns false (the message is full), with `*next` at
/// the channel it stopped at; returns true once every channel was handed.
fn walk_channels(
    state: &State,
    next: &mut u32,
    mut each: impl FnMut(&ChannelRef) -> bool,
) -> HResult<bool> {
    loop {
        let mut batch = KVec::new();
        state.channels_from(*next, &mut batch, BATCH)?;
        for ch in batch.iter() {
            if !each(ch) {
                *next = ch.id;
                return Ok(false);
            }
        }
        match batch.last() {
            Some(last) if batch.len() == BATCH && last.id < u32::MAX => *next = last.id + 1,
            _ => return Ok(true),
        }
    }
}

fn channels(
    state: &State,
    req: &Request<'_>,
    w: &mut Writer<'_>,
    cur: &mut ChannelCursor,
) -> HResult<Step> {
    let brief = req.flag(attr::channel::BRIEF);
    let mut wrote = false;
    if !cur.done {
        cur.done = walk_channels(state, &mut cur.next, |ch| {
            let c = ch.inner.lock();
            let sent = w.message(Dest::dump(req), req.cmd, |w| {
                emit::channel(w, ch, Some(&c), brief)
            });
            wrote |= sent.is_ok();
            sent.is_ok()
        })?;
        if !cur.done {
            return Ok(Step::More { wrote });
        }
    }
    Ok(Step::Done)
}

/// Position of a record dump: the channel and section being walked and
/// the last record emitted from it.
///
/// INVARIANT: `name[..name_len]` is a valid [`Name`] when `name_len > 0`.
#[repr(C)]
struct RecordCursor {
    channel: u32,
    section: u32,
    name: [u8; NAME_MAX],
    name_len: u8,
    done: bool,
}

// SAFETY: integers, bytes and a bool; zeroes = from channel 0, section 0,
// no record yet, not done.
unsafe impl Cursor for RecordCursor {}

impl RecordCursor {
    fn next_section(&mut self) {
        self.section += 1;
        self.name_len = 0;
    }
}

fn records(
    state: &State,
    req: &Request<'_>,
    w: &mut Writer<'_>,
    cur: &mut RecordCursor,
) -> HResult<Step> {
    let section = req.opt_u32(attr::entry::SECTION)?;
    let mut wrote = false;
    if let Some(id) = req.opt_u32(attr::entry::CHANNEL)? {
        if !cur.done {
            let ch = state.channel(id)?;
            if !channel_records(&ch, section, req, w, cur, &mut wrote) {
                return Ok(Step::More { wrote });
            }
            cur.done = true;
        }
        return Ok(Step::Done);
    }
    if !cur.done {
        let mut next = cur.channel;
        cur.done = walk_channels(state, &mut next, |ch| {
            if ch.id != cur.channel {
                cur.channel = ch.id;
                cur.section = 0;
                cur.name_len = 0;
            }
            channel_records(ch, section, req, w, cur, &mut wrote)
        })?;
        if !cur.done {
            return Ok(Step::More { wrote });
        }
    }
    Ok(Step::Done)
}

/// Emits the records of one channel (one section when `only` says so) from
/// the cursor on.  Returns false when the message is full; the cursor then
/// names the last record that went out.
fn channel_records(
    ch: &ChannelRef,
    only: Option<u32>,
    req: &Request<'_>,
    w: &mut Writer<'_>,
    cur: &mut RecordCursor,
    wrote: &mut bool,
) -> bool {
    let mut c = ch.inner.lock();
    while cur.section < ch.nsections {
        if only.is_some_and(|s| s != cur.section) {
            cur.next_section();
            continue;
        }
        let last = (cur.name_len > 0)
            .then(|| Name::new(&cur.name[..usize::from(cur.name_len)]))
            .flatten();
        let tree = &mut c.sections[cur.section as usize].tree;
        let mut pos = match &last {
            Some(n) => tree.cursor_lower_bound(n),
            None => tree.cursor_front(),
        };
        while let Some(p) = pos {
            let (name, rec) = p.current();
            // The lower bound is the last record sent: resume after it.
            if last.as_ref() != Some(name) {
                let sent = w.message(Dest::dump(req), cmd::ENTRY_GET, |w| {
                    emit::iface(w, ch.id, cur.section, name, Some(rec))
                });
                if sent.is_err() {
                    return false;
                }
                *wrote = true;
                let b = name.as_bytes();
                cur.name[..b.len()].copy_from_slice(b);
                // INVARIANT: a valid name's bytes; at most NAME_MAX.
                cur.name_len = b.len() as u8;
            }
            pos = p.move_next();
        }
        cur.next_section();
    }
    true
}

/// Position of a cookie log dump.
#[repr(C)]
struct CookieCursor {
    /// The last opid emitted (the request's after-opid until then).
    after: u64,
    started: bool,
    done: bool,
}

// SAFETY: integers and bools; zeroes = not started.
unsafe impl Cursor for CookieCursor {}

fn cookie_entries(
    state: &State,
    req: &Request<'_>,
    w: &mut Writer<'_>,
    cur: &mut CookieCursor,
) -> HResult<Step> {
    let channel = req.need_u32(attr::cookies::CHANNEL)?;
    if !cur.started {
        cur.after = req.need_uint(attr::cookies::AFTER_OPID)?;
        cur.started = true;
    }
    if cur.done {
        return Ok(Step::Done);
    }
    let ch = state.channel(channel)?;
    let c = ch.inner.lock();
    let mut last = None;
    let sent = w.message(Dest::dump(req), req.cmd, |w| {
        w.u32(attr::cookies::CHANNEL, channel)?;
        w.uint(attr::cookies::REGISTER, c.register)?;
        match c.log.entries_after(cur.after) {
            Ok(entries) => {
                for e in entries {
                    if emit::cookie_entry(w, &e) == Err(Full) {
                        // The rest goes in the next message; a message
                        // without a single entry would never end the dump.
                        return if last.is_some() { Ok(()) } else { Err(Full) };
                    }
                    last = Some(e.opid);
                }
                cur.done = true;
                Ok(())
            }
            Err(()) => {
                cur.done = true;
                w.flag(attr::cookies::LOG_SHORT)
            }
        }
    });
    if sent.is_err() {
        cur.done = false;
        return Ok(Step::More { wrote: false });
    }
    if let Some(opid) = last {
        cur.after = opid;
    }
    if cur.done {
        Ok(Step::Done)
    } else {
        Ok(Step::More { wrote: true })
    }
}
