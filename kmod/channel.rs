// SPDX-License-Identifier: GPL-2.0

//! One replication channel: its table split into sections, the acked-opid
//! register, the owner epoch, the cookie log and an open section replay.
//!
//! Everything here runs under the channel's lock (see `state.rs`); the
//! methods either change the channel completely or not at all: allocations
//! happen before the first change, in the callers' parse step.

use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

use crate::cookie_log::{CookieLog, Cookies};
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

    /// Inserts or replaces; keeps the invariant.
    fn put(&mut self, node: RBTreeNode<Name, Iface>, hash: u64) {
        self.digest = self.digest.wrapping_add(hash);
        match self.tree.insert(node) {
            Some(old) => {
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
}

fn new_sections(n: u32) -> Result<KVec<Section>> {
    let mut v = KVec::with_capacity(n as usize, GFP_KERNEL)?;
    for _ in 0..n {
        v.push(Section::new(), GFP_KERNEL)?;
    }
    Ok(v)
}

/// One op of an update, fully allocated before the channel is locked.
pub(crate) enum Op {
    Set {
        section: u32,
        node: RBTreeNode<Name, Iface>,
        name: Name,
        hash: u64,
    },
    Del {
        section: u32,
        name: Name,
    },
}

impl Op {
    fn name(&self) -> &Name {
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

/// A section replay being staged by one socket.
pub(crate) struct Staging {
    /// The socket that opened it.
    pub(crate) owner: Owner,
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
    pub(crate) duplicate: bool,
}

/// The mutable part of a channel.
///
/// INVARIANT: `sections.len() == nsections`; `entries` is the sum of the
/// sections' counts; `register` only grows.
pub(crate) struct Channel {
    pub(crate) nsections: u32,
    pub(crate) register: u64,
    pub(crate) epoch: u32,
    pub(crate) entries: u32,
    pub(crate) sections: KVec<Section>,
    pub(crate) log: CookieLog,
    pub(crate) replay: Option<Staging>,
}

impl Channel {
    pub(crate) fn new(nsections: u32, log_len: u32) -> Result<Self> {
        Ok(Channel {
            nsections,
            register: 0,
            epoch: 0,
            entries: 0,
            sections: new_sections(nsections)?,
            log: CookieLog::new(log_len)?,
            replay: None,
        })
    }

    /// The fencing rule shared by updates and replays.
    fn check_epoch(&self, epoch: u32) -> HResult<()> {
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

    /// Applies an update atomically: the checks come first, then changes
    /// that cannot fail.
    pub(crate) fn apply(
        &mut self,
        epoch: u32,
        opid: u64,
        cookie: u64,
        ops: KVec<Op>,
        max_entries: u32,
        changed: &mut KVec<(u32, Name)>,
    ) -> HResult<Applied> {
        self.check_epoch(epoch)?;
        if opid <= self.register {
            // A retransmission: ACK it again, change nothing.
            return Ok(Applied {
                opid,
                cookie,
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
        // Net change in the record count, with later ops on a name seeing
        // the earlier ones of the same update.
        let mut count = i64::from(self.entries);
        for (i, op) in ops.iter().enumerate() {
            let earlier = ops[..i].iter().rev().find(|o| o.name() == op.name());
            let existed = match earlier {
                Some(o) => matches!(o, Op::Set { .. }),
                None => self.sections[op.section() as usize]
                    .tree
                    .get(op.name())
                    .is_some(),
            };
            match (op, existed) {
                (Op::Set { .. }, false) => count += 1,
                (Op::Del { .. }, true) => count -= 1,
                _ => {}
            }
        }
        if count > i64::from(max_entries) {
            return Err(fail!(
                ENOSPC,
                Limit,
                "channel would hold {} entries, limit {}",
                count,
                max_entries
            ));
        }
        changed.reserve(ops.len(), GFP_KERNEL)?;
        self.check_no_live_replay(epoch)?;

        // From here on nothing fails.
        self.drop_fenced_replay(epoch);
        self.epoch = epoch;
        for op in ops {
            let section = op.section();
            let name = *op.name();
            let s = &mut self.sections[section as usize];
            match op {
                Op::Set { node, hash, .. } => s.put(node, hash),
                Op::Del { name, .. } => s.del(&name),
            }
            // Capacity reserved above.
            let _ = changed.push((section, name), GFP_KERNEL);
        }
        // `count` was bounded by max_entries (a u32) above.
        self.entries = count as u32;
        self.register = opid;
        self.log.push(opid, cookie);
        Ok(Applied {
            opid,
            cookie,
            duplicate: false,
        })
    }

    /// A replay opened under the same or a newer epoch blocks other writers
    /// until it is committed or aborted.
    fn check_no_live_replay(&self, epoch: u32) -> HResult<()> {
        match &self.replay {
            Some(st) if st.epoch >= epoch => {
                Err(fail!(EBUSY, Busy, "a section replay is open on this channel"))
            }
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
    pub(crate) fn replay_begin(&mut self, owner: Owner, epoch: u32, opid: u64, mask: u64) -> HResult<()> {
        self.check_epoch(epoch)?;
        self.check_no_live_replay(epoch)?;
        self.check_replay_opid(opid)?;
        let all = if self.nsections == 64 {
            u64::MAX
        } else {
            (1u64 << self.nsections) - 1
        };
        if mask == 0 || mask & !all != 0 {
            return Err(fail!(
                EINVAL,
                Invalid,
                "sections mask {:#x} is empty or beyond the channel's {} sections",
                mask,
                self.nsections
            ));
        }
        let sections = new_sections(self.nsections)?;
        self.drop_fenced_replay(epoch);
        self.replay = Some(Staging {
            owner,
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
        match &mut self.replay {
            Some(s) if s.owner == owner => Ok(s),
            Some(_) => Err(fail!(EBUSY, Busy, "the open replay belongs to another socket")),
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
        for (i, (section, name, _, _, offset)) in records.iter().enumerate() {
            if st.mask & (1u64 << section) == 0 {
                return Err(fail!(
                    EINVAL,
                    Invalid,
                    "entry hashes to section {}, outside the replay's sections",
                    section
                )
                .at(*offset));
            }
            let dup_staged = st.sections[*section as usize].tree.get(name).is_some();
            let dup_here = records[..i].iter().any(|r| r.1 == *name);
            if dup_staged || dup_here {
                return Err(fail!(EINVAL, Invalid, "entry staged twice in one replay").at(*offset));
            }
        }
        let total = u64::from(kept) + u64::from(st.count) + records.len() as u64;
        if total > u64::from(max_entries) {
            return Err(fail!(
                ENOSPC,
                Limit,
                "replay would leave {} entries, limit {}",
                total,
                max_entries
            ));
        }
        for (section, _, node, hash, _) in records {
            st.sections[section as usize].put(node, hash);
            st.count += 1;
        }
        Ok(())
    }

    /// Installs `owner`'s replay in one step.  Returns (opid, mask) and the
    /// replaced sections' old contents, which the caller frees after
    /// unlocking.
    pub(crate) fn replay_commit(&mut self, owner: Owner) -> HResult<(u64, u64, KVec<Section>)> {
        let st = self.staging_of(owner)?;
        let (epoch, opid, mask) = (st.epoch, st.opid, st.mask);
        if let Err(e) = self.check_epoch(epoch) {
            // The replay's owner was fenced while staging: it can never commit.
            self.replay = None;
            return Err(e);
        }
        if let Err(e) = self.check_replay_opid(opid) {
            self.replay = None;
            return Err(e);
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
        if opid > self.register {
            self.register = opid;
            self.log.push(opid, mask);
        }
        Ok((opid, mask, st.sections))
    }

    pub(crate) fn cookies(&self, after: u64) -> Cookies {
        self.log.since(after, self.register)
    }
}
