// SPDX-License-Identifier: GPL-2.0

//! The family's `do` commands: each reads its attributes, calls the core
//! and formats the reply.  No rule of the tables lives here (those are in
//! `channel.rs` and `state.rs`); what is here is what goes on the wire.

use kernel::ffi::c_int;
use kernel::prelude::*;

use crate::channel::Channel;
use crate::cookie_log::Cookies;
use crate::emit::{self, Ack, CLAIMED_MAX, IFACE_MAX};
use crate::error::{fail, Failure, HResult};
use crate::msg::{attr_size, Dest, Full, Msg, Writer, MSG_OVERHEAD};
use crate::notify;
use crate::record::Name;
use crate::request::Request;
use crate::state::{
    check_channel_name, check_sections, ChannelRef, State, Target, MAX_SECTIONS, PROTO_VERSION,
};
use crate::stats::{CMD_SLOTS, ERR_CLASSES};
use crate::uapi::{attr, cmd, ErrClass};

/// The largest reply a claim without `brief` may have: what a 64 KiB
/// receive buffer, the previous release's, takes in one datagram.
pub(crate) const CLAIM_REPLY_MAX: usize = 65536;

/// Runs one `do` command and counts it; returns 0 or the errno, with the
/// extack set.
pub(crate) fn doit(state: &State, req: &Request<'_>) -> c_int {
    let r = match req.cmd {
        cmd::INFO => info(state, req),
        cmd::CHANNEL_NEW => channel_new(state, req),
        cmd::CHANNEL_DEL => channel_del(state, req),
        cmd::CHANNEL_GET => channel_get(state, req),
        cmd::UPDATE => update(state, req),
        cmd::CLAIM => claim(state, req),
        cmd::COOKIES => cookies(state, req),
        cmd::REPLAY_BEGIN => replay_begin(state, req),
        cmd::REPLAY_ENTRIES => replay_entries(state, req),
        cmd::REPLAY_COMMIT => replay_commit(state, req),
        cmd::REPLAY_ABORT => replay_abort(state, req),
        cmd::ENTRY_GET => entry_get(state, req),
        cmd::STATS => stats(state, req),
        _ => Err(fail!(
            crate::error::EOPNOTSUPP(),
            Invalid,
            "command {} is not a do command",
            req.cmd
        )),
    };
    state.count(req.cmd, r.as_ref().err().map(|f| f.class));
    match r {
        Ok(()) => 0,
        Err(f) => req.refuse(&f),
    }
}

/// Points a refusal at the request attribute its class is about (unless
/// it points at one already), so that the extack names it.
fn blame<'a>(
    req: &'a Request<'_>,
    by_class: &'a [(ErrClass, u16)],
) -> impl Fn(Failure) -> Failure + 'a {
    move |f| match by_class.iter().find(|(c, _)| *c == f.class) {
        Some(&(_, kind)) => req.blame(f, kind),
        None => f,
    }
}

/// A reply that was sized to fit and still did not: a bug, reported as
/// such rather than as a missing reply.
fn overflow(what: &str, size: usize) -> Failure {
    fail!(
        crate::error::EMSGSIZE(),
        Invalid,
        "{} reply overflowed its {} bytes",
        what,
        size
    )
}

/// Builds the reply to `req` in a message of `size` bytes and sends it.
fn reply(
    req: &Request<'_>,
    size: usize,
    fill: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>,
) -> HResult<()> {
    let msg = Msg::new(size)?;
    reply_in(msg, req, fill)
}

/// [`reply`] in a message allocated beforehand: what a command that
/// changes state does, so that a change is never followed by a failure to
/// allocate its answer.
fn reply_in(
    mut msg: Msg,
    req: &Request<'_>,
    fill: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>,
) -> HResult<()> {
    let what = cmd::name(req.cmd).unwrap_or("?");
    let room = msg.room();
    msg.message(Dest::reply(req), req.cmd, fill)
        .map_err(|Full| overflow(what, room))?;
    send(msg, req);
    Ok(())
}

/// Sends a reply.  It can only fail when the sender's receive buffer is
/// full, and netlink then reports the loss to that socket (ENOBUFS); the
/// request itself succeeded and is answered as such.
fn send(msg: Msg, req: &Request<'_>) {
    let _ = msg.reply(req);
}

fn info(state: &State, req: &Request<'_>) -> HResult<()> {
    let i = state.info();
    let version = crate::VERSION.as_bytes();
    let size = MSG_OVERHEAD + attr_size(version.len() + 1) + 6 * attr_size(4) + attr_size(8);
    reply(req, size, |w| {
        w.string(attr::info::VERSION, version)?;
        w.u32(attr::info::PROTO_VERSION, PROTO_VERSION)?;
        w.u32(attr::info::MAX_CHANNELS, i.params.max_channels)?;
        w.u32(attr::info::MAX_ENTRIES, i.params.max_entries)?;
        w.u32(attr::info::MAX_SECTIONS, MAX_SECTIONS)?;
        w.u32(attr::info::COOKIE_LOG_LEN, i.params.cookie_log_len)?;
        w.u32(attr::info::CHANNELS, i.channels)?;
        w.uint(attr::info::ENTRIES, i.entries)
    })
}

fn channel_new(state: &State, req: &Request<'_>) -> HResult<()> {
    use attr::channel::{ID, NAME, SECTIONS};
    let id = req.need_u32(ID)?;
    let name = req.get(NAME).map_or(&[][..], |a| a.string());
    let sections = req.opt_u32(SECTIONS)?;
    check_sections(sections).map_err(|f| req.blame(f, SECTIONS))?;
    check_channel_name(name).map_err(|f| req.blame(f, NAME))?;
    let ch = state
        .channel_new(id, name, sections)
        .map_err(blame(req, &[(ErrClass::Exists, ID)]))?;
    notify::channel(&ch, Some(&ch.inner.lock()));
    Ok(())
}

fn channel_del(state: &State, req: &Request<'_>) -> HResult<()> {
    let ch = state
        .channel_del(req.need_u32(attr::channel::ID)?)
        .map_err(blame(req, &[(ErrClass::Noent, attr::channel::ID)]))?;
    notify::channel(&ch, None);
    Ok(())
}

fn channel_get(state: &State, req: &Request<'_>) -> HResult<()> {
    let ch = state
        .channel(req.need_u32(attr::channel::ID)?)
        .map_err(blame(req, &[(ErrClass::Noent, attr::channel::ID)]))?;
    let size = MSG_OVERHEAD + emit::channel_max(false);
    let c = ch.inner.lock();
    reply(req, size, |w| emit::channel(w, &ch, Some(&c), false))
}

fn update(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::update::CHANNEL)?;
    let epoch = req.need_u32(attr::update::EPOCH)?;
    let opid = req.need_uint(attr::update::OPID)?;
    let cookie = req.need_uint(attr::update::COOKIE)?;
    let ch = state
        .channel(channel)
        .map_err(blame(req, &[(ErrClass::Noent, attr::update::CHANNEL)]))?;
    // Within a run of updates of one channel in one send, the last one's
    // ACK answers and publishes for all: ACKs are cumulative.
    let more = req.flag(attr::update::MORE);
    // The answer's room first: an applied update is always answered.
    let msg = if more {
        None
    } else {
        Some(Msg::new(MSG_OVERHEAD + Ack::MAX_SIZE)?)
    };
    // Only a monitor subscriber needs the changed names: otherwise the
    // update path allocates nothing for them.
    let mut changed = KVec::new();
    let collect = notify::monitor_listening().then_some(&mut changed);
    let applied = state
        .update(&ch, epoch, opid, cookie, req.attrs(), collect)
        .map_err(blame(
            req,
            &[
                (ErrClass::Gap, attr::update::OPID),
                (ErrClass::Fenced, attr::update::EPOCH),
                // Parse errors point at their op; the one left is the cookie.
                (ErrClass::Invalid, attr::update::COOKIE),
            ],
        ))?;
    let ack = Ack {
        channel,
        epoch: applied.epoch,
        opid: applied.opid,
        cookie: applied.cookie,
        duplicate: applied.duplicate,
    };
    if !applied.duplicate {
        notify::records(&ch, &changed);
    }
    let Some(msg) = msg else {
        return Ok(());
    };
    if !applied.duplicate {
        notify::ack(&ack);
    }
    reply_in(msg, req, |w| ack.put(w))
}

fn claim(state: &State, req: &Request<'_>) -> HResult<()> {
    let epoch = req.need_u32(attr::channel::EPOCH)?;
    let brief = req.flag(attr::channel::BRIEF);
    let target = if req.flag(attr::channel::ALL) {
        Target::All
    } else {
        Target::Ids(req.attrs())
    };
    let to = Dest::reply(req);
    let brief_size = MSG_OVERHEAD + 2 * attr_size(4);
    // The reply is allocated and started once every channel has passed the
    // fencing check and before any epoch moves: a claim whose reply cannot
    // be made changes nothing.
    let prepare = |n: usize| -> HResult<_> {
        let size = if brief {
            brief_size
        } else {
            MSG_OVERHEAD + n * CLAIMED_MAX
        };
        if size > CLAIM_REPLY_MAX {
            return Err(fail!(
                crate::error::EMSGSIZE(),
                Limit,
                "claim reply for {} channels needs {} bytes, over {}: claim brief",
                n,
                size,
                CLAIM_REPLY_MAX
            ));
        }
        let mut msg = Msg::new(size)?;
        msg.open(to, req.cmd)
            .map_err(|Full| overflow("claim", size))?;
        Ok((msg, size, Ok(())))
    };
    let each = |out: &mut (Msg, usize, Result<(), Full>), ch: &ChannelRef, c: &Channel| {
        if !brief && out.2.is_ok() {
            out.2 = emit::claimed(&mut out.0, ch.id, c);
        }
    };
    let ((mut msg, size, emitted), claimed) = state
        .claim(epoch, target, prepare, each)
        .map_err(blame(req, &[(ErrClass::Fenced, attr::channel::EPOCH)]))?;
    // Sized for the largest nests: never short.
    emitted.map_err(|Full| overflow("claim", size))?;
    if brief {
        // A claim's count is bounded by max_channels, a u32.
        msg.u32(attr::channel::CLAIMED_COUNT, claimed.len() as u32)
            .and_then(|()| msg.u32(attr::channel::EPOCH, epoch))
            .map_err(|Full| overflow("claim", size))?;
    }
    msg.close();
    for ch in claimed.iter() {
        notify::channel(ch, Some(&ch.inner.lock()));
    }
    send(msg, req);
    Ok(())
}

fn cookies(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::cookies::CHANNEL)?;
    let after = req.need_uint(attr::cookies::AFTER_OPID)?;
    let (answer, register) = state
        .cookies(channel, after)
        .map_err(blame(req, &[(ErrClass::Noent, attr::cookies::CHANNEL)]))?;
    let size = MSG_OVERHEAD + attr_size(4) + 2 * attr_size(8);
    reply(req, size, |w| {
        w.u32(attr::cookies::CHANNEL, channel)?;
        match answer {
            Cookies::Known(c) => w.uint(attr::cookies::COOKIE, c)?,
            Cookies::Short => w.flag(attr::cookies::LOG_SHORT)?,
        }
        w.uint(attr::cookies::REGISTER, register)
    })
}

fn replay_begin(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::replay::CHANNEL)?;
    let epoch = req.need_u32(attr::replay::EPOCH)?;
    let opid = req.need_uint(attr::replay::OPID)?;
    let sections = req.need_uint(attr::replay::SECTIONS)?;
    state
        .replay_begin(req.owner(), channel, epoch, opid, sections)
        .map_err(blame(
            req,
            &[
                (ErrClass::Noent, attr::replay::CHANNEL),
                (ErrClass::Gap, attr::replay::OPID),
                (ErrClass::Fenced, attr::replay::EPOCH),
                (ErrClass::Invalid, attr::replay::SECTIONS),
            ],
        ))
}

fn replay_entries(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::replay::CHANNEL)?;
    state
        .replay_entries(req.owner(), channel, req.attrs())
        .map_err(blame(req, &[(ErrClass::Noent, attr::replay::CHANNEL)]))
}

fn replay_commit(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::replay::CHANNEL)?;
    // The answer's room first: a committed replay is always answered.
    let msg = Msg::new(MSG_OVERHEAD + 2 * attr_size(4) + 2 * attr_size(8))?;
    let (ch, opid, epoch, mask) = state
        .replay_commit(req.owner(), channel)
        .map_err(blame(req, &[(ErrClass::Noent, attr::replay::CHANNEL)]))?;
    notify::ack(&Ack {
        channel,
        epoch: Some(epoch),
        opid,
        cookie: mask,
        duplicate: false,
    });
    notify::channel(&ch, Some(&ch.inner.lock()));
    reply_in(msg, req, |w| {
        w.u32(attr::replay::CHANNEL, channel)?;
        w.u32(attr::replay::EPOCH, epoch)?;
        w.uint(attr::replay::OPID, opid)?;
        w.uint(attr::replay::SECTIONS, mask)
    })
}

fn replay_abort(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::replay::CHANNEL)?;
    state
        .replay_abort(req.owner(), channel)
        .map_err(blame(req, &[(ErrClass::Noent, attr::replay::CHANNEL)]))
}

fn entry_get(state: &State, req: &Request<'_>) -> HResult<()> {
    let channel = req.need_u32(attr::entry::CHANNEL)?;
    let raw = req.need(attr::entry::NAME)?;
    let name = Name::new(raw.string()).ok_or_else(|| {
        fail!(
            EINVAL,
            Invalid,
            "entry name must be 1-15 printable bytes without '/'"
        )
        .at(raw.offset)
    })?;
    let ch = state
        .channel(channel)
        .map_err(blame(req, &[(ErrClass::Noent, attr::entry::CHANNEL)]))?;
    let section = crate::hash::section_of(name.as_bytes(), ch.nsections);
    let c = ch.inner.lock();
    let rec = c.sections[section as usize]
        .tree
        .get(&name)
        .ok_or_else(|| {
            fail!(
                ENOENT,
                Noent,
                "no entry of that name in channel {}",
                channel
            )
            .at(raw.offset)
        })?;
    reply(req, MSG_OVERHEAD + IFACE_MAX, |w| {
        emit::iface(w, channel, section, &name, Some(rec))
    })
}

fn stats(state: &State, req: &Request<'_>) -> HResult<()> {
    let s = state.stats();
    let size = MSG_OVERHEAD
        + CMD_SLOTS * (attr_size(0) + attr_size(4) + 2 * attr_size(8))
        + ERR_CLASSES * (attr_size(0) + attr_size(4) + attr_size(8))
        + 2 * attr_size(8);
    reply(req, size, |w| {
        for i in 1..CMD_SLOTS {
            if s.ok[i] == 0 && s.failed[i] == 0 {
                continue;
            }
            w.nest(attr::stats::CMD, |w| {
                // Below CMD_SLOTS.
                w.u32(attr::cmd_stats::CMD, i as u32)?;
                w.uint(attr::cmd_stats::OK, s.ok[i])?;
                w.uint(attr::cmd_stats::FAILED, s.failed[i])
            })?;
        }
        for (i, &count) in s.err.iter().enumerate() {
            w.nest(attr::stats::ERR, |w| {
                // Below ERR_CLASSES.
                w.u32(attr::err_stats::CLASS, i as u32)?;
                w.uint(attr::err_stats::COUNT, count)
            })?;
        }
        w.uint(attr::stats::ACKS_PUBLISHED, s.acks_published)?;
        w.uint(attr::stats::OPS_APPLIED, s.ops_applied)
    })
}
