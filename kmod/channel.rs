// SPDX-License-Identifier: GPL-2.0

//! One replication channel: its table split into sections, the acked-opid
//! register and the epoch that wrote it, the owner epoch, the cookie log and
//! an open section replay.
//!
//! Everything here runs under the channel's lock (see `state.rs`); the
//! methods either change the channel completely or not at all: every check
//! and every allocation comes before the first change.

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::sync::Arc;

use crate::cookie_log::{CookieLog, Cookies, Entry};
use crate::error::{fail, HResult};
use crate::record::{Iface, Name};

/// A netlink socket: its network namespace (by address) and port id.
pub(crate) type Owner = (usize, u32);

/// A section's records and what is known about them without walking them.
///
/// INVARIANT: `count` is the number of records in `tree` and `digest` the
/// wrapping sum of their `hash`es.
pub(crate) struct Section {
    pub(crate) tree: RBTree<Name, Iface>,
    pub(crate) digest: u64,
    pub(crate) count: u32,
}

impl Section {
    fn new() -> Self {
        Section {
            tree: RBTree::new(),
            digest: 0,
            count: 0,
        }
    }

    /// Replaces the value of an existing record in place; keeps the
    /// invariant.  Returns the old value, for the caller to free.
    fn replace(&mut self, name: &Name, rec: Iface) -> Option<Iface> {
        let slot = self.tree.get_mut(name)?;
        let old = core::mem::replace(slot, rec);
        self.digest = self.digest.wrapping_sub(old.hash).wrapping_add(slot.hash);
        Some(old)
    }

    /// Inserts a record known to be absent; keeps the invariant.
    fn insert(&mut self, node: RBTreeNodeReservation<Name, Iface>, name: Name, rec: Iface) {
        self.digest = self.digest.wrapping_add(rec.hash);
        match self.tree.insert(node.into_node(name, rec)) {
            Some(old) => {
                // Not reached (the caller checked the name is absent), but
                // the invariant holds either way.
                let (_, old) = old.to_key_value();
                self.digest = self.digest.wrapping_sub(old.hash);
            }
            None => self.count += 1,
        }
    }

    /// Removes if present; keeps the invariant.
    fn del(&mut self, name: &Name) {
        if let Some(old) = self.tree.remove(name) {
            self.digest = self.digest.wrapping_sub(old.hash);
            self.count -= 1;
        }
    }

    /// Inserts or replaces a staged record (replays); keeps the invariant.
    fn put(&mut self, node: kernel::rbtree::RBTreeNode<Name, Iface>, hash: u64) {
        self.digest = self.digest.wrapping_add(hash);
        match self.tree.insert(node) {
            Some(old) => {
                let (_, old) = old.to_key_value();
                self.digest = self.digest.wrapping_sub(old.hash);
            }
            None => self.count += 1,
        }
    }
}

fn new_sections(n: u32) -> Result<KVec<Section>> {
    let mut v = KVec::with_capacity(n as usize, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(Section::new(), GFP_KERNEL)?;
    }
    Ok(v)
}

/// One op of an update, validated and hashed before the channel is locked.
/// A `set` of a record that does not exist yet gets its tree node under the
/// lock, before anything changes; one that replaces a record reuses the
/// node already in the tree.
pub(crate) enum Op {
    Set {
        section: u32,
        name: Name,
        rec: Iface,
        node: Option<RBTreeNodeReservation<Name, Iface>>,
    },
    Del {
        section: u32,
        name: Name,
    },
}

impl Op {
    pub(crate) fn name(&self) -> &Name {
        match self {
            Op::Set { name, .. } | Op::Del { name, .. } => name,
        }
    }

    pub(crate) fn section(&self) -> u32 {
        match self {
            Op::Set { section, .. } | Op::Del { section, .. } => *section,
        }
    }
}

/// An update's ops.  Most updates carry one: it is kept inline, so that
/// parsing it allocates nothing.
pub(crate) enum Ops {
    One(Op),
    Many(KVec<Op>),
}

impl Ops {
    pub(crate) fn as_mut_slice(&mut self) -> &mut [Op] {
        match self {
            Ops::One(op) => core::slice::from_mut(op),
            Ops::Many(v) => v.as_mut_slice(),
        }
    }
}

/// Counts a replay as open for as long as it lives (see
/// `State::socket_closed`).
pub(crate) struct ReplayTicket(Arc<AtomicUsize>);

impl ReplayTicket {
    pub(crate) fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        ReplayTicket(open.clone())
    }
}

impl Drop for ReplayTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A section replay being staged by one socket.
pub(crate) struct Staging {
    /// The socket that opened it.
    pub(crate) owner: Owner,
    _open: ReplayTicket,
    pub(crate) epoch: u32,
    pub(crate) opid: u64,
    pub(crate) mask: u64,
    /// One slot per section of the channel; only masked ones are filled.
    sections: KVec<Section>,
    count: u32,
}

/// What an update did.
pub(crate) struct Applied {
    pub(crate) opid: u64,
    pub(crate) cookie: u64,
    /// The epoch of the update at `opid`: the sender's when applied, the
    /// logged one for a duplicate (`None` once the log has dropped it).
    pub(crate) epoch: Option<u32>,
    pub(crate) duplicate: bool,
}

/// The mutable part of a channel.
///
/// INVARIANT: `sections.len() == nsections`; `entries` is the sum of the
/// sections' counts; `register` only grows; `register_epoch` is the epoch
/// of the update or replay that last set the register (0 before any).
pub(crate) struct Channel {
    pub(crate) nsections: u32,
    pub(crate) register: u64,
    pub(crate) register_epoch: u32,
    pub(crate) epoch: u32,
    pub(crate) entries: u32,
    pub(crate) sections: KVec<Section>,
    pub(crate) log: CookieLog,
    pub(crate) replay: Option<Staging>,
    /// ACKs issued (updates applied, replays committed) and ops applied,
    /// for `stats`: counted here, under the lock the update holds anyway.
    pub(crate) acks: u64,
    pub(crate) ops_applied: u64,
    /// Deleted: requests that found the channel before refuse.
    pub(crate) dead: bool,
}

impl Channel {
    pub(crate) fn new(nsections: u32, log_len: u32) -> Result<Self> {
        Ok(Channel {
            nsections,
            register: 0,
            register_epoch: 0,
            epoch: 0,
            entries: 0,
            sections: new_sections(nsections)?,
            log: CookieLog::new(log_len),
            replay: None,
            acks: 0,
            ops_applied: 0,
            dead: false,
        })
    }

    /// Every section of the channel, as a mask.
    pub(crate) fn all_sections(&self) -> u64 {
        if self.nsections >= 64 {
            u64::MAX
        } else {
            (1u64 << self.nsections) - 1
        }
    }

    /// A deleted channel takes no more changes.
    fn check_live(&self) -> HResult<()> {
        if self.dead {
            return Err(fail!(ENOENT, Noent, "the channel was deleted"));
        }
        Ok(())
    }

    /// The fencing rule shared by updates, replays and claims.
    pub(crate) fn check_epoch(&self, epoch: u32) -> HResult<()> {
        self.check_live()?;
        if epoch < self.epoch {
            return Err(fail!(
                crate::error::ESTALE(),
                Fenced,
                "epoch {} is fenced by owner epoch {}",
                epoch,
                self.epoch
            )
            .cookie_u32(self.epoch));
        }
        Ok(())
    }

    /// Applies an update atomically: the checks and allocations come
    /// first, then changes that cannot fail.  The names of the records it
    /// changed go to `changed` when the caller wants them (notifications).
    pub(crate) fn apply(
        &mut self,
        epoch: u32,
        opid: u64,
        cookie: u64,
        mut ops: Ops,
        max_entries: u32,
        changed: Option<&mut KVec<(u32, Name)>>,
    ) -> HResult<Applied> {
        let ops = ops.as_mut_slice();
        self.check_epoch(epoch)?;
        if opid <= self.register {
            // A retransmission: ACK it again, change nothing.
            let logged = if opid == self.register {
                Some(self.register_epoch)
            } else {
                self.log.epoch_of(opid)
            };
            return Ok(Applied {
                opid,
                cookie,
                epoch: logged,
                duplicate: true,
            });
        }
        if opid != self.register + 1 {
            return Err(fail!(
                crate::error::EPROTO(),
                Gap,
                "opid {} is not register + 1 (register {})",
                opid,
                self.register
            )
            .cookie_u64(self.register));
        }
        self.check_no_live_replay(epoch)?;
        // Whether each op's record exists when the op runs, with later ops
        // on a name seeing the earlier ones of the same update; a `set` of
        // an absent record needs a node, reserved here.
        let mut count = i64::from(self.entries);
        for i in 0..ops.len() {
            let (earlier, rest) = ops.split_at_mut(i);
            let op = &mut rest[0];
            let existed = match earlier.iter().rev().find(|o| o.name() == op.name()) {
                Some(o) => matches!(o, Op::Set { .. }),
                None => self.sections[op.section() as usize]
                    .tree
                    .get(op.name())
                    .is_some(),
            };
            match (op, existed) {
                (Op::Set { node, .. }, false) => {
                    count += 1;
                    *node = Some(RBTreeNodeReservation::new(GFP_KERNEL)?);
                }
                (Op::Del { .. }, true) => count -= 1,
                _ => {}
            }
        }
        if count > i64::from(max_entries) {
            return Err(fail!(
                ENOSPC,
                Limit,
                "channel would hold {} entries, more than max_entries {}",
                count,
                max_entries
            ));
        }
        let mut changed = changed;
        if let Some(c) = changed.as_deref_mut() {
            c.reserve(ops.len(), GFP_KERNEL)?;
        }
        self.log.reserve();

        // From here on nothing fails.
        self.drop_fenced_replay(epoch);
        self.epoch = epoch;
        let nops = ops.len() as u64;
        for op in ops.iter_mut() {
            let section = op.section();
            let s = &mut self.sections[section as usize];
            let name = match op {
                Op::Set {
                    name, rec, node, ..
                } => {
                    // Taken out of the op: an empty default allocates
                    // nothing.
                    let rec = core::mem::replace(rec, Iface::new_default());
                    match node.take() {
                        Some(node) => s.insert(node, *name, rec),
                        // Present (checked above): replaced in place; the
                        // old value is freed as it goes out of scope.
                        None => drop(s.replace(name, rec)),
                    }
                    *name
                }
                Op::Del { name, .. } => {
                    s.del(name);
                    *name
                }
            };
            if let Some(c) = changed.as_deref_mut() {
                // Capacity reserved above.
                let _ = c.push((section, name), GFP_KERNEL);
            }
        }
        // `count` was bounded by max_entries (a u32) above.
        self.entries = count as u32;
        self.set_register(opid, epoch, cookie);
        self.acks += 1;
        self.ops_applied += nops;
        Ok(Applied {
            opid,
            cookie,
            epoch: Some(epoch),
            duplicate: false,
        })
    }

    /// Moves the register to `opid`, written by `epoch`, touching `cookie`;
    /// the log has room (the caller reserved it).
    fn set_register(&mut self, opid: u64, epoch: u32, cookie: u64) {
        self.register = opid;
        self.register_epoch = epoch;
        self.log.push(Entry {
            opid,
            cookie,
            epoch,
        });
    }

    /// A replay opened under the same or a newer epoch blocks other writers
    /// until it is committed or aborted.
    fn check_no_live_replay(&self, epoch: u32) -> HResult<()> {
        match &self.replay {
            Some(st) if st.epoch >= epoch => Err(fail!(
                EBUSY,
                Busy,
                "a section replay by epoch {} is open on this channel",
                st.epoch
            )),
            _ => Ok(()),
        }
    }

    /// A replay opened under an older epoch can never commit: a newer owner
    /// writing (or claiming) discards it.
    pub(crate) fn drop_fenced_replay(&mut self, epoch: u32) {
        if matches!(&self.replay, Some(st) if st.epoch < epoch) {
            self.replay = None;
        }
    }

    /// Raises the owner epoch to `epoch` (a claim that passed its checks).
    pub(crate) fn claim(&mut self, epoch: u32) {
        self.drop_fenced_replay(epoch);
        self.epoch = self.epoch.max(epoch);
    }

    /// A replay installs the state as of its opid: never older than the
    /// register.
    fn check_replay_opid(&self, opid: u64) -> HResult<()> {
        if opid < self.register {
            return Err(fail!(
                crate::error::EPROTO(),
                Gap,
                "replay opid {} is below the register {}",
                opid,
                self.register
            )
            .cookie_u64(self.register));
        }
        Ok(())
    }

    /// Opens a replay of the sections in `mask` for `owner`.
    pub(crate) fn replay_begin(
        &mut self,
        owner: Owner,
        epoch: u32,
        opid: u64,
        mask: u64,
        ticket: ReplayTicket,
    ) -> HResult<()> {
        self.check_epoch(epoch)?;
        self.check_no_live_replay(epoch)?;
        self.check_replay_opid(opid)?;
        if mask == 0 || mask & !self.all_sections() != 0 {
            return Err(fail!(
                EINVAL,
                Invalid,
                "replay sections {:#x} empty or beyond the channel's {} sections",
                mask,
                self.nsections
            ));
        }
        let sections = new_sections(self.nsections)?;
        self.drop_fenced_replay(epoch);
        self.replay = Some(Staging {
            owner,
            _open: ticket,
            epoch,
            opid,
            mask,
            sections,
            count: 0,
        });
        Ok(())
    }

    /// The open replay, if `owner` opened it.
    pub(crate) fn staging_of(&mut self, owner: Owner) -> HResult<&mut Staging> {
        self.check_live()?;
        match &mut self.replay {
            Some(s) if s.owner == owner => Ok(s),
            Some(_) => Err(fail!(
                EBUSY,
                Busy,
                "the open replay belongs to another socket"
            )),
            None => Err(fail!(ENOENT, Noent, "no replay is open on this channel")),
        }
    }

    /// Stages records (already validated and allocated by the caller, each
    /// with its section) into `owner`'s replay; all or none.
    pub(crate) fn replay_stage(
        &mut self,
        owner: Owner,
        records: KVec<crate::parse::Record>,
        max_entries: u32,
    ) -> HResult<()> {
        // Records of the sections not being replaced stay; they count too.
        let mask = self.staging_of(owner)?.mask;
        let kept: u32 = self
            .sections
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1u64 << i) == 0)
            .map(|(_, s)| s.count)
            .sum();
        let st = self.staging_of(owner)?;
        for (i, r) in records.iter().enumerate() {
            if st.mask & (1u64 << r.section) == 0 {
                return Err(fail!(
                    EINVAL,
                    Invalid,
                    "iface hashes to section {}, outside the replay's sections {:#x}",
                    r.section,
                    st.mask
                )
                .at(r.offset));
            }
            let dup_staged = st.sections[r.section as usize].tree.get(&r.name).is_some();
            let dup_here = records[..i].iter().any(|o| o.name == r.name);
            if dup_staged || dup_here {
                return Err(fail!(EINVAL, Invalid, "iface staged twice in one replay").at(r.offset));
            }
        }
        let total = u64::from(kept) + u64::from(st.count) + records.len() as u64;
        if total > u64::from(max_entries) {
            return Err(fail!(
                ENOSPC,
                Limit,
                "replay would leave {} entries, more than max_entries {}",
                total,
                max_entries
            ));
        }
        for r in records {
            st.sections[r.section as usize].put(r.node, r.hash);
            st.count += 1;
        }
        Ok(())
    }

    /// Installs `owner`'s replay in one step.  Returns (opid, epoch, mask)
    /// and the replaced sections' old contents, which the caller frees after
    /// unlocking.
    pub(crate) fn replay_commit(
        &mut self,
        owner: Owner,
    ) -> HResult<(u64, u32, u64, KVec<Section>)> {
        let st = self.staging_of(owner)?;
        let (epoch, opid, mask) = (st.epoch, st.opid, st.mask);
        if let Err(e) = self
            .check_epoch(epoch)
            .and_then(|()| self.check_replay_opid(opid))
        {
            // Fenced, or overtaken while staging: it can never commit.
            self.replay = None;
            return Err(e);
        }
        if opid > self.register {
            self.log.reserve();
        }
        let Some(mut st) = self.replay.take() else {
            return Err(fail!(ENOENT, Noent, "no replay is open on this channel"));
        };
        let mut entries = 0u32;
        for (i, (cur, staged)) in self
            .sections
            .iter_mut()
            .zip(st.sections.iter_mut())
            .enumerate()
        {
            if mask & (1u64 << i) != 0 {
                core::mem::swap(cur, staged);
            }
            entries += cur.count;
        }
        self.entries = entries;
        self.epoch = epoch;
        // A replay at the register's own opid rewrites sections but moves
        // neither the register nor its epoch: those name the update the
        // log holds for that opid.
        if opid > self.register {
            self.set_register(opid, epoch, mask);
        }
        self.acks += 1;
        Ok((opid, epoch, mask, st.sections))
    }

    pub(crate) fn cookies(&self, after: u64) -> Cookies {
        self.log.since(after, self.register)
    }
}
