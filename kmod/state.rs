// SPDX-License-Identifier: GPL-2.0

//! The module's state: the channels, each behind its own lock so that
//! senders on different channels do not wait for each other, and the
//! counters.
//!
//! Lock order: the channel map, then one channel.  No path holds two
//! channels' locks at once; claims hold the map lock across their two passes
//! so that two claims cannot interleave.

use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, Mutex, SpinLock};
use kernel::{new_mutex, new_spinlock};

use crate::channel::{Applied, Channel, Owner, Section};
use crate::cookie_log::Cookies;
use crate::error::{fail, HResult};
use crate::nla::Attrs;
use crate::params::Params;
use crate::parse;
use crate::record::Name;
use crate::stats::Stats;
use crate::uapi::{attr, ErrClass};

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
    pub(crate) name: [u8; CHANNEL_NAME_MAX],
    pub(crate) name_len: usize,
    #[pin]
    pub(crate) inner: Mutex<Channel>,
}

impl ChannelRef {
    pub(crate) fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }
}

/// What the `info` command reports.
pub(crate) struct InfoSnapshot {
    pub(crate) params: Params,
    pub(crate) channels: u32,
    pub(crate) entries: u64,
}

#[pin_data]
pub(crate) struct State {
    pub(crate) params: Params,
    #[pin]
    channels: Mutex<RBTree<u32, Arc<ChannelRef>>>,
    #[pin]
    stats: SpinLock<Stats>,
}

impl State {
    pub(crate) fn new(params: Params) -> impl PinInit<Self> {
        pin_init!(State {
            params,
            channels <- new_mutex!(RBTree::new(), "hasync_channels"),
            stats <- new_spinlock!(Stats::new(), "hasync_stats"),
        })
    }

    pub(crate) fn info(&self) -> InfoSnapshot {
        let map = self.channels.lock();
        let mut entries = 0u64;
        let mut channels = 0u32;
        for ch in map.values() {
            channels += 1;
            entries += u64::from(ch.inner.lock().entries);
        }
        InfoSnapshot {
            params: self.params,
            channels,
            entries,
        }
    }

    pub(crate) fn count(&self, cmd: u8, failed: Option<ErrClass>) {
        self.stats.lock().record(cmd, failed);
    }

    pub(crate) fn count_ack(&self, ops: u64) {
        let mut s = self.stats.lock();
        s.acks_published += 1;
        s.ops_applied += ops;
    }

    pub(crate) fn stats(&self) -> Stats {
        *self.stats.lock()
    }

    pub(crate) fn channel(&self, id: u32) -> HResult<Arc<ChannelRef>> {
        self.channels
            .lock()
            .get(&id)
            .cloned()
            .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", id))
    }

    pub(crate) fn channel_new(&self, id: u32, name: &[u8], sections: Option<u32>) -> HResult<Arc<ChannelRef>> {
        let sections = sections.unwrap_or(MAX_SECTIONS);
        if !sections.is_power_of_two() || sections > MAX_SECTIONS {
            return Err(fail!(
                EINVAL,
                Invalid,
                "channel sections {} is not a power of two from 1 to 64",
                sections
            ));
        }
        if name.len() > CHANNEL_NAME_MAX || name.iter().any(|&b| !(0x20..=0x7e).contains(&b)) {
            return Err(fail!(EINVAL, Invalid, "channel name must be printable, at most 31 bytes"));
        }
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
        let node = kernel::rbtree::RBTreeNode::new(id, ch.clone(), GFP_KERNEL)?;
        let mut map = self.channels.lock();
        if map.get(&id).is_some() {
            return Err(fail!(EEXIST, Exists, "channel {} exists", id));
        }
        let n = map.iter().count();
        if n >= self.params.max_channels as usize {
            return Err(fail!(
                ENOSPC,
                Limit,
                "{} channels exist, the limit (max_channels)",
                n
            ));
        }
        map.insert(node);
        Ok(ch)
    }

    pub(crate) fn channel_del(&self, id: u32) -> HResult<Arc<ChannelRef>> {
        self.channels
            .lock()
            .remove(&id)
            .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", id))
    }

    /// Channels with an id at or above `from`, in id order, at most `max`.
    pub(crate) fn channels_from(&self, from: u32, out: &mut KVec<Arc<ChannelRef>>, max: usize) -> HResult<()> {
        let mut map = self.channels.lock();
        let Some(mut cur) = map.cursor_lower_bound(&from) else {
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

    pub(crate) fn update(
        &self,
        channel: u32,
        epoch: u32,
        opid: u64,
        cookie: u64,
        attrs: Attrs<'_>,
        changed: &mut KVec<(u32, Name)>,
    ) -> HResult<(Arc<ChannelRef>, Applied)> {
        let ch = self.channel(channel)?;
        let (ops, touched) = parse::parse_ops(attrs, ch.nsections)?;
        if touched != cookie {
            return Err(fail!(
                EINVAL,
                Invalid,
                "cookie {:#x} differs from the sections the ops touch, {:#x}",
                cookie,
                touched
            ));
        }
        let nops = ops.len();
        let applied = ch
            .inner
            .lock()
            .apply(epoch, opid, cookie, ops, self.params.max_entries, changed)?;
        if !applied.duplicate {
            self.count_ack(nops as u64);
        }
        Ok((ch, applied))
    }

    /// Raises the owner epoch of `ids` (or every channel) to `epoch`.  All
    /// or nothing: a channel already owned by a newer epoch fences the
    /// whole claim.
    pub(crate) fn claim(
        &self,
        epoch: u32,
        all: bool,
        ids: Attrs<'_>,
        out: &mut KVec<Arc<ChannelRef>>,
    ) -> HResult<()> {
        let map = self.channels.lock();
        let mut chans: KVec<Arc<ChannelRef>> = KVec::new();
        if all {
            for ch in map.values() {
                chans.push(ch.clone(), GFP_KERNEL)?;
            }
        } else {
            for a in ids.filter(|a| a.kind == attr::channel::ID) {
                let id = a.u32().unwrap_or(0);
                let ch = map
                    .get(&id)
                    .ok_or_else(|| fail!(ENOENT, Noent, "no channel {}", id).at(a.offset))?;
                chans.push(ch.clone(), GFP_KERNEL)?;
            }
            if chans.is_empty() {
                return Err(fail!(EINVAL, Invalid, "claim needs channel ids or the all flag"));
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
        for ch in chans.iter() {
            let mut c = ch.inner.lock();
            c.drop_fenced_replay(epoch);
            c.epoch = c.epoch.max(epoch);
        }
        *out = chans;
        Ok(())
    }

    pub(crate) fn cookies(&self, channel: u32, after: u64) -> HResult<Cookies> {
        Ok(self.channel(channel)?.inner.lock().cookies(after))
    }

    pub(crate) fn replay_begin(&self, owner: Owner, channel: u32, epoch: u32, opid: u64, mask: u64) -> HResult<()> {
        // One open replay per socket: look for another one it owns.
        if let Some(id) = self.replay_owned_by(owner, false) {
            return Err(fail!(
                EBUSY,
                Busy,
                "this socket already has a replay open on channel {}",
                id
            ));
        }
        self.channel(channel)?
            .inner
            .lock()
            .replay_begin(owner, epoch, opid, mask)
    }

    pub(crate) fn replay_entries(&self, owner: Owner, channel: u32, attrs: Attrs<'_>) -> HResult<()> {
        let ch = self.channel(channel)?;
        let records = parse::parse_replay_records(attrs, ch.nsections)?;
        let r = ch
            .inner
            .lock()
            .replay_stage(owner, records, self.params.max_entries);
        r
    }

    pub(crate) fn replay_commit(&self, owner: Owner, channel: u32) -> HResult<(Arc<ChannelRef>, u64, u64)> {
        let ch = self.channel(channel)?;
        let (opid, mask, old): (u64, u64, KVec<Section>) = ch.inner.lock().replay_commit(owner)?;
        // The replaced records are freed outside the channel lock.
        drop(old);
        self.count_ack(0);
        Ok((ch, opid, mask))
    }

    pub(crate) fn replay_abort(&self, owner: Owner, channel: u32) -> HResult<()> {
        let ch = self.channel(channel)?;
        let mut c = ch.inner.lock();
        c.staging_of(owner)?;
        c.replay = None;
        Ok(())
    }

    /// The channel on which `owner` has a replay open, discarding it when
    /// `discard` is set.  Walks the map under its lock, allocating nothing,
    /// so a closing socket can never leave its replay behind.
    fn replay_owned_by(&self, owner: Owner, discard: bool) -> Option<u32> {
        let map = self.channels.lock();
        for ch in map.values() {
            let mut c = ch.inner.lock();
            if matches!(&c.replay, Some(st) if st.owner == owner) {
                if discard {
                    c.replay = None;
                }
                return Some(ch.id);
            }
        }
        None
    }

    /// The socket `owner` closed: whatever it was replaying is discarded.
    pub(crate) fn socket_closed(&self, owner: Owner) {
        self.replay_owned_by(owner, true);
    }
}
