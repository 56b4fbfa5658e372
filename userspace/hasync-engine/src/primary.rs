//! The primary: opid assignment, cookies, pipelined sends with a bounded
//! window, ACK bookkeeping, confirmations, ACK forwarding, bulk sync and
//! audit repair.
//!
//! Pipelining: an update is sent to
//! the kernel and to every standby at once and the next one follows without
//! waiting, up to `window` unreleased updates per channel. An update is
//! *released*, and its requester confirmed, when the kernel has ACKed it and
//! every attached standby reported holding it (`Have`). Waiting for the
//! standbys' receipt, not their apply, costs one link latency per window,
//! and is what makes "every confirmed change survives the primary's death"
//! true even when the replication link drops messages: any standby that
//! could take over already holds every confirmed update.
//!
//! Backpressure: beyond the window, requests queue in a bounded backlog;
//! beyond that, [`SubmitError::Busy`]. A slow standby slows the primary down
//! through the same window (its `Have` gates release).
//!
//! Retransmission is driven by [`Primary::on_tick`]: unacked updates go to
//! the kernel again (it re-ACKs duplicates) and to any standby whose `Have`
//! lags; the last ACK is re-forwarded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::backoff::Backoff;
use crate::bulk_sync::BulkSend;
use crate::kernel::{KernelCmd, KernelError, KernelReply};
use crate::table::{cookie_of, weight_of, IfName, Op, SectionCount, Table, TableError, MAX_OPS};
use crate::wire::{Ack, Message, Update};
use crate::{Action, ChannelId, Epoch, NodeId, Opid, RecordChange, RequestId, SubmitError};

/// Primary tunables.
#[derive(Debug, Clone, Copy)]
pub struct PrimaryConfig {
    /// Most unreleased updates per channel.
    pub window: usize,
    /// Most queued requests per channel beyond the window.
    pub backlog: usize,
    /// Bulk sync credit window per standby: bytes of checkpoint chunks
    /// sent and not yet acknowledged, across all its channels' syncs.
    pub sync_window: usize,
    /// Most record bytes in one checkpoint chunk.
    pub chunk_bytes: usize,
    /// Most records per channel (the module's `max_entries` or less).
    pub max_entries: usize,
}

impl Default for PrimaryConfig {
    fn default() -> Self {
        PrimaryConfig {
            window: 64,
            backlog: 1024,
            sync_window: 1 << 20,
            chunk_bytes: crate::bulk_sync::CHUNK_BYTES,
            max_entries: crate::table::DEFAULT_MAX_ENTRIES,
        }
    }
}

/// An assigned update not yet released.
#[derive(Debug, Clone)]
pub struct Flight {
    /// The update as sent.
    pub update: Update,
    /// Who to confirm: the requests whose changes it carries (none for
    /// internal updates: replays, repairs).
    pub requests: Vec<RequestId>,
}

/// Queued requests whose room a channel keeps once its queue is empty.
const BACKLOG_KEEP: usize = 16;

/// What a request asks for, turned into ops when it is assigned an opid:
/// a partial record change is applied onto the record as every request
/// before it left it, not as it was when this one arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Ops as given.
    Ops(Vec<Op>),
    /// Set the fields a change names, keeping the record's others.
    Record(RecordChange),
    /// Give a record a new name, keeping its fields.
    Rename {
        /// The record's name.
        from: IfName,
        /// Its new name.
        to: IfName,
    },
}

impl Change {
    /// Ops this change becomes.
    fn op_count(&self) -> usize {
        match self {
            Change::Ops(ops) => weight_of(ops),
            Change::Record(_) => 1,
            Change::Rename { .. } => 2,
        }
    }

    /// The ops, resolved against `table` and applied to it (all or none).
    fn apply(self, table: &mut Table, max_entries: usize) -> Result<Vec<Op>, TableError> {
        match self {
            Change::Ops(ops) => {
                table.apply_within(&ops, max_entries)?;
                Ok(ops)
            }
            Change::Record(change) => Ok(vec![Op::Set(table.set_change(&change, max_entries)?)]),
            Change::Rename { from, to } => {
                let mut record = table.get(&from).ok_or(TableError::NoRecord)?.clone();
                if table.get(&to).is_some() {
                    return Err(TableError::Exists);
                }
                record.name = to;
                let ops = vec![Op::Rename { from, record }];
                table.apply_within(&ops, max_entries)?;
                Ok(ops)
            }
        }
    }
}

/// One channel on the primary.
#[derive(Debug, Clone)]
pub struct PChannel {
    /// Desired state, including assigned-but-unacked updates.
    pub table: Table,
    /// Last assigned opid.
    pub last: Opid,
    /// Highest kernel ACK.
    pub kacked: Opid,
    /// Last kernel ACK as received (re-forwarded on ticks).
    pub last_ack: Option<Ack>,
    /// Unreleased updates, oldest first.
    pub flight: VecDeque<Flight>,
    /// Requests waiting for an opid (window space, or the end of the
    /// batch they arrived in).
    pub backlog: VecDeque<(Option<RequestId>, Change)>,
    /// Highest opid already resent after an out-of-order reject: damps
    /// resend storms when many pipelined updates hit the same gap.
    resent_upto: Opid,
    /// Pacing of kernel resends (progress: `kacked`).
    kernel_stall: Backoff,
    /// A kernel ACK arrived since the previous tick: the tick forwards it
    /// once more, in case the first copy was dropped.
    ack_fresh: bool,
}

impl PChannel {
    /// Channel state at `register` with `table` (fresh or after takeover).
    pub fn new(table: Table, register: Opid) -> Self {
        PChannel {
            table,
            last: register,
            kacked: register,
            last_ack: None,
            flight: VecDeque::new(),
            backlog: VecDeque::new(),
            resent_upto: register,
            kernel_stall: Backoff::new(register),
            ack_fresh: false,
        }
    }
}

/// A standby as seen by the primary.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// Per channel receipt watermark.
    pub have: BTreeMap<ChannelId, Opid>,
    /// Bulk syncs in progress or done.
    pub syncs: BTreeMap<ChannelId, BulkSend>,
    /// Syncs whose cursor has sections left to send, fed in channel order
    /// as the credit window allows.
    reading: BTreeSet<ChannelId>,
    /// Window cost of this peer's chunks in flight (sum over `syncs`).
    bulk_in_flight: usize,
    /// An election's follower that answered our takeover announcement:
    /// the channels it did not ask to sync it kept across the rebase.
    pub rebased: bool,
    /// Per channel: pacing of update resends to this peer (progress:
    /// `have`).
    stall: BTreeMap<ChannelId, Backoff>,
    /// The bulk window now (bytes; see [`Peer::pace`]); 0 before the
    /// first sync.
    window: usize,
    /// Chunk bytes this peer acknowledged in this tick and the previous.
    acked_bytes: (usize, usize),
    /// An acknowledgement moved something (a higher Have, a new chunk
    /// ack) since the previous tick.
    moved: bool,
    /// Ticks in a row without progress.
    quiet: u32,
    /// Ticks seen (the clock of chunk round trips).
    ticks: u64,
    /// Channels this peer cannot hold (its release lacks something they
    /// need; see [`Primary::leave_cold`]): never synced, never waited for,
    /// sent nothing. A new attachment (its `Hello`) starts without.
    cold: BTreeSet<ChannelId>,
    /// Shortest chunk round trip (ticks) in this period of `RTT_PERIOD`
    /// ticks and in the previous one, when one was measured.
    rtt_min: (Option<u64>, Option<u64>),
}

/// Ticks over which the shortest round trip is remembered: long enough to
/// see one unqueued chunk, short enough to follow a changed path.
const RTT_PERIOD: u64 = 32;

/// Ticks without any progress from a peer before anything is resent to it
/// (see [`Peer::pace`]).
const QUIET_TICKS: u32 = 3;

/// How many ticks of this peer's measured drain rate the bulk window may
/// hold beyond a round trip: about what a live update queued behind bulk
/// chunks waits.
const PACE_TICKS: usize = 2;

/// The bulk window a peer starts from, grown as its acknowledgements show
/// the link takes more (less, on a slow link, than the configured most).
pub const START_WINDOW: usize = 256 << 10;

impl Peer {
    /// Channels this peer holds exactly (synced, not mid-sync).
    pub fn hot(&self, channel: ChannelId) -> bool {
        self.counts(channel) && self.syncs.get(&channel).map_or(true, |s| s.done)
    }

    /// Whether confirmations on `channel` wait for this peer's copy.
    fn counts(&self, channel: ChannelId) -> bool {
        !self.cold.contains(&channel)
    }

    /// Start (or restart) a sync; the window forgets the old attempt's
    /// chunks, which the standby drops.
    fn add_sync(&mut self, s: BulkSend) {
        let channel = s.channel;
        if let Some(old) = self.syncs.insert(channel, s) {
            self.bulk_in_flight -= old.in_flight();
        }
        self.reading.insert(channel);
    }

    /// Bulk pacing, once a tick. The window follows what the peer
    /// acknowledged in the last two ticks (its drain rate) times the
    /// shortest recent chunk round trip plus `PACE_TICKS`: the round trip
    /// keeps the link busy, the `PACE_TICKS` bound the bulk bytes queued
    /// ahead of a live update, whatever the link's speed (a fixed window
    /// of a megabyte is a millisecond on a LAN and seconds on a slow
    /// link). The shortest round trip, not the last, because a queue
    /// lengthens the round trips it would then be sized by. It never drops
    /// below `floor` (two chunks: the sync always moves, the floor rate of
    /// bulk traffic) nor rises above `cap` (the configured `sync_window`).
    /// Also counts the ticks in a row in which the peer acknowledged
    /// nothing ([`Peer::quiet`]).
    fn pace(&mut self, floor: usize, cap: usize) {
        self.ticks += 1;
        if self.ticks % RTT_PERIOD == 0 {
            self.rtt_min = (None, self.rtt_min.0);
        }
        let base = match self.rtt_min {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => 0,
        };
        let base = usize::try_from(base).unwrap_or(usize::MAX);
        let rate = self.acked_bytes.0.max(self.acked_bytes.1);
        self.acked_bytes = (0, self.acked_bytes.0);
        if self.bulk_in_flight > 0 || rate > 0 {
            let ticks = base.saturating_add(PACE_TICKS);
            self.window = rate.saturating_mul(ticks).min(cap).max(floor.min(cap));
        }
        self.quiet = if std::mem::take(&mut self.moved) {
            0
        } else {
            self.quiet.saturating_add(1)
        };
    }

    /// Whether resends to this peer are due at all. The connection is
    /// ordered and reliable: what a peer that acknowledges other things has
    /// not acknowledged is queued behind them, not lost (it drops messages
    /// only in rare states, a full pending queue or an epoch it does not
    /// follow yet). So resends wait for `QUIET_TICKS` ticks in which it
    /// acknowledged nothing; resending earlier lengthens the very queue
    /// the acknowledgements wait behind, which on a slow link, or one whose
    /// link layer holds frames for a retransmission, fed on itself.
    fn quiet(&self) -> bool {
        self.quiet >= QUIET_TICKS
    }

    /// Pacing state, for reports.
    pub fn pacing(&self) -> String {
        format!(
            "window {} in flight {} acked {:?} quiet {}",
            self.window, self.bulk_in_flight, self.acked_bytes, self.quiet
        )
    }

    /// The bulk window now.
    fn bulk_window(&self, cap: usize) -> usize {
        if self.window == 0 {
            START_WINDOW.min(cap)
        } else {
            self.window
        }
    }

    /// Run `f` on a channel's sync, keeping the window's sum and the
    /// reading set in step with what it did.
    fn with_sync<R>(
        &mut self,
        channel: ChannelId,
        f: impl FnOnce(&mut BulkSend) -> R,
    ) -> Option<R> {
        let s = self.syncs.get_mut(&channel)?;
        let before = s.in_flight();
        s.tick = self.ticks;
        let r = f(s);
        if let Some(rtt) = s.take_rtt() {
            self.rtt_min.0 = Some(self.rtt_min.0.map_or(rtt, |m| m.min(rtt)));
        }
        if s.in_flight() < before {
            self.acked_bytes.0 += before - s.in_flight();
            self.moved = true;
        }
        self.bulk_in_flight = self.bulk_in_flight - before + s.in_flight();
        if s.read_all() {
            self.reading.remove(&channel);
        }
        Some(r)
    }

    /// First-time chunks for the syncs still reading, in channel order,
    /// while the credit window has room.
    fn feed(
        &mut self,
        channels: &BTreeMap<ChannelId, PChannel>,
        busy: &BTreeSet<ChannelId>,
        cap: usize,
        out: &mut Vec<Message>,
    ) {
        debug_assert!(channels
            .iter()
            .all(|(id, c)| c.flight.is_empty() != busy.contains(id)));
        let window = self.bulk_window(cap);
        while self.bulk_in_flight < window {
            // Channels with changes waiting for confirmation first: those
            // wait for this peer's copy, which its sync starts. (A few
            // channels are busy; a thousand may be reading.)
            let urgent = busy.iter().find(|id| self.reading.contains(id));
            let Some(&id) = urgent.or_else(|| self.reading.first()) else {
                return;
            };
            // Each round either spends the credit or finishes reading `id`.
            let mut credit = window - self.bulk_in_flight;
            let fed = channels
                .get(&id)
                .and_then(|c| self.with_sync(id, |s| s.produce(&c.table, c.last, &mut credit)));
            match fed {
                Some(msgs) => out.extend(msgs),
                None => {
                    self.reading.remove(&id);
                }
            }
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrimaryStats {
    /// Updates assigned.
    pub assigned: u64,
    /// Requests confirmed.
    pub confirmed: u64,
    /// Updates resent to the kernel.
    pub kernel_resends: u64,
    /// Bulk syncs started.
    pub syncs_started: u64,
    /// Sections repaired after an audit.
    pub repaired_sections: u64,
}

/// A primary control unit.
#[derive(Debug, Clone)]
pub struct Primary {
    /// This node.
    pub node: NodeId,
    /// Our epoch.
    pub epoch: Epoch,
    /// Channels.
    pub channels: BTreeMap<ChannelId, PChannel>,
    /// Attached standbys.
    pub peers: BTreeMap<NodeId, Peer>,
    /// Tunables.
    pub cfg: PrimaryConfig,
    /// Set once the kernel fenced us.
    pub deposed: Option<Epoch>,
    /// Counters.
    pub stats: PrimaryStats,
    next_sync_id: u64,
    /// NewPrimary announcement and the followers that have not answered it
    /// yet (resent on ticks: a follower that misses it would otherwise drop
    /// our stream forever as "future epoch").
    announce: Option<(Message, Vec<NodeId>)>,
    /// Channels with requests queued since the last [`Primary::flush`].
    queued: BTreeSet<ChannelId>,
    /// Channels with updates in flight.
    // INVARIANT: exactly the channels whose `flight` is not empty (kept
    // where flights change, all in this file), so that bulk sync finds the
    // channels to sync first without scanning every channel per chunk.
    busy: BTreeSet<ChannelId>,
}

impl Primary {
    /// A primary over empty channels (first boot).
    pub fn new(
        node: NodeId,
        epoch: Epoch,
        channels: &[(ChannelId, SectionCount)],
        cfg: PrimaryConfig,
    ) -> Self {
        let channels = channels
            .iter()
            .map(|&(id, sc)| (id, PChannel::new(Table::new(sc), 0)))
            .collect();
        Primary::with_channels(node, epoch, channels, cfg)
    }

    /// A primary over given channel states (after a takeover).
    pub fn with_channels(
        node: NodeId,
        epoch: Epoch,
        channels: BTreeMap<ChannelId, PChannel>,
        cfg: PrimaryConfig,
    ) -> Self {
        Primary {
            node,
            epoch,
            channels,
            peers: BTreeMap::new(),
            cfg,
            deposed: None,
            stats: PrimaryStats::default(),
            // Sync ids must grow across primaries so a standby never takes
            // a new attempt for a stale one: start from the epoch.
            next_sync_id: epoch << 32,
            announce: None,
            queued: BTreeSet::new(),
            busy: BTreeSet::new(),
        }
    }

    /// A primary's answer to a standby that elects after it took over:
    /// every channel Hot at its newest opid, with its own (newest) epoch,
    /// so the late election names it and nobody claims over it.
    pub fn candidacy(&self) -> crate::election::Candidacy {
        use crate::election::{Candidacy, ChannelMode, ChannelState};
        Candidacy {
            node: self.node,
            epoch: self.epoch,
            channels: self
                .channels
                .iter()
                .map(|(&channel, c)| ChannelState {
                    channel,
                    mode: ChannelMode::Hot,
                    applied: c.last,
                    have: c.last,
                })
                .collect(),
        }
    }

    /// True when standby `node` holds every channel exactly: synced to
    /// the end, or kept across a rebase onto our stream (a standby that
    /// has asked for nothing yet holds nothing).
    pub fn peer_hot(&self, node: NodeId) -> bool {
        self.peers.get(&node).is_some_and(|p| {
            self.channels
                .keys()
                .all(|c| p.hot(*c) && (p.rebased || p.syncs.contains_key(c)))
        })
    }

    /// Remember the takeover announcement for retransmission.
    pub fn set_announcement(&mut self, msg: Message, followers: Vec<NodeId>) {
        self.announce = Some((msg, followers));
    }

    /// Attach a follower that rebased onto our stream: it holds every
    /// channel up to the current `last`.
    pub fn attach_follower(&mut self, node: NodeId) {
        let have = self.channels.iter().map(|(&id, c)| (id, c.last)).collect();
        self.peers.insert(
            node,
            Peer {
                have,
                ..Peer::default()
            },
        );
    }

    /// Accept a request: assign it now if the window has room.
    pub fn submit(&mut self, request: RequestId, channel: ChannelId, ops: Vec<Op>) -> Vec<Action> {
        let mut out = self.queue(request, channel, Change::Ops(ops));
        out.extend(self.flush());
        out
    }

    /// Accept a request without assigning it yet: requests queued together
    /// are assigned together by [`Primary::flush`], several per update
    /// (group commit: one opid, one kernel update and one replication
    /// frame for all of them). Refusals come back at once.
    pub fn queue(&mut self, request: RequestId, channel: ChannelId, change: Change) -> Vec<Action> {
        let refuse = |error| vec![Action::Refuse { request, error }];
        if self.deposed.is_some() {
            return refuse(SubmitError::Deposed);
        }
        let Some(c) = self.channels.get_mut(&channel) else {
            return refuse(SubmitError::NoChannel);
        };
        if c.backlog.len() >= self.cfg.backlog {
            return refuse(SubmitError::Busy);
        }
        c.backlog.push_back((Some(request), change));
        self.queued.insert(channel);
        Vec::new()
    }

    /// Assign what was queued, as the windows allow.
    pub fn flush(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        for channel in std::mem::take(&mut self.queued) {
            self.pump(channel, &mut out);
        }
        out
    }

    /// An internal update (replay, repair): same path as a request, never
    /// refused for backpressure.
    pub fn submit_internal(&mut self, channel: ChannelId, ops: Vec<Op>) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(c) = self.channels.get_mut(&channel) {
            c.backlog.push_back((None, Change::Ops(ops)));
            self.pump(channel, &mut out);
        }
        out
    }

    /// Release what is done, then assign from the backlog while the window
    /// has room.
    fn pump(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        if self.deposed.is_some() {
            return;
        }
        let Some(c) = self.channels.get_mut(&channel) else {
            return;
        };
        while let Some(f) = c.flight.front() {
            let j = f.update.opid;
            let held = self
                .peers
                .values()
                .all(|p| !p.counts(channel) || p.have.get(&channel).copied().unwrap_or(0) >= j);
            if c.kacked < j || !held {
                break;
            }
            for &request in &f.requests {
                out.push(Action::Confirm {
                    request,
                    channel,
                    opid: j,
                });
                self.stats.confirmed += 1;
            }
            c.flight.pop_front();
            if c.flight.is_empty() {
                self.busy.remove(&channel);
            }
        }
        let max_entries = self.cfg.max_entries;
        while c.flight.len() < self.cfg.window {
            let Some((first, change)) = c.backlog.pop_front() else {
                break;
            };
            // Same rules as the kernel, on the same state the kernel will
            // have when it reaches this opid: if we accept, it accepts, and
            // the opid sequence never breaks on a refusal.
            let mut ops = match change.apply(&mut c.table, max_entries) {
                Ok(ops) => ops,
                Err(e) => {
                    refuse_invalid(first, e, out);
                    continue;
                }
            };
            let mut requests: Vec<RequestId> = first.into_iter().collect();
            // Group commit: the requests queued behind it share its update,
            // up to an update's op limit; each is checked on its own, so a
            // refused one leaves the others. Internal updates (replays,
            // repairs) travel alone.
            while first.is_some() {
                let fits = match c.backlog.front() {
                    Some((Some(_), next)) => weight_of(&ops) + next.op_count() <= MAX_OPS,
                    _ => false,
                };
                if !fits {
                    break;
                }
                let Some((Some(request), next)) = c.backlog.pop_front() else {
                    break;
                };
                match next.apply(&mut c.table, max_entries) {
                    Ok(more) => {
                        ops.extend(more);
                        requests.push(request);
                    }
                    Err(e) => refuse_invalid(Some(request), e, out),
                }
            }
            c.last += 1;
            let update = Update {
                channel,
                epoch: self.epoch,
                opid: c.last,
                cookie: cookie_of(&ops, c.table.section_count()),
                ops,
            };
            self.stats.assigned += 1;
            out.push(Action::Kernel(KernelCmd::Update(update.clone())));
            for (&node, _) in self.peers.iter().filter(|(_, p)| p.counts(channel)) {
                out.push(Action::Send {
                    to: node,
                    msg: Message::Update(update.clone()),
                });
            }
            c.flight.push_back(Flight { update, requests });
            self.busy.insert(channel);
        }
        if c.backlog.is_empty() && c.backlog.capacity() > BACKLOG_KEEP {
            // A burst on one channel can queue thousands of requests; at
            // a thousand channels, holding every channel's high-water
            // queue would cost more than its records.
            c.backlog = VecDeque::new();
        }
    }

    /// A reply from the kernel.
    pub fn on_kernel(&mut self, reply: KernelReply) -> Vec<Action> {
        let mut out = Vec::new();
        match reply {
            KernelReply::Ack(a) => self.on_ack(a, &mut out),
            KernelReply::Reject {
                channel,
                error: KernelError::Fenced { owner },
                ..
            } => {
                let _ = channel;
                if owner > self.epoch && self.deposed.is_none() {
                    self.deposed = Some(owner);
                    out.push(Action::Deposed { owner });
                    // Requests that will never be confirmed are refused now so
                    // requesters retry against the new primary.
                    self.busy.clear();
                    for c in self.channels.values_mut() {
                        for f in c.flight.drain(..) {
                            for request in f.requests {
                                out.push(Action::Refuse {
                                    request,
                                    error: SubmitError::Deposed,
                                });
                            }
                        }
                        for (r, _) in c.backlog.drain(..) {
                            if let Some(request) = r {
                                out.push(Action::Refuse {
                                    request,
                                    error: SubmitError::Deposed,
                                });
                            }
                        }
                    }
                }
            }
            KernelReply::Reject {
                channel,
                error: KernelError::OutOfOrder { register },
                ..
            } => {
                // An earlier update was lost on the way to the kernel:
                // resend from the register, once per gap.
                if let Some(c) = self.channels.get_mut(&channel) {
                    c.kacked = c.kacked.max(register);
                    if register >= c.resent_upto {
                        c.resent_upto = c.last;
                        for f in c.flight.iter().filter(|f| f.update.opid > register) {
                            out.push(Action::Kernel(KernelCmd::Update(f.update.clone())));
                            self.stats.kernel_resends += 1;
                        }
                    }
                }
                self.pump(channel, &mut out);
            }
            // Invalid cannot happen for updates we validated on the same
            // state; other replies belong to takeover and audit flows.
            KernelReply::Digests {
                channel,
                register,
                digests,
            } => self.on_kernel_digests(channel, register, &digests, &mut out),
            _ => {}
        }
        out
    }

    fn on_ack(&mut self, a: Ack, out: &mut Vec<Action>) {
        let Some(c) = self.channels.get_mut(&a.channel) else {
            return;
        };
        if a.opid <= c.kacked && c.last_ack.is_some() {
            return;
        }
        c.kacked = c.kacked.max(a.opid);
        c.last_ack = Some(a);
        c.ack_fresh = true;
        for &node in self.peers.keys() {
            out.push(Action::Send {
                to: node,
                msg: Message::Ack(a),
            });
        }
        self.sync_progress(a.channel, out);
        self.pump(a.channel, out);
    }

    /// A message from a standby.
    pub fn handle(&mut self, from: NodeId, msg: Message) -> Vec<Action> {
        let mut out = Vec::new();
        if self.deposed.is_some() {
            return out;
        }
        // Any message in our epoch from a follower proves it got NewPrimary.
        let in_epoch = match &msg {
            Message::Have { epoch, .. } => *epoch == self.epoch,
            Message::SyncRequest { .. } | Message::CheckpointAck { .. } | Message::Hello { .. } => {
                true
            }
            _ => false,
        };
        if in_epoch {
            if let Some((_, waiting)) = &mut self.announce {
                if waiting.contains(&from) {
                    waiting.retain(|&n| n != from);
                    if let Some(p) = self.peers.get_mut(&from) {
                        p.rebased = true;
                    }
                }
            }
        }
        match msg {
            Message::Have {
                channel,
                epoch,
                opid,
                ..
            } if epoch == self.epoch => {
                if let Some(p) = self.peers.get_mut(&from) {
                    let h = p.have.entry(channel).or_insert(0);
                    if opid > *h {
                        *h = opid;
                        p.moved = true;
                    }
                }
                self.pump(channel, &mut out);
            }
            Message::Hello { node } => {
                self.peers.insert(node, Peer::default());
                let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
                for id in ids {
                    self.start_sync(node, id, &mut out);
                }
            }
            Message::SyncRequest { channel } => {
                if self.is_cold(from, channel) {
                    return out;
                }
                self.peers.entry(from).or_default();
                let running = self.peers.get(&from).and_then(|p| p.syncs.get(&channel));
                // A repeated request for the sync already running does not
                // restart it while none of its chunks is acknowledged: the
                // standby takes that attempt's chunks whenever they arrive
                // (at 1 000 channels the first may take seconds, and
                // restarting then fed the queue it waited behind). An
                // acknowledged chunk means the standby held the attempt
                // and dropped it (it went Cold): start afresh.
                let fresh = running.is_some_and(|s| !s.done && !s.any_acked());
                if !fresh {
                    self.start_sync(from, channel, &mut out);
                }
            }
            Message::CheckpointAck {
                channel,
                sync_id,
                seq,
            } => {
                if let Some(p) = self.peers.get_mut(&from) {
                    p.with_sync(channel, |s| {
                        if s.sync_id == sync_id {
                            s.on_ack(seq);
                        }
                    });
                }
                self.sync_progress(channel, &mut out);
            }
            Message::DigestReport {
                channel, mismatch, ..
            } => self.repair(channel, mismatch, &mut out),
            _ => {}
        }
        out
    }

    fn start_sync(&mut self, node: NodeId, channel: ChannelId, out: &mut Vec<Action>) {
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        let id = self.next_sync_id;
        self.next_sync_id += 1;
        self.stats.syncs_started += 1;
        let s = BulkSend::new(
            channel,
            id,
            c.last,
            c.table.section_count().get(),
            self.cfg.chunk_bytes,
        );
        let Some(p) = self.peers.get_mut(&node) else {
            return;
        };
        // The standby needs every update after `base`; those in flight are
        // resent by ticks, and release waits for its Have from here on.
        // Never *raise* a known watermark here: a declaration of an earlier
        // attempt may still arrive and make the standby Hot at that
        // attempt's (lower) base, needing the updates in between.
        let h = p.have.entry(channel).or_insert(c.last);
        *h = (*h).min(c.last);
        p.add_sync(s);
        let mut msgs = Vec::new();
        p.feed(&self.channels, &self.busy, self.cfg.sync_window, &mut msgs);
        out.extend(msgs.into_iter().map(|msg| Action::Send { to: node, msg }));
    }

    /// Send more chunks as the window allows, and `channel`'s declarations
    /// when due.
    fn sync_progress(&mut self, channel: ChannelId, out: &mut Vec<Action>) {
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        for (&node, p) in self.peers.iter_mut() {
            let mut msgs = Vec::new();
            p.feed(&self.channels, &self.busy, self.cfg.sync_window, &mut msgs);
            if let Some(msg) = p.with_sync(channel, |s| s.declare(c.kacked)).flatten() {
                msgs.push(msg);
            }
            out.extend(msgs.into_iter().map(|msg| Action::Send { to: node, msg }));
        }
    }

    /// Standby `node` cannot hold `channel` (its release lacks what the
    /// channel needs, see [`crate::release`]): its sync there stops, its
    /// requests for one are ignored, and confirmations on the channel no
    /// longer wait for it. It stays cold there until it reconnects.
    pub fn leave_cold(&mut self, node: NodeId, channel: ChannelId) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(p) = self.peers.get_mut(&node) {
            p.cold.insert(channel);
            if let Some(s) = p.syncs.remove(&channel) {
                p.bulk_in_flight -= s.in_flight();
            }
            p.reading.remove(&channel);
        }
        self.pump(channel, &mut out);
        out
    }

    /// Whether standby `node` is left cold on `channel`.
    pub fn is_cold(&self, node: NodeId, channel: ChannelId) -> bool {
        self.peers
            .get(&node)
            .is_some_and(|p| p.cold.contains(&channel))
    }

    /// The channels standby `node` is left cold on.
    pub fn cold_channels(&self, node: NodeId) -> Vec<ChannelId> {
        self.peers
            .get(&node)
            .map(|p| p.cold.iter().copied().collect())
            .unwrap_or_default()
    }

    /// A standby is gone (TIPC withdrawal): stop waiting for it.
    pub fn peer_down(&mut self, node: NodeId) -> Vec<Action> {
        let mut out = Vec::new();
        self.peers.remove(&node);
        // No announcement for a follower we no longer count: rebased onto
        // our stream but not a peer, it would believe itself Hot unfed.
        if let Some((_, waiting)) = &mut self.announce {
            waiting.retain(|&n| n != node);
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            self.pump(id, &mut out);
        }
        out
    }

    /// Periodic retransmission; see module docs.
    pub fn on_tick(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.deposed.is_some() {
            return out;
        }
        if let Some((msg, waiting)) = &self.announce {
            for &to in waiting {
                out.push(Action::Send {
                    to,
                    msg: msg.clone(),
                });
            }
        }
        let floor = 2 * (self.cfg.chunk_bytes + crate::bulk_sync::CHUNK_OVERHEAD);
        for p in self.peers.values_mut() {
            p.pace(floor, self.cfg.sync_window);
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            let Some(c) = self.channels.get_mut(&id) else {
                continue;
            };
            // Resends wait for a tick without progress, then back off
            // (see `backoff`): their cost follows what is stuck, not the
            // number of channels.
            let waiting = c.flight.back().is_some_and(|f| f.update.opid > c.kacked);
            c.resent_upto = c.kacked;
            if c.kernel_stall.tick(c.kacked, waiting) {
                for f in c.flight.iter().filter(|f| f.update.opid > c.kacked) {
                    out.push(Action::Kernel(KernelCmd::Update(f.update.clone())));
                    self.stats.kernel_resends += 1;
                }
            }
            let ack_fresh = std::mem::take(&mut c.ack_fresh);
            for (&node, p) in self.peers.iter_mut() {
                if !p.counts(id) {
                    continue;
                }
                let have = p.have.get(&id).copied().unwrap_or(0);
                let behind = c.flight.back().is_some_and(|f| f.update.opid > have);
                let quiet = p.quiet();
                let pace = p.stall.entry(id).or_insert(Backoff::new(have));
                let stalled = pace.tick_if_quiet(have, behind, quiet);
                if stalled {
                    for f in c.flight.iter().filter(|f| f.update.opid > have) {
                        out.push(Action::Send {
                            to: node,
                            msg: Message::Update(f.update.clone()),
                        });
                    }
                }
                if let Some(a) = c.last_ack.filter(|_| ack_fresh || stalled) {
                    out.push(Action::Send {
                        to: node,
                        msg: Message::Ack(a),
                    });
                }
                let resent = p.with_sync(id, |s| s.resend_stalled(&c.table, c.last, quiet));
                for msg in resent.into_iter().flatten() {
                    out.push(Action::Send { to: node, msg });
                }
            }
            self.sync_progress(id, &mut out);
            self.pump(id, &mut out);
        }
        out
    }

    /// Start an audit of `channel`: send our digests to the standbys (they
    /// compare when they reach the same opid) and read the kernel's.
    pub fn start_audit(&mut self, channel: ChannelId) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(c) = self.channels.get(&channel) {
            let msg = Message::Digests {
                channel,
                opid: c.last,
                digests: c.table.digests(),
            };
            for (&node, p) in &self.peers {
                if p.hot(channel) {
                    out.push(Action::Send {
                        to: node,
                        msg: msg.clone(),
                    });
                }
            }
            out.push(Action::Kernel(KernelCmd::Digests { channel }));
        }
        out
    }

    fn on_kernel_digests(
        &mut self,
        channel: ChannelId,
        register: Opid,
        digests: &[u64],
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        // Only comparable when the kernel is at our position.
        if register != c.last {
            return;
        }
        let mismatch = crate::audit::mismatched(&c.table.digests(), digests);
        self.repair(channel, mismatch, out);
    }

    /// Replay the given sections through the stream: fixes kernel and
    /// standbys alike.
    fn repair(&mut self, channel: ChannelId, mask: u64, out: &mut Vec<Action>) {
        if mask == 0 {
            return;
        }
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        let ops = section_ops(&c.table, mask);
        self.stats.repaired_sections += u64::from(mask.count_ones());
        for chunk in ops.chunks(crate::table::MAX_OPS) {
            out.extend(self.submit_internal(channel, chunk.to_vec()));
        }
    }
}

/// Refuse a request (if it is one) whose change breaks a table rule.
fn refuse_invalid(request: Option<RequestId>, e: TableError, out: &mut Vec<Action>) {
    if let Some(request) = request {
        out.push(Action::Refuse {
            request,
            error: SubmitError::Invalid(e),
        });
    }
}

/// ReplaceSection ops carrying `table`'s content for every section in `mask`.
pub fn section_ops(table: &Table, mask: u64) -> Vec<Op> {
    (0..table.section_count().get())
        .filter(|s| mask & (1u64 << s) != 0)
        .map(|s| Op::ReplaceSection {
            section: s,
            records: table.section_records(s),
        })
        .collect()
}

#[cfg(test)]
mod tests;
