// SPDX-License-Identifier: GPL-2.0

//! The module's state: the channels, each behind its own lock so that
//! senders on different channels do not wait for each other, and the
//! counters.  One `State` serves every network namespace.
//!
//! Lock order: the channel map, then one channel.  No path holds two
//! channels' locks at once; claims hold the map lock across their two passes
//! so that two claims cannot interleave, and no channel can come or go
//! between the check and the change.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::{Arc, Mutex};

use crate::channel::{Applied, Channel, Owner, ReplayTicket, Section};
use crate::cookie_log::Cookies;
use crate::error::{fail, HResult};
use crate::nla::Attrs;
use crate::params::Params;
use crate::parse;
use crate::record::Name;
use crate::stats::{Counters, Stats};
use crate::uapi::ErrClass;

/// Version of the netlink protocol in `hasync.yaml`.
pub(crate) const PROTO_VERSION: u32 = 1;
/// A channel's sections are the bits of a u64 cookie.
pub(crate) const MAX_SECTIONS: u32 = 64;
pub(crate) const CHANNEL_NAME_MAX: usize = 31;

/// A channel and what never changes about it.
#[pin_data]
pub(crate) struct ChannelRef {
    pub(crate) id: u32,
    pub(crate) nsections: u32,
    name: [u8; CHANNEL_NAME_MAX],
    name_len: usize,
    #[pin]
    pub(crate) inner: Mutex<Channel>,
}

impl ChannelRef {
    pub(crate) fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }
}

/// The channels by id.
///
/// INVARIANT: `count` is the number of channels in `tree`.
struct Channels {
    tree: RBTree<u32, Arc<ChannelRef>>,
    count: u32,
}

/// A channel's section count: `None` is the default, 64.
pub(crate) fn check_sections(sections: Option<u32>) -> HResult<u32> {
    let sections = sections.unwrap_or(MAX_SECTIONS);
    if !sections.is_power_of_two() || sections > MAX_SECTIONS {
        return Err(fail!(
            EINVAL,
            Invalid,
            "channel sections {} is not a power of two from 1 to {}",
            sections,
            MAX_SECTIONS
        ));
    }
    Ok(sections)
}

pub(crate) fn check_channel_name(name: &[u8]) -> HResult<()> {
    if name.len() > CHANNEL_NAME_MAX || name.iter().any(|&b| !(0x20..=0x7e).contains(&b)) {
        return Err(fail!(
            EINVAL,
            Invalid,
            "channel name must be printable ASCII, at most {} bytes",
            CHANNEL_NAME_MAX
        ));
    }
    Ok(())
}

/// What the `info` command reports.
pub(crate) struct InfoSnapshot {
    pub(crate) params: Params,
    pub(crate) channels: u32,
    pub(crate) entries: u64,
}

/// Which channels a claim takes.
pub(crate) enum Target<'a> {
    All,
    /// The `id` attributes of the request.
    Ids(Attrs<'a>),
}

#[pin_data]
pub(crate) struct State {
    pub(crate) params: Params,
    #[pin]
    channels: Mutex<Channels>,
    counters: Counters,
    /// ACKs and ops of deleted channels, so `stats` never goes backwards.
    retired_acks: AtomicU64,
    retired_ops: AtomicU64,
    /// Replays open now, on any channel.
    pub(crate) replays: Arc<AtomicUsize>,
}

impl State {
    pub(crate) fn new(params: Params) -> impl PinInit<Self, Error> {
        try_pin_init!(State {
            params,
            channels <- new_mutex!(Channels { tree: RBTree::new(), count: 0 }, "hasync_channels"),
            counters: Counters::new(),
            retired_acks: AtomicU64::new(0),
            retired_ops: AtomicU64::new(0),
            replays: Arc::new(AtomicUsize::new(0), GFP_KERNEL)?,
        }? Error)
    }

    pub(crate) fn info(&self) -> InfoSnapshot {
        let map = self.channels.lock();
        let entries = map
            .tree
            .values()
            .map(|ch| u64::from(ch.inner.lock().entries))
            .sum();
        InfoSnapshot {
            params: self.params,
            channels: map.count,
            entries,
        }
    }

    pub(crate) fn count(&self, cmd: u8, failed: Option<ErrClass>) {
        self.counters.record(cmd, failed);
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut acks = self.retired_acks.load(Ordering::Relaxed);
        let mut ops = self.retired_ops.load(Ordering::Relaxed);
        for ch in self.channels.lock().tree.values() {
            let c = ch.inner.lock();
            acks += c.acks;
            ops += c.ops_applied;
        }
        self.counters.read(acks, ops)
    }

    pub(crate) fn channel(&self, id: u32) -> HResult<Arc<ChannelRef>> {
        self.channels
            .lock()
            .tree
            .get(&id)
            .cloned()
            .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", id))
    }

    pub(crate) fn channel_new(
        &self,
        id: u32,
        name: &[u8],
        sections: Option<u32>,
    ) -> HResult<Arc<ChannelRef>> {
        let sections = check_sections(sections)?;
        check_channel_name(name)?;
        let mut name_buf = [0u8; CHANNEL_NAME_MAX];
        name_buf[..name.len()].copy_from_slice(name);
        // Outside `pin_init!`, which binds each initialized field by name.
        let name_len = name.len();
        let channel = Channel::new(sections, self.params.cookie_log_len)?;
        let ch = Arc::pin_init(
            pin_init!(ChannelRef {
                id,
                nsections: sections,
                name: name_buf,
                name_len,
                inner <- new_mutex!(channel, "hasync_channel"),
            }),
            GFP_KERNEL,
        )?;
        let node = RBTreeNode::new(id, ch.clone(), GFP_KERNEL)?;
        let mut map = self.channels.lock();
        if map.tree.get(&id).is_some() {
            return Err(fail!(EEXIST, Exists, "channel {} exists", id));
        }
        if map.count >= self.params.max_channels {
            return Err(fail!(
                ENOSPC,
                Limit,
                "{} channels exist, the max_channels limit",
                map.count
            ));
        }
        map.tree.insert(node);
        map.count += 1;
        Ok(ch)
    }

    pub(crate) fn channel_del(&self, id: u32) -> HResult<Arc<ChannelRef>> {
        let mut map = self.channels.lock();
        let ch = map
            .tree
            .remove(&id)
            .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", id))?;
        map.count -= 1;
        let mut c = ch.inner.lock();
        // Requests that found it before it went refuse from now on, so its
        // counts are final.
        c.dead = true;
        c.replay = None;
        self.retired_acks.fetch_add(c.acks, Ordering::Relaxed);
        self.retired_ops.fetch_add(c.ops_applied, Ordering::Relaxed);
        drop(c);
        Ok(ch)
    }

    /// Channels with an id at or above `from`, in id order, at most `max`.
    pub(crate) fn channels_from(
        &self,
        from: u32,
        out: &mut KVec<Arc<ChannelRef>>,
        max: usize,
    ) -> HResult<()> {
        let mut map = self.channels.lock();
        let Some(mut cur) = map.tree.cursor_lower_bound(&from) else {
            return Ok(());
        };
        loop {
            if out.len() == max {
                return Ok(());
            }
            out.push(cur.current().1.clone(), GFP_KERNEL)?;
            match cur.move_next() {
                Some(next) => cur = next,
                None => return Ok(()),
            }
        }
    }

    /// Applies an update to its channel.  `changed` collects the names of
    /// the records it changed, for notifications, when given.
    pub(crate) fn update(
        &self,
        ch: &ChannelRef,
        epoch: u32,
        opid: u64,
        cookie: u64,
        ops: Attrs<'_>,
        changed: Option<&mut KVec<(u32, Name)>>,
    ) -> HResult<Applied> {
        let (ops, touched) = parse::parse_ops(ops, ch.nsections)?;
        if touched != cookie {
            return Err(fail!(
                EINVAL,
                Invalid,
                "cookie {:#x} differs from the sections the ops touch, {:#x}",
                cookie,
                touched
            ));
        }
        ch.inner
            .lock()
            .apply(epoch, opid, cookie, ops, self.params.max_entries, changed)
    }

    /// Raises the owner epoch of the target channels to `epoch`, all or
    /// nothing: a channel already owned by a newer epoch fences the whole
    /// claim, and so does a failing `prepare`, which is told the number of
    /// channels once they have all passed and before any changes (the
    /// reply is allocated there).  `each` then sees every channel as
    /// claimed.  Returns `prepare`'s result and the claimed channels.
    pub(crate) fn claim<R>(
        &self,
        epoch: u32,
        target: Target<'_>,
        prepare: impl FnOnce(usize) -> HResult<R>,
        mut each: impl FnMut(&mut R, &ChannelRef, &Channel),
    ) -> HResult<(R, KVec<Arc<ChannelRef>>)> {
        let map = self.channels.lock();
        let mut chans: KVec<Arc<ChannelRef>> = KVec::new();
        match target {
            Target::All => {
                chans.reserve(map.count as usize, GFP_KERNEL)?;
                for ch in map.tree.values() {
                    chans.push(ch.clone(), GFP_KERNEL)?;
                }
            }
            Target::Ids(ids) => {
                for a in ids.filter(|a| a.kind == crate::uapi::attr::channel::ID) {
                    let id = a.u32().unwrap_or(0);
                    let ch = map.tree.get(&id).ok_or_else(|| {
                        fail!(ENOENT, Noent, "claim: no channel {}", id).at(a.offset)
                    })?;
                    chans.push(ch.clone(), GFP_KERNEL)?;
                }
                if chans.is_empty() {
                    return Err(fail!(
                        EINVAL,
                        Invalid,
                        "claim needs channel ids or the all flag"
                    ));
                }
            }
        }
        for ch in chans.iter() {
            let owner = ch.inner.lock().epoch;
            if epoch < owner {
                return Err(fail!(
                    crate::error::ESTALE(),
                    Fenced,
                    "claim epoch {} is fenced: channel {} has owner epoch {}",
                    epoch,
                    ch.id,
                    owner
                )
                .cookie_u32(owner));
            }
        }
        let mut out = prepare(chans.len())?;
        // From here on nothing fails.  A writer with a newer epoch may have
        // claimed a channel since the check: the claim then linearizes
        // before that write, and the channel keeps the newer epoch.
        for ch in chans.iter() {
            let mut c = ch.inner.lock();
            c.claim(epoch);
            each(&mut out, ch, &c);
        }
        drop(map);
        Ok((out, chans))
    }

    pub(crate) fn cookies(&self, channel: u32, after: u64) -> HResult<(Cookies, u64)> {
        let ch = self.channel(channel)?;
        let c = ch.inner.lock();
        Ok((c.cookies(after), c.register))
    }

    pub(crate) fn replay_begin(
        &self,
        owner: Owner,
        channel: u32,
        epoch: u32,
        opid: u64,
        mask: u64,
    ) -> HResult<()> {
        // The check and the opening under the map lock: two requests of one
        // socket cannot both pass it.
        let map = self.channels.lock();
        // One open replay per socket: look for another one it owns.
        if let Some(id) = Self::replay_of(&map, owner) {
            return Err(fail!(
                EBUSY,
                Busy,
                "this socket already has a replay open on channel {}",
                id
            ));
        }
        let ch = map
            .tree
            .get(&channel)
            .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", channel))?;
        let ticket = ReplayTicket::new(&self.replays);
        let r = ch
            .inner
            .lock()
            .replay_begin(owner, epoch, opid, mask, ticket);
        r
    }

    pub(crate) fn replay_entries(
        &self,
        owner: Owner,
        channel: u32,
        attrs: Attrs<'_>,
    ) -> HResult<()> {
        let ch = self.channel(channel)?;
        let records = parse::parse_replay_records(attrs, ch.nsections)?;
        let r = ch
            .inner
            .lock()
            .replay_stage(owner, records, self.params.max_entries);
        r
    }

    /// Commits `owner`'s replay; returns the channel, opid, epoch and mask.
    pub(crate) fn replay_commit(
        &self,
        owner: Owner,
        channel: u32,
    ) -> HResult<(Arc<ChannelRef>, u64, u32, u64)> {
        let ch = self.channel(channel)?;
        let (opid, epoch, mask, old): (u64, u32, u64, KVec<Section>) =
            ch.inner.lock().replay_commit(owner)?;
        // The replaced records are freed outside the channel lock.
        drop(old);
        Ok((ch, opid, epoch, mask))
    }

    pub(crate) fn replay_abort(&self, owner: Owner, channel: u32) -> HResult<()> {
        let ch = self.channel(channel)?;
        let mut c = ch.inner.lock();
        c.staging_of(owner)?;
        c.replay = None;
        Ok(())
    }

    /// The channel on which `owner` has a replay open.
    fn replay_of(map: &Channels, owner: Owner) -> Option<u32> {
        map.tree
            .values()
            .find(|ch| matches!(&ch.inner.lock().replay, Some(st) if st.owner == owner))
            .map(|ch| ch.id)
    }

    /// The socket `owner` closed: whatever it was replaying is discarded.
    /// Every generic netlink socket of the host ends here when it closes:
    /// with no replay open anywhere, nothing is walked.  Walks the map
    /// under its lock, allocating nothing, so a closing socket can never
    /// leave its replay behind.
    pub(crate) fn socket_closed(&self, owner: Owner) {
        if self.replays.load(Ordering::Relaxed) == 0 {
            return;
        }
        let map = self.channels.lock();
        for ch in map.tree.values() {
            let mut c = ch.inner.lock();
            if matches!(&c.replay, Some(st) if st.owner == owner) {
                c.replay = None;
            }
        }
    }
}
