//! The standby: pending queues, ordered apply after ACK, the receiving side
//! of bulk sync, and rebasing onto a new primary.
//!
//! Per channel the standby is in one of three explicit modes:
//!
//! * **Cold**: holds nothing trustworthy, ignores the stream, and has asked
//!   the primary for a bulk sync.
//! * **Syncing**: building a snapshot from checkpoint chunks while buffering
//!   every update after the snapshot's base.
//! * **Hot**: table + applied opid are exact; updates wait in the pending
//!   queue and are applied strictly in opid order once an ACK covers them.
//!
//! ACKs arrive forwarded by the primary, from the kernel's
//! multicast group, or both; they are cumulative and only
//! ever raise a watermark, so duplicates and reordering are harmless. An ACK
//! counts only if its epoch is the epoch of the stream we follow: after a
//! failover the same opid can name a different op.
//!
//! Memory is bounded: a channel's pending queue holds at most
//! `max_pending` updates. Normally the primary's in-flight window keeps it
//! far below that (the primary only sends more when we report `Have`), so
//! the bound is hit only when ACKs stop reaching us. Then the channel drops
//! to Cold and requests a bulk sync rather than growing without limit.

use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::{KernelCmd, KernelReply};
use crate::table::{IfName, IfRecord, Op, SectionCount, Table, TableError, MAX_ENTRIES};
use crate::wire::{Ack, Message, Rebase, Update};
use crate::{Action, ChannelId, Epoch, NodeId, Opid};

/// Standby tunables.
#[derive(Debug, Clone, Copy)]
pub struct StandbyConfig {
    /// Most updates held per channel before dropping to Cold.
    pub max_pending: usize,
}

impl Default for StandbyConfig {
    fn default() -> Self {
        StandbyConfig { max_pending: 1024 }
    }
}

/// Replication mode of one channel (see module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Not following; a bulk sync was requested.
    Cold,
    /// Receiving a snapshot (boxed: a snapshot table is large, the other
    /// modes are empty).
    Syncing(Box<SyncRx>),
    /// Following the stream exactly.
    Hot,
}

/// A checkpoint's content: the records of a section's key range
/// `(after, upto]`, the whole section when both are `None`.
struct Page {
    section: u32,
    after: Option<IfName>,
    upto: Option<IfName>,
    records: Vec<IfRecord>,
}

/// Receiving side of one bulk sync attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRx {
    /// Attempt id (from the primary).
    pub sync_id: u64,
    /// Stream position the snapshot started at.
    pub base: Opid,
    /// Snapshot being assembled.
    pub table: Table,
    /// Chunks received.
    pub seen: BTreeSet<u32>,
}

/// One channel's standby state.
#[derive(Debug, Clone)]
pub struct SChannel {
    /// Mode.
    pub mode: Mode,
    /// State as of `applied` (meaningful when Hot).
    pub table: Table,
    /// Every op `<= applied` is reflected in `table`.
    pub applied: Opid,
    /// Highest ACK seen for the followed epoch.
    pub acked: Opid,
    /// Updates received and not applied yet, by opid.
    pub pending: BTreeMap<Opid, Update>,
    /// Sections that may differ from the kernel until a ReplaceSection for
    /// them is applied (set by a rebase during a new primary's replay).
    pub dirty: u64,
    /// Last sync attempt completed (to re-ack duplicate declarations).
    pub last_sync: u64,
    /// `applied` at the previous tick: an update waiting through a whole
    /// tick with no progress has lost its ACK, or is still in the kernel.
    stall_mark: Opid,
    /// The receipt watermark last reported to the primary.
    have_sent: Opid,
}

impl SChannel {
    fn new(sc: SectionCount) -> Self {
        SChannel {
            mode: Mode::Cold,
            table: Table::new(sc),
            applied: 0,
            acked: 0,
            pending: BTreeMap::new(),
            dirty: 0,
            last_sync: 0,
            stall_mark: 0,
            have_sent: 0,
        }
    }

    /// An update is held, the next to apply is here, and nothing was
    /// applied since the last tick.
    fn stalled(&self) -> bool {
        self.mode == Mode::Hot
            && self.pending.contains_key(&(self.applied + 1))
            && self.applied == self.stall_mark
    }

    /// Highest opid `h` such that every update in `from+1..=h` is held.
    pub fn contiguous_from(&self, from: Opid) -> Opid {
        let mut h = from;
        for &k in self.pending.range(from + 1..).map(|(k, _)| k) {
            if k != h + 1 {
                break;
            }
            h = k;
        }
        h
    }

    /// The receipt watermark reported to the primary.
    fn have(&self) -> Opid {
        match &self.mode {
            Mode::Hot => self.contiguous_from(self.applied),
            Mode::Syncing(rx) => self.contiguous_from(rx.base),
            Mode::Cold => 0,
        }
    }
}

/// Counters, in the spirit of `conntrackd -s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandbyStats {
    /// Updates applied.
    pub applied: u64,
    /// Duplicate or stale updates dropped.
    pub dropped: u64,
    /// Times a pending queue hit its bound.
    pub overflows: u64,
    /// Bulk syncs completed.
    pub syncs: u64,
    /// Updates that did not apply to this copy when checked (see
    /// [`Standby::check_applies`]); each left its channel cold.
    pub failed_applies: u64,
}

/// An update that did not apply to a standby's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedApply {
    /// Channel.
    pub channel: ChannelId,
    /// The update's opid.
    pub opid: Opid,
    /// Why.
    pub error: TableError,
}

/// A standby control unit.
#[derive(Debug, Clone)]
pub struct Standby {
    /// This node.
    pub node: NodeId,
    /// Primary we follow.
    pub leader: NodeId,
    /// Epoch of the stream we follow.
    pub epoch: Epoch,
    /// Channels.
    pub channels: BTreeMap<ChannelId, SChannel>,
    /// Tunables.
    pub cfg: StandbyConfig,
    /// Counters.
    pub stats: StandbyStats,
    /// Check that every update applies to this copy before applying it:
    /// set while following a primary of an older release, whose updates
    /// reach the engine upgraded ([`crate::transform`]). One that does not
    /// apply leaves its channel cold, which asks for a bulk sync; it is
    /// kept in `failures` for the caller to report.
    pub check_applies: bool,
    /// Updates that failed the check, oldest first, until taken.
    pub failures: Vec<FailedApply>,
    /// Ticks so far: paces the periodic refreshes.
    ticks: u64,
}

/// Every channel's watermark (or, Cold, its sync request) is repeated once
/// per this many ticks, staggered by channel id, besides being sent on
/// every change: over a reliable connection the repeat only heals a peer
/// that dropped the first copy, and at 1 000 channels one per tick each
/// was 10 000 messages a second.
pub const REFRESH_TICKS: u64 = 10;

impl Standby {
    /// A new (or restarted) standby: every channel Cold. Returns the Hello
    /// that asks `leader` for a bulk sync.
    pub fn new(
        node: NodeId,
        leader: NodeId,
        epoch: Epoch,
        channels: &[(ChannelId, SectionCount)],
        cfg: StandbyConfig,
    ) -> (Self, Vec<Action>) {
        let channels = channels
            .iter()
            .map(|&(id, sc)| (id, SChannel::new(sc)))
            .collect();
        let s = Standby {
            node,
            leader,
            epoch,
            channels,
            cfg,
            stats: StandbyStats::default(),
            check_applies: false,
            failures: Vec::new(),
            ticks: 0,
        };
        let hello = vec![Action::Send {
            to: leader,
            msg: Message::Hello { node },
        }];
        (s, hello)
    }

    /// True when every channel is Hot.
    pub fn is_hot(&self) -> bool {
        self.channels.values().all(|c| c.mode == Mode::Hot)
    }

    /// Number of Hot channels (election rank).
    pub fn hot_channels(&self) -> usize {
        self.channels
            .values()
            .filter(|c| c.mode == Mode::Hot)
            .count()
    }

    /// This standby's state for an election (see [`crate::election`]).
    pub fn candidacy(&self) -> crate::election::Candidacy {
        use crate::election::{ChannelMode, ChannelState};
        crate::election::Candidacy {
            node: self.node,
            epoch: self.epoch,
            channels: self
                .channels
                .iter()
                .map(|(&channel, c)| ChannelState {
                    channel,
                    mode: match c.mode {
                        Mode::Cold => ChannelMode::Cold,
                        Mode::Syncing(_) => ChannelMode::Syncing,
                        Mode::Hot => ChannelMode::Hot,
                    },
                    applied: c.applied,
                    have: c.have().max(c.applied),
                })
                .collect(),
        }
    }

    /// Handle a message from the primary.
    pub fn handle(&mut self, msg: Message) -> Vec<Action> {
        let mut out = Vec::new();
        match msg {
            Message::Update(u) => self.on_update(u, &mut out),
            Message::Ack(a) => self.on_ack(a, &mut out),
            Message::Checkpoint {
                channel,
                sync_id,
                seq,
                base,
                section,
                records,
                ..
            } => {
                let page = Page {
                    section,
                    after: None,
                    upto: None,
                    records,
                };
                self.on_checkpoint(channel, sync_id, seq, base, page, &mut out)
            }
            Message::CheckpointPart {
                channel,
                sync_id,
                seq,
                base,
                section,
                after,
                upto,
                records,
                ..
            } => {
                let page = Page {
                    section,
                    after,
                    upto,
                    records,
                };
                self.on_checkpoint(channel, sync_id, seq, base, page, &mut out)
            }
            Message::SyncDeclaration {
                channel,
                sync_id,
                base,
                opid,
                chunks,
            } => self.on_declaration(channel, sync_id, base, opid, chunks, &mut out),
            Message::NewPrimary {
                node,
                epoch,
                prev_epoch,
                channels,
            } => self.on_new_primary(node, epoch, prev_epoch, &channels, &mut out),
            Message::Digests {
                channel,
                opid,
                digests,
            } => self.on_digests(channel, opid, &digests, &mut out),
            // Messages a standby does not expect are ignored, not fatal: a
            // peer on a newer version may send more than we know.
            _ => {}
        }
        out
    }

    /// An ACK read from the kernel's multicast group.
    pub fn on_kernel_ack(&mut self, a: Ack) -> Vec<Action> {
        let mut out = Vec::new();
        self.on_ack(a, &mut out);
        out
    }

    /// A register read: a register whose op is of the stream we follow
    /// ACKs every update of ours up to it. Register reads replace ACKs
    /// lost on the way (a multicast group drops under load, a restarted
    /// daemon missed them), so no update waits forever for a lost ACK.
    pub fn on_kernel(&mut self, reply: KernelReply) -> Vec<Action> {
        let mut out = Vec::new();
        if let KernelReply::Registers(reads) = reply {
            for r in reads {
                if r.register_epoch == self.epoch && r.owner == self.epoch && self.epoch != 0 {
                    self.on_ack(
                        Ack {
                            channel: r.channel,
                            epoch: self.epoch,
                            opid: r.register,
                            cookie: 0,
                        },
                        &mut out,
                    );
                }
            }
        }
        out
    }

    /// Read the kernel's registers now (the daemon's ACK group overran).
    pub fn read_registers(&self) -> Action {
        Action::Kernel(KernelCmd::Registers)
    }

    /// Periodic: report receipt watermarks not reported yet, repeat each
    /// channel's watermark or sync request every [`REFRESH_TICKS`] (heals
    /// a lost `Have` or request), and read the registers when a channel
    /// holds its next update and applied nothing since the previous tick
    /// (its ACK may be lost).
    pub fn on_tick(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.channels.values().any(SChannel::stalled) {
            out.push(self.read_registers());
        }
        for c in self.channels.values_mut() {
            c.stall_mark = c.applied;
        }
        self.ticks += 1;
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            let Some(c) = self.channels.get(&id) else {
                continue;
            };
            let refresh = (self.ticks + u64::from(id)) % REFRESH_TICKS == 0;
            if c.mode == Mode::Cold {
                if refresh {
                    out.push(self.send(Message::SyncRequest { channel: id }));
                }
            } else if refresh {
                self.have(id, &mut out);
            } else {
                self.have_if_moved(id, &mut out);
            }
        }
        out
    }

    fn send(&self, msg: Message) -> Action {
        Action::Send {
            to: self.leader,
            msg,
        }
    }

    fn have(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        let (leader, epoch) = (self.leader, self.epoch);
        if let Some(c) = self.channels.get_mut(&channel) {
            if c.mode != Mode::Cold {
                c.have_sent = c.have();
                out.push(Action::Send {
                    to: leader,
                    msg: Message::Have {
                        channel,
                        epoch,
                        opid: c.have_sent,
                    },
                });
            }
        }
    }

    /// Report the watermark only when it moved: an update past a gap, or
    /// an ACK of updates already reported, tells the primary nothing (the
    /// tick repeats the watermark anyway).
    fn have_if_moved(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        if self
            .channels
            .get(&channel)
            .is_some_and(|c| c.mode != Mode::Cold && c.have() != c.have_sent)
        {
            self.have(channel, out);
        }
    }

    fn go_cold(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        if let Some(c) = self.channels.get_mut(&channel) {
            c.mode = Mode::Cold;
            c.pending.clear();
            c.dirty = 0;
            out.push(self.send(Message::SyncRequest { channel }));
        }
    }

    fn on_update(&mut self, u: Update, out: &mut Vec<Action>) {
        // Only the stream of the epoch we follow: older is stale, newer
        // means a failover we have not been told about yet (the new primary
        // retransmits once we have its NewPrimary).
        if u.epoch != self.epoch {
            self.stats.dropped += 1;
            return;
        }
        let channel = u.channel;
        let max = self.cfg.max_pending;
        let Some(c) = self.channels.get_mut(&channel) else {
            return;
        };
        let floor = match &c.mode {
            // Not synced yet: keep what fits for the sync to come (the
            // first chunk names its base and keeps what is after it), so
            // the primary, which confirms only what this unit holds, need
            // not resend it; a queue already full drops it.
            Mode::Cold => {
                if c.pending.len() < max && !c.pending.contains_key(&u.opid) {
                    c.pending.insert(u.opid, u);
                } else {
                    self.stats.dropped += 1;
                }
                return;
            }
            Mode::Syncing(rx) => rx.base,
            Mode::Hot => c.applied,
        };
        if u.opid <= floor || c.pending.contains_key(&u.opid) {
            self.stats.dropped += 1;
            self.have(channel, out);
            return;
        }
        c.pending.insert(u.opid, u);
        if c.pending.len() > max {
            self.stats.overflows += 1;
            self.go_cold(channel, out);
            return;
        }
        self.try_apply(channel, out);
        self.have_if_moved(channel, out);
    }

    fn on_ack(&mut self, a: Ack, out: &mut Vec<Action>) {
        if a.epoch != self.epoch {
            return;
        }
        if let Some(c) = self.channels.get_mut(&a.channel) {
            if a.opid > c.acked {
                c.acked = a.opid;
                self.try_apply(a.channel, out);
                self.have_if_moved(a.channel, out);
            }
        }
    }

    /// Apply pending updates strictly in opid order while ACKs cover them.
    fn try_apply(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        let Some(c) = self.channels.get_mut(&channel) else {
            return;
        };
        if c.mode != Mode::Hot {
            return;
        }
        while c.applied < c.acked {
            let Some(u) = c.pending.remove(&(c.applied + 1)) else {
                break;
            };
            if self.check_applies {
                // Hot, this copy is the primary's at `applied`: an update
                // of its stream applies unless a transform broke it.
                if let Err(error) = c.table.check_within(&u.ops, MAX_ENTRIES) {
                    self.stats.failed_applies += 1;
                    self.failures.push(FailedApply {
                        channel,
                        opid: u.opid,
                        error,
                    });
                    self.go_cold(channel, out);
                    return;
                }
            }
            c.table.apply_trusted(&u.ops);
            for op in &u.ops {
                if let Op::ReplaceSection { section, .. } = op {
                    c.dirty &= !(1u64 << section);
                }
            }
            c.applied = u.opid;
            self.stats.applied += 1;
        }
    }

    fn on_checkpoint(
        &mut self,
        channel: ChannelId,
        sync_id: u64,
        seq: u32,
        base: Opid,
        page: Page,
        out: &mut Vec<Action>,
    ) {
        // Sync ids carry the sender's epoch in their high half: a chunk from
        // a primary we no longer follow must not start a sync.
        if sync_id >> 32 != self.epoch {
            return;
        }
        let Some(c) = self.channels.get_mut(&channel) else {
            return;
        };
        // The wire checked order and range; the section needs our count. A
        // page that does not belong is not acked, so the sync cannot end.
        let sc = c.table.section_count();
        if page.section >= sc.get()
            || page
                .records
                .iter()
                .any(|r| sc.section_of(&r.name) != page.section)
        {
            return;
        }
        match &mut c.mode {
            Mode::Syncing(rx) if rx.sync_id == sync_id => {}
            Mode::Syncing(rx) if rx.sync_id > sync_id => return,
            // A chunk of a sync we finished, or older: stale duplicate.
            _ if sync_id <= c.last_sync => return,
            // Hot: we never asked for this sync (a stale request from when we
            // were Cold started it). Installing it would rewind `applied`
            // below updates we already applied and released, so only ack it
            // to let the primary finish the attempt.
            Mode::Hot => {}
            _ => {
                c.pending.retain(|&k, _| k > base);
                c.mode = Mode::Syncing(Box::new(SyncRx {
                    sync_id,
                    base,
                    table: Table::new(c.table.section_count()),
                    seen: BTreeSet::new(),
                }));
            }
        }
        if let Mode::Syncing(rx) = &mut c.mode {
            // Chunk content may be from any opid >= base: the redo of every
            // update after base at the declaration converges (ops are
            // idempotent), so chunk order and duplicates do not matter.
            rx.table.replace_range(
                page.section,
                page.after.as_ref(),
                page.upto.as_ref(),
                &page.records,
            );
            rx.seen.insert(seq);
        }
        out.push(self.send(Message::CheckpointAck {
            channel,
            sync_id,
            seq,
        }));
    }

    fn on_declaration(
        &mut self,
        channel: ChannelId,
        sync_id: u64,
        base: Opid,
        opid: Opid,
        chunks: u32,
        out: &mut Vec<Action>,
    ) {
        if sync_id >> 32 != self.epoch {
            return;
        }
        let Some(c) = self.channels.get_mut(&channel) else {
            return;
        };
        let ready = match &c.mode {
            Mode::Syncing(rx) => {
                rx.sync_id == sync_id
                    && rx.base == base
                    && (0..chunks).all(|s| rx.seen.contains(&s))
            }
            // Hot: an attempt we ignored (see on_checkpoint); just ack it.
            Mode::Hot => true,
            Mode::Cold => false,
        };
        if !ready {
            return;
        }
        if let Mode::Syncing(rx) = std::mem::replace(&mut c.mode, Mode::Hot) {
            c.table = rx.table;
            c.applied = base;
            c.pending.retain(|&k, _| k > base);
            // The primary declares only once the kernel acked `opid`.
            c.acked = c.acked.max(opid);
            c.last_sync = sync_id;
            c.dirty = 0;
            self.stats.syncs += 1;
            self.try_apply(channel, out);
        }
        // seq == chunks acknowledges the declaration itself.
        out.push(self.send(Message::CheckpointAck {
            channel,
            sync_id,
            seq: chunks,
        }));
        self.have(channel, out);
    }

    fn on_new_primary(
        &mut self,
        node: NodeId,
        epoch: Epoch,
        prev_epoch: Epoch,
        rebases: &[Rebase],
        out: &mut Vec<Action>,
    ) {
        if epoch <= self.epoch {
            return;
        }
        let same_stream = prev_epoch == self.epoch;
        self.leader = node;
        self.epoch = epoch;
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            let rb = rebases.iter().find(|r| r.channel == id);
            let ok = match (self.channels.get_mut(&id), rb) {
                (Some(c), Some(rb)) if same_stream && c.mode == Mode::Hot => rebase(c, rb),
                _ => false,
            };
            if ok {
                self.have(id, out);
            } else {
                self.go_cold(id, out);
            }
        }
    }

    fn on_digests(
        &mut self,
        channel: ChannelId,
        opid: Opid,
        digests: &[u64],
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        // Compare only at the same stream position; otherwise the answer
        // would flag sections that are merely behind.
        if c.mode != Mode::Hot || c.applied != opid {
            return;
        }
        let mismatch = crate::audit::mismatched(&c.table.digests(), digests);
        out.push(self.send(Message::DigestReport {
            channel,
            opid,
            mismatch,
        }));
    }
}

/// Rebase a Hot channel onto a new primary's stream. False when we lack
/// updates the new primary has (then the caller bulk syncs the channel).
fn rebase(c: &mut SChannel, rb: &Rebase) -> bool {
    let have = c.contiguous_from(c.applied);
    if have < rb.base || c.applied > rb.register {
        return false;
    }
    // Up to the base, the new primary's state and ours are the same
    // stream. Past it, the kernel may hold ops of an epoch we never saw
    // (ours at those opids never reached it): never apply our own there;
    // every section an op in (base, register] touched is in `dirty`.
    let upto = rb.base;
    while c.applied < upto {
        let Some(u) = c.pending.remove(&(c.applied + 1)) else {
            break;
        };
        c.table.apply_trusted(&u.ops);
        c.applied = u.opid;
    }
    // Ops in (upto, register] are unknown here; the sections they touched
    // are in `dirty` and the new primary is replaying exactly those.
    c.applied = rb.register;
    c.acked = rb.register;
    c.pending.clear();
    c.dirty |= rb.dirty;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::IfName;

    const CH: ChannelId = 3;

    fn hot_standby(max_pending: usize) -> Standby {
        let (mut s, _) = Standby::new(
            1,
            0,
            1,
            &[(CH, SectionCount::ONE)],
            StandbyConfig { max_pending },
        );
        for c in s.channels.values_mut() {
            c.mode = Mode::Hot;
        }
        s
    }

    fn upd(opid: Opid) -> Message {
        let mut r = IfRecord::new(IfName::new(format!("if{opid}").as_bytes()).expect("name"));
        r.description = vec![b'x'; opid as usize % 5];
        Message::Update(Update {
            channel: CH,
            epoch: 1,
            opid,
            cookie: 1,
            ops: vec![Op::Set(r)],
        })
    }

    fn ack(opid: Opid) -> Ack {
        Ack {
            channel: CH,
            epoch: 1,
            opid,
            cookie: 1,
        }
    }

    fn applied(s: &Standby) -> Opid {
        s.channels[&CH].applied
    }

    /// Reference: the table after applying updates 1..=n in order.
    fn reference(n: Opid) -> Table {
        let mut t = Table::new(SectionCount::ONE);
        for o in 1..=n {
            if let Message::Update(u) = upd(o) {
                t.apply_trusted(&u.ops);
            }
        }
        t
    }

    fn registers(register: Opid, register_epoch: Epoch, owner: Epoch) -> KernelReply {
        KernelReply::Registers(vec![crate::kernel::RegisterRead {
            channel: CH,
            register,
            register_epoch,
            owner,
        }])
    }

    #[test]
    fn a_lost_ack_is_replaced_by_a_register_read_after_a_stalled_tick() {
        let mut s = hot_standby(64);
        let asks = |acts: &[Action]| {
            acts.iter()
                .filter(|a| matches!(a, Action::Kernel(KernelCmd::Registers)))
                .count()
        };
        s.handle(upd(1));
        s.handle(upd(2));
        s.handle(Message::Ack(ack(1)));
        // The ACK of 2 is lost. The first tick sees progress (1 applied)
        // and only marks; the second, with none since, reads the registers.
        assert_eq!(asks(&s.on_tick()), 0, "1 was applied since the start");
        s.handle(upd(3));
        assert_eq!(asks(&s.on_tick()), 1, "no progress for a tick");
        // Registers of another stream, or owned by a newer epoch, ACK nothing.
        s.on_kernel(registers(2, 7, 7));
        s.on_kernel(registers(2, 1, 7));
        assert_eq!(applied(&s), 1);
        s.on_kernel(registers(2, 1, 1));
        assert_eq!(applied(&s), 2, "the register is the cumulative ACK");
        assert_eq!(asks(&s.on_tick()), 0, "progress since the last tick");
        s.handle(Message::Ack(ack(3)));
        assert_eq!(asks(&s.on_tick()), 0, "nothing waits");
    }

    #[test]
    fn an_update_that_does_not_apply_is_reported_and_leaves_its_channel_cold() {
        let bad = || {
            let mut record = IfRecord::new(IfName::new(b"if9").expect("name"));
            // An MTU no table takes, as a broken transform could leave it.
            record.mtu = 10;
            Message::Update(Update {
                channel: CH,
                epoch: 1,
                opid: 2,
                cookie: 1,
                ops: vec![Op::Set(record)],
            })
        };
        // Unchecked (same release): applied as the primary validated it.
        let mut s = hot_standby(64);
        s.handle(upd(1));
        s.handle(bad());
        s.handle(Message::Ack(ack(2)));
        assert_eq!((applied(&s), s.stats.failed_applies), (2, 0));
        assert!(s.failures.is_empty());
        // Checked (an older primary's upgraded stream): refused, reported,
        // the channel cold and a bulk sync asked for.
        let mut s = hot_standby(64);
        s.check_applies = true;
        s.handle(upd(1));
        s.handle(bad());
        let acts = s.handle(Message::Ack(ack(2)));
        assert_eq!((applied(&s), s.stats.failed_applies), (1, 1));
        assert_eq!(s.channels[&CH].mode, Mode::Cold);
        assert_eq!(s.channels[&CH].table, reference(1));
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::Send {
                msg: Message::SyncRequest { channel: CH },
                ..
            }
        )));
        assert_eq!(
            s.failures,
            vec![FailedApply {
                channel: CH,
                opid: 2,
                error: TableError::BadMtu(10)
            }]
        );
    }

    #[test]
    fn nothing_applied_before_its_ack_and_acks_are_cumulative() {
        let mut s = hot_standby(64);
        for o in 1..=5 {
            s.handle(upd(o));
        }
        assert_eq!(applied(&s), 0, "held, not applied, without an ACK");
        // One ACK for opid 3 covers 1, 2, 3.
        s.handle(Message::Ack(ack(3)));
        assert_eq!(applied(&s), 3);
        assert_eq!(s.channels[&CH].pending.len(), 2);
        assert_eq!(s.channels[&CH].table, reference(3));
        // A lower ACK afterwards changes nothing.
        s.on_kernel_ack(ack(2));
        assert_eq!(applied(&s), 3);
        s.on_kernel_ack(ack(5));
        assert_eq!((applied(&s), s.stats.applied), (5, 5));
        assert_eq!(s.channels[&CH].table, reference(5));
    }

    #[test]
    fn apply_strictly_in_opid_order_across_gaps() {
        let mut s = hot_standby(64);
        s.handle(upd(2));
        s.handle(upd(3));
        // The ACK covers 1..=3 but 1 is missing: nothing may be applied.
        s.handle(Message::Ack(ack(3)));
        assert_eq!(applied(&s), 0);
        // The Have tells the primary we hold nothing contiguous yet.
        let out = s.handle(upd(1));
        assert_eq!(applied(&s), 3);
        assert_eq!(s.channels[&CH].table, reference(3));
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Send {
                msg: Message::Have { opid: 3, .. },
                ..
            }
        )));
    }

    /// Every delivery order of the same updates and of the same ACKs sent
    /// forwarded, direct, or both (each possibly twice) ends in the same
    /// state as applying the stream once in order.
    #[test]
    fn duplicates_harmless_forwarded_direct_or_both() {
        #[derive(Clone, Copy, Debug)]
        enum Path {
            Forwarded,
            Direct,
            Both,
        }
        for path in [Path::Forwarded, Path::Direct, Path::Both] {
            for rot in 0..6 {
                let mut s = hot_standby(64);
                let mut evs: Vec<(bool, Opid)> = Vec::new();
                for o in 1..=4 {
                    evs.push((true, o));
                    evs.push((true, o)); // retransmitted update
                    evs.push((false, o));
                }
                evs.rotate_left(rot * 2);
                for (is_update, o) in evs {
                    if is_update {
                        s.handle(upd(o));
                        continue;
                    }
                    match path {
                        Path::Forwarded => {
                            s.handle(Message::Ack(ack(o)));
                            s.handle(Message::Ack(ack(o)));
                        }
                        Path::Direct => {
                            s.on_kernel_ack(ack(o));
                            s.on_kernel_ack(ack(o));
                        }
                        Path::Both => {
                            s.handle(Message::Ack(ack(o)));
                            s.on_kernel_ack(ack(o));
                        }
                    }
                }
                assert_eq!(applied(&s), 4, "{path:?} rot {rot}");
                assert_eq!(s.stats.applied, 4, "{path:?} rot {rot}: applied once each");
                assert_eq!(s.channels[&CH].table, reference(4), "{path:?} rot {rot}");
                assert!(s.channels[&CH].pending.is_empty());
                // Late duplicates after the apply are dropped.
                s.handle(upd(2));
                s.on_kernel_ack(ack(2));
                assert_eq!((applied(&s), s.stats.applied), (4, 4));
            }
        }
    }

    #[test]
    fn acks_and_updates_of_another_epoch_are_ignored() {
        let mut s = hot_standby(64);
        s.handle(upd(1));
        s.on_kernel_ack(Ack { epoch: 2, ..ack(1) });
        assert_eq!(applied(&s), 0, "an ACK of another stream names another op");
        if let Message::Update(mut u) = upd(2) {
            u.epoch = 0;
            s.handle(Message::Update(u));
        }
        assert_eq!(s.channels[&CH].pending.len(), 1);
    }

    #[test]
    fn pending_queue_is_bounded_and_overflow_goes_cold() {
        let mut s = hot_standby(4);
        // ACKs stop reaching us; opid 1 is lost so nothing can be applied.
        for o in 2..=5 {
            s.handle(upd(o));
        }
        assert_eq!(s.channels[&CH].mode, Mode::Hot);
        assert_eq!(s.channels[&CH].pending.len(), 4);
        let out = s.handle(upd(6));
        let c = &s.channels[&CH];
        assert_eq!(c.mode, Mode::Cold, "over the bound: drop to Cold");
        assert!(c.pending.is_empty(), "memory released");
        assert_eq!(s.stats.overflows, 1);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Send {
                to: 0,
                msg: Message::SyncRequest { channel: CH }
            }
        )));
        // Cold: the stream is kept for the sync to come up to the bound,
        // the rest dropped; memory stays flat.
        for o in 7..100 {
            s.handle(upd(o));
        }
        assert_eq!(s.channels[&CH].pending.len(), 4);
        assert_eq!(
            s.channels[&CH].pending.keys().copied().collect::<Vec<_>>(),
            vec![7, 8, 9, 10]
        );
        // And Cold channels keep asking, once per refresh period (lost
        // requests heal without a request per channel per tick).
        let asked = (0..2 * REFRESH_TICKS)
            .map(|_| {
                s.on_tick()
                    .iter()
                    .filter(|a| {
                        matches!(
                            a,
                            Action::Send {
                                msg: Message::SyncRequest { channel: CH },
                                ..
                            }
                        )
                    })
                    .count()
            })
            .sum::<usize>();
        assert_eq!(asked, 2);
    }
}
