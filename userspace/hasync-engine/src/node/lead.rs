//! The primary: standbys connect to the replication service, send their
//! handshake and are bulk synced; change requests go through the engine
//! and are answered when it confirms them; a planned handover drains the
//! stream to a hot standby and withdraws; another primary showing up is
//! checked against the kernel's owner epoch.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::audit;
use crate::handshake::{node_id, Handshake, Side, FALLBACK_EPOCH};
use crate::kernel::{KernelCmd, KernelReply};
use crate::primary::{Change, Primary};
use crate::release::{CommandSet, RELEASE};
use crate::table::{IfName, Op};
use crate::transform;
use crate::wire::Message;
use crate::{Action, ChannelId, NodeId, Opid, RequestId};
use hasync_model::RecordChange;

use super::{
    AuditResult, ConnId, Dest, Frame, Micros, Node, Output, Refusal, RefusalKind, Role, MS,
};

/// How long a planned handover waits for the stream to drain.
const HANDOVER_TIMEOUT: Micros = 5000 * MS;
/// Most refused standby names warned about (once each).
const WARNED_STRANGERS_MAX: usize = 64;

/// How long an accepted connection may take to send its handshake.
const HANDSHAKE_TIMEOUT: Micros = 5000 * MS;
/// How often a primary that sees another primary published re-reads the
/// kernel's owner epochs.
const FENCE_CHECK: Micros = 500 * MS;
/// How long an election loser has to attach before the primary stops
/// waiting for it (it then syncs afresh whenever it comes).
pub const FOLLOWER_GRACE: Micros = 5000 * MS;
/// How long an audit waits for the kernel's digests.
const AUDIT_TIMEOUT: Micros = 5000 * MS;

/// One accepted standby connection.
pub(super) struct PeerConn {
    /// Engine node id, once its handshake arrived.
    pub node: Option<NodeId>,
    /// Its name (from the handshake; its address before).
    pub name: String,
    /// When it was accepted.
    pub since: Micros,
    /// Its release and command set, once its handshake arrived.
    pub set: Option<CommandSet>,
}

/// A planned handover in progress.
pub(super) struct Handover {
    to: NodeId,
    /// The switchover request to answer, if any.
    request: Option<RequestId>,
    /// Exit afterwards (SIGTERM) or follow the new primary (switchover).
    exit: bool,
    deadline: Micros,
}

/// Replay still in flight after a takeover: done when the kernel ACKed
/// every channel's last replayed opid.
pub(super) struct ReplayWait {
    pub targets: BTreeMap<ChannelId, Opid>,
    pub started: Micros,
}

/// An audit waiting for the kernel's digests.
struct AuditWait {
    request: Option<RequestId>,
    results: Vec<AuditResult>,
    /// Channels whose digests are still to come.
    waiting: Vec<ChannelId>,
    deadline: Micros,
}

/// The primary side.
pub(super) struct Lead {
    pub engine: Primary,
    pub peers: BTreeMap<ConnId, PeerConn>,
    pub replay: Option<ReplayWait>,
    pub handover: Option<Handover>,
    /// Election losers announced as followers that have not attached yet,
    /// and until when they may.
    pub expected: BTreeMap<NodeId, Micros>,
    audits: Vec<AuditWait>,
    next_fence_check: Micros,
    audit_period: Option<Micros>,
    /// The periodic audit's progress through the channels: the last one
    /// audited, and the time owed to the next (see [`Lead::audit_due`]).
    audit_cursor: Option<ChannelId>,
    audit_credit: Micros,
    last_audit_tick: Micros,
}

impl Lead {
    pub fn new(engine: Primary, now: Micros, audit_period: Option<Micros>) -> Self {
        Lead {
            engine,
            peers: BTreeMap::new(),
            replay: None,
            handover: None,
            expected: BTreeMap::new(),
            audits: Vec::new(),
            next_fence_check: now,
            audit_period,
            audit_cursor: None,
            audit_credit: 0,
            last_audit_tick: now,
        }
    }

    /// The channels the periodic audit reaches now. A round covers every
    /// channel once per period, spread evenly over it (a channel every
    /// `period / channels`), so at 1 000 channels an audit costs a digest
    /// read or two per tick rather than a thousand at once. Each audit
    /// compares per-section digests that every copy keeps up to date, so
    /// its cost follows sections, not records.
    fn audit_due(&mut self, now: Micros) -> Vec<ChannelId> {
        let Some(period) = self.audit_period.filter(|&p| p > 0) else {
            return Vec::new();
        };
        let n = self.engine.channels.len() as u64;
        let elapsed = now.saturating_sub(self.last_audit_tick);
        self.last_audit_tick = now;
        // Owed: one channel per `period / n` of time passed, at most a round.
        self.audit_credit = (self.audit_credit + elapsed.saturating_mul(n)).min(period * n);
        let mut due = Vec::new();
        while self.audit_credit >= period && (due.len() as u64) < n {
            self.audit_credit -= period;
            // After the cursor, wrapping round (`Excluded`: a cursor at
            // `ChannelId::MAX` has no `c + 1`).
            let next = self
                .audit_cursor
                .and_then(|c| {
                    let after = (Bound::Excluded(c), Bound::Unbounded);
                    self.engine.channels.range(after).next()
                })
                .or_else(|| self.engine.channels.iter().next());
            let Some((&id, _)) = next else { break };
            self.audit_cursor = Some(id);
            due.push(id);
        }
        due
    }

    /// An election loser: the engine already counts it as a standby
    /// (nothing is confirmed without it); it has until [`FOLLOWER_GRACE`]
    /// to attach.
    pub fn expect_follower(&mut self, f: NodeId, now: Micros) {
        self.expected.insert(f, now + FOLLOWER_GRACE);
    }

    /// The connection of standby `node`.
    pub fn conn_of(&self, node: NodeId) -> Option<ConnId> {
        self.peers
            .iter()
            .find(|(_, p)| p.node == Some(node))
            .map(|(&c, _)| c)
    }

    /// True when `node` holds every channel exactly.
    pub fn peer_hot(&self, node: NodeId) -> bool {
        self.engine.peer_hot(node)
    }

    /// A connected standby that holds every channel.
    pub fn hot_peer(&self) -> Option<NodeId> {
        self.peers
            .values()
            .filter_map(|p| p.node)
            .find(|&n| self.peer_hot(n))
    }

    pub fn start_handover(
        &mut self,
        to: NodeId,
        request: Option<RequestId>,
        exit: bool,
        now: Micros,
    ) {
        self.handover = Some(Handover {
            to,
            request,
            exit,
            deadline: now + HANDOVER_TIMEOUT,
        });
    }

    /// Nothing in flight and `to` holds everything.
    fn drained(&self, to: NodeId) -> bool {
        let Some(p) = self.engine.peers.get(&to) else {
            return false;
        };
        self.engine.channels.iter().all(|(id, c)| {
            c.flight.is_empty()
                && c.backlog.is_empty()
                && c.kacked == c.last
                && p.have.get(id).copied().unwrap_or(0) >= c.last
        })
    }

    /// The channel a request names, or the one holding `name`, or the
    /// lowest configured one.
    fn pick_channel(
        &self,
        want: Option<ChannelId>,
        name: &IfName,
        must_exist: bool,
    ) -> Result<ChannelId, Refusal> {
        if let Some(c) = want {
            return match self.engine.channels.get(&c) {
                Some(ch) if must_exist && ch.table.get(name).is_none() => Err(refusal(
                    RefusalKind::NotFound,
                    format!("no interface {} in channel {c}", show(name)),
                )),
                Some(_) => Ok(c),
                None => Err(refusal(RefusalKind::NotFound, format!("no channel {c}"))),
            };
        }
        if let Some((&c, _)) = self
            .engine
            .channels
            .iter()
            .find(|(_, ch)| ch.table.get(name).is_some())
        {
            return Ok(c);
        }
        if must_exist {
            return Err(refusal(
                RefusalKind::NotFound,
                format!("no interface {}", show(name)),
            ));
        }
        self.engine
            .channels
            .keys()
            .next()
            .copied()
            .ok_or_else(|| refusal(RefusalKind::NotFound, "no channels configured"))
    }
}

fn refusal(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
        primary: None,
    }
}

fn show(name: &IfName) -> String {
    String::from_utf8_lossy(name.as_bytes()).into_owned()
}

impl Node {
    pub(super) fn peer_accepted(&mut self, now: Micros, conn: ConnId, addr: String) {
        let Role::Primary(l) = &mut self.role else {
            self.emit(Output::ClosePeer {
                conn,
                orderly: false,
            });
            return;
        };
        tracing::info!(peer = %addr, "standby connecting");
        l.peers.insert(
            conn,
            PeerConn {
                node: None,
                name: addr,
                since: now,
                set: None,
            },
        );
    }

    /// One frame from a standby.
    pub(super) fn peer_frame(&mut self, now: Micros, conn: ConnId, f: &[u8]) {
        let me = self.me;
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let epoch = l.engine.epoch;
        let Some(peer) = l.peers.get_mut(&conn) else {
            return;
        };
        if let Some(node) = peer.node {
            let from = peer.set.as_ref().map_or(RELEASE, |s| s.release);
            let msg = match Message::decode_exact(f) {
                Ok(msg) => transform::up(msg, from).map_err(|c| c.why),
                Err(e) => Err(e.to_string()),
            };
            match msg {
                Ok(Message::TcpConnsAck { round }) => self.tcp_acked(node, round),
                // Only a primary sends these.
                Ok(Message::TcpConns { .. }) => {}
                Ok(msg) => {
                    if let Message::DigestReport {
                        channel, mismatch, ..
                    } = msg
                    {
                        if mismatch != 0 {
                            self.audit_mismatches += u64::from(mismatch.count_ones());
                            tracing::warn!(
                                standby = %peer.name,
                                channel,
                                mismatch = format_args!("{mismatch:#x}"),
                                "audit: standby differs; repairing"
                            );
                        }
                    }
                    let Role::Primary(l) = &mut self.role else {
                        return;
                    };
                    let acts = l.engine.handle(node, msg);
                    self.run(now, acts);
                }
                Err(e) => {
                    let name = self.name_of(node);
                    tracing::warn!(peer = %name, error = %e, "malformed frame from a standby; dropping the connection");
                    self.drop_peer(now, conn);
                }
            }
            return;
        }
        let h = match Handshake::decode(f) {
            Ok(h) if h.side == Side::Standby && h.node != me => h,
            Ok(_) => {
                tracing::warn!(peer = %peer.name, "handshake from a primary or from ourselves; dropping");
                return self.drop_peer(now, conn);
            }
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "bad handshake; dropping the connection");
                return self.drop_peer(now, conn);
            }
        };
        if !super::trusts(&self.listed, &h) {
            self.refused_standbys += 1;
            // One warning per name, for a bounded number of names: a
            // stranger cycling names is counted, not remembered.
            if self.warned_strangers.len() < WARNED_STRANGERS_MAX
                && self.warned_strangers.insert(h.name.clone())
            {
                tracing::warn!(
                    standby = %h.name,
                    "refused a standby that is not one of this cluster's units (units in the configuration); counted, warned once"
                );
            }
            return self.drop_peer(now, conn);
        }
        peer.node = Some(h.node);
        peer.name = h.name.clone();
        // A first-release standby reads version 1 only. One of a later
        // release that fell back to version 1 (see `handshake`) did not
        // send its set: it lacks nothing of ours we could transform (the
        // newer side transforms), so it counts as ours.
        let fallback = h.set.release < 2 && h.epoch == FALLBACK_EPOCH;
        let set = if fallback {
            CommandSet::ours()
        } else {
            h.set.clone()
        };
        let welcome = Handshake {
            side: Side::Primary,
            node: me,
            epoch,
            name: self.cfg.name.clone(),
            set: if set.release < 2 {
                CommandSet::of(1)
            } else {
                CommandSet::ours()
            },
        };
        super::compat::log_diff(&self.cfg.lacking, true, &h.name, &set);
        self.compat.forget_warnings(h.node);
        peer.set = Some(set);
        self.emit(Output::Send {
            to: Dest::Peer(conn),
            frame: Frame::Hello(welcome),
        });
        tracing::info!(standby = %h.name, "standby attached; bulk sync follows its requests");
        if let Some(why) = self.epoch_clash(&h.name) {
            tracing::warn!(standby = %h.name, "{why}");
        }
        self.names.insert(h.node, h.name);
        // A reconnecting standby replaces its old connection.
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let old: Vec<ConnId> = l
            .peers
            .iter()
            .filter(|(&k, q)| k != conn && q.node == Some(h.node))
            .map(|(&k, _)| k)
            .collect();
        for k in old {
            self.drop_peer(now, k);
        }
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        if l.expected.remove(&h.node).is_some() {
            // An election loser: it holds our predecessor's stream and
            // rebases onto ours on our announcement (resent on every tick
            // until it answers).
            tracing::info!(standby = %self.name_of(h.node), "elected follower attached; it rebases onto our stream");
        } else {
            let acts = l.engine.peer_down(h.node);
            self.run(now, acts);
        }
    }

    pub(super) fn peer_closed(&mut self, now: Micros, conn: ConnId, why: &str) {
        if let Role::Primary(l) = &self.role {
            if let Some(p) = l.peers.get(&conn) {
                tracing::info!(peer = %p.name, why, "standby connection ended");
            }
        }
        self.drop_peer(now, conn);
    }

    /// Forget a standby connection.
    fn drop_peer(&mut self, now: Micros, conn: ConnId) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let Some(peer) = l.peers.remove(&conn) else {
            return;
        };
        self.out.push_back(Output::ClosePeer {
            conn,
            orderly: false,
        });
        if let Some(node) = peer.node {
            if l.conn_of(node).is_none() {
                let acts = l.engine.peer_down(node);
                self.run(now, acts);
                self.tcp_peer_gone(node);
            }
        }
    }

    /// Stop waiting for election follower `n` to attach: nothing is
    /// confirmed on its account any more (it syncs afresh if it comes).
    pub(super) fn forget_follower(&mut self, now: Micros, n: NodeId, why: &str) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        if l.expected.remove(&n).is_none() {
            return;
        }
        tracing::warn!(unit = n, "{why}");
        let acts = l.engine.peer_down(n);
        self.run(now, acts);
    }

    /// Why a unit named `other` might claim the same takeover epochs as
    /// this one, if it might.
    fn epoch_clash(&self, other: &str) -> Option<String> {
        if self.cfg.units.is_empty() {
            let theirs = node_id(other).to_le_bytes()[0];
            (theirs == self.cfg.unit_byte).then(|| {
                format!(
                    "{} and {other} hash to the same epoch byte {theirs:#04x}: racing takeovers \
                     could share an epoch; list every unit in `units`",
                    self.cfg.name
                )
            })
        } else {
            (!self.cfg.units.iter().any(|u| u == other)).then(|| {
                format!("{other} is not in `units`: its takeover epochs may be this unit's")
            })
        }
    }

    pub(super) fn primary_tick(&mut self, now: Micros) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let stale: Vec<ConnId> = l
            .peers
            .iter()
            .filter(|(_, q)| q.node.is_none() && now.saturating_sub(q.since) > HANDSHAKE_TIMEOUT)
            .map(|(&c, _)| c)
            .collect();
        let late: Vec<NodeId> = l
            .expected
            .iter()
            .filter(|(_, &until)| now >= until)
            .map(|(&n, _)| n)
            .collect();
        let audit_due = l.audit_due(now);
        for c in stale {
            tracing::warn!("no handshake in time; dropping a connection");
            self.drop_peer(now, c);
        }
        for n in late {
            self.forget_follower(
                now,
                n,
                "an elected follower never attached; not waiting for it",
            );
        }
        if !audit_due.is_empty() {
            if let Role::Primary(l) = &mut self.role {
                if l.handover.is_none() && l.replay.is_none() {
                    self.audit_channels(now, None, audit_due);
                }
            }
        }
        self.audit_timeouts(now);
    }

    /// Handover progress, and fencing when another primary is published.
    pub(super) fn primary_check(&mut self, now: Micros) {
        let others = self.primaries.len() > 1;
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        if others && now >= l.next_fence_check {
            l.next_fence_check = now + FENCE_CHECK;
            self.emit(Output::Kernel(KernelCmd::Registers));
        }
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let Some(h) = &l.handover else { return };
        let (to, exit, request) = (h.to, h.exit, h.request);
        let Some(conn) = l.conn_of(to) else {
            tracing::warn!("handover target disconnected; staying primary");
            l.handover = None;
            if let Some(request) = request {
                self.refuse(
                    request,
                    RefusalKind::NoStandby,
                    "the standby disconnected during the handover".into(),
                );
            }
            if exit {
                self.stop();
            }
            return;
        };
        let drained = l.drained(to);
        if !drained && now < h.deadline {
            return;
        }
        if !drained {
            tracing::warn!("handover: stream not drained in time; handing over anyway");
        }
        // Last ACKs first, so the standby applies everything it holds.
        let acks: Vec<Message> = l
            .engine
            .channels
            .values()
            .filter_map(|c| c.last_ack.map(Message::Ack))
            .collect();
        let conns: Vec<ConnId> = l.peers.keys().copied().collect();
        for m in acks {
            self.emit(Output::Send {
                to: Dest::Peer(conn),
                frame: Frame::Msg(m),
            });
        }
        let name = self.name_of(to);
        tracing::info!(to = %name, "handover: withdrawing");
        if let Some(request) = request {
            self.emit(Output::SwitchedOver { request, to: name });
        }
        for conn in conns {
            self.emit(Output::ClosePeer {
                conn,
                orderly: true,
            });
        }
        self.emit(Output::Withdraw);
        if exit {
            self.stop();
        } else {
            self.role = Role::Stopped;
            self.become_standby(now, "switchover");
        }
    }

    /// A kernel reply while primary: the fence check's owner epochs, an
    /// audit's digests, else the engine's.
    pub(super) fn primary_kernel(&mut self, now: Micros, r: KernelReply) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        if let KernelReply::Registers(reads) = &r {
            let epoch = l.engine.epoch;
            let mine = reads
                .iter()
                .filter(|x| l.engine.channels.contains_key(&x.channel));
            if let Some(owner) = mine.map(|x| x.owner).max().filter(|&o| o > epoch) {
                self.deposed(now, owner);
            }
            return;
        }
        if let KernelReply::Digests {
            channel,
            register,
            digests,
        } = &r
        {
            if let Some(c) = l.engine.channels.get(channel) {
                let mine = c.table.digests();
                for a in &mut l.audits {
                    let Some(i) = a.waiting.iter().position(|w| w == channel) else {
                        continue;
                    };
                    a.waiting.swap_remove(i);
                    if let Some(res) = a.results.iter_mut().find(|x| x.channel == *channel) {
                        res.opid = c.last;
                        if *register == c.last {
                            res.kernel_skipped = false;
                            res.kernel_mismatch = audit::mismatched(&mine, digests);
                        }
                        if res.kernel_mismatch != 0 {
                            tracing::warn!(
                                channel,
                                mismatch = format_args!("{:#x}", res.kernel_mismatch),
                                "audit: kernel differs; repairing"
                            );
                        }
                    }
                }
            }
        }
        let acts = l.engine.on_kernel(r);
        self.finish_audits(|a| a.waiting.is_empty());
        self.run(now, acts);
    }

    pub(super) fn set(
        &mut self,
        now: Micros,
        request: RequestId,
        channel: Option<ChannelId>,
        change: &RecordChange,
    ) {
        let ops = self.writable().and_then(|l| {
            let channel = l.pick_channel(channel, &change.name, false)?;
            // Checked here for a prompt answer (the fields it names: the
            // record's others are valid); applied onto the record as the
            // requests queued before it leave it (see `Change`).
            change
                .validate()
                .map_err(|e| refusal(RefusalKind::Invalid, e.to_string()))?;
            Ok((channel, Change::Record(change.clone())))
        });
        self.submit(now, request, ops);
    }

    pub(super) fn del(
        &mut self,
        now: Micros,
        request: RequestId,
        channel: Option<ChannelId>,
        name: &IfName,
    ) {
        let ops = self.writable().and_then(|l| {
            let channel = l.pick_channel(channel, name, true)?;
            Ok((channel, Change::Ops(vec![Op::Del(name.clone())])))
        });
        self.submit(now, request, ops);
    }

    pub(super) fn rename(
        &mut self,
        now: Micros,
        request: RequestId,
        channel: Option<ChannelId>,
        from: IfName,
        to: IfName,
    ) {
        let change = self.writable().and_then(|l| {
            let channel = l.pick_channel(channel, &from, true)?;
            // Names are unique across channels: a record is found by its
            // name alone.
            if l.engine
                .channels
                .values()
                .any(|c| c.table.get(&to).is_some())
            {
                return Err(refusal(
                    RefusalKind::Invalid,
                    format!("interface {to} exists"),
                ));
            }
            Ok((channel, Change::Rename { from, to }))
        });
        self.submit(now, request, change);
    }

    /// The primary, when it takes changes now.
    fn writable(&self) -> Result<&Lead, Refusal> {
        match &self.role {
            Role::Primary(l) if l.handover.is_some() => Err(refusal(
                RefusalKind::ShuttingDown,
                "handing over to a standby",
            )),
            Role::Primary(l) => Ok(l),
            _ => Err(self.not_primary()),
        }
    }

    /// "Not primary", naming the primary when we follow one.
    pub fn not_primary(&self) -> Refusal {
        Refusal {
            kind: RefusalKind::NotPrimary,
            message: format!("{} is {}", self.cfg.name, self.role().as_str()),
            primary: self.leader().map(|(n, _)| n.to_owned()),
        }
    }

    fn submit(
        &mut self,
        now: Micros,
        request: RequestId,
        ops: Result<(ChannelId, Change), Refusal>,
    ) {
        let (channel, change) = match ops {
            Ok(x) => x,
            Err(refusal) => return self.emit(Output::Refused { request, refusal }),
        };
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        // Assigned when the outputs are next collected, with every request
        // that arrived in the same batch (`Node::poll_output`).
        let acts = l.engine.queue(request, channel, change);
        self.run(now, acts);
    }

    pub(super) fn switchover(&mut self, now: Micros, request: RequestId) {
        let l = match self.writable() {
            Ok(l) => l,
            Err(refusal) => return self.emit(Output::Refused { request, refusal }),
        };
        let Some(to) = l.hot_peer() else {
            return self.refuse(
                request,
                RefusalKind::NoStandby,
                "no standby holds every channel yet".into(),
            );
        };
        if let Role::Primary(l) = &mut self.role {
            l.start_handover(to, Some(request), false, now);
        }
    }

    /// Compare with the kernel (answered once its digests are in), and ask
    /// the standbys (they report to the engine, which repairs).
    pub(super) fn audit(
        &mut self,
        now: Micros,
        request: Option<RequestId>,
        channel: Option<ChannelId>,
    ) {
        if let Some(request) = request {
            if let Err(refusal) = self.writable() {
                return self.emit(Output::Refused { request, refusal });
            }
        }
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let ids: Vec<ChannelId> = match channel {
            Some(c) if l.engine.channels.contains_key(&c) => vec![c],
            Some(c) => {
                if let Some(request) = request {
                    self.refuse(request, RefusalKind::NotFound, format!("no channel {c}"));
                }
                return;
            }
            None => l.engine.channels.keys().copied().collect(),
        };
        self.audit_channels(now, request, ids);
    }

    /// Audit `ids` (channels of ours); `request` is answered when done.
    fn audit_channels(&mut self, now: Micros, request: Option<RequestId>, ids: Vec<ChannelId>) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let mut wait = AuditWait {
            request,
            results: Vec::new(),
            waiting: Vec::new(),
            deadline: now + AUDIT_TIMEOUT,
        };
        let mut acts = Vec::new();
        for id in ids {
            let a = l.engine.start_audit(id);
            let asked = a
                .iter()
                .filter(|x| matches!(x, Action::Send { .. }))
                .count();
            if a.iter().any(|x| matches!(x, Action::Kernel(_))) {
                wait.waiting.push(id);
            }
            wait.results.push(AuditResult {
                channel: id,
                opid: l.engine.channels.get(&id).map_or(0, |c| c.last),
                kernel_mismatch: 0,
                kernel_skipped: true,
                standbys_asked: u32::try_from(asked).unwrap_or(u32::MAX),
            });
            acts.extend(a);
        }
        l.audits.push(wait);
        self.finish_audits(|a| a.waiting.is_empty());
        self.run(now, acts);
    }

    fn audit_timeouts(&mut self, now: Micros) {
        self.finish_audits(|a| now >= a.deadline);
    }

    fn finish_audits(&mut self, done: impl Fn(&AuditWait) -> bool) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let (finished, rest): (Vec<AuditWait>, Vec<AuditWait>) =
            std::mem::take(&mut l.audits).into_iter().partition(done);
        l.audits = rest;
        for a in finished {
            if let Some(request) = a.request {
                self.emit(Output::Audited {
                    request,
                    channels: a.results,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::SectionCount;

    fn lead(channels: u32, period: Option<Micros>) -> Lead {
        let ids: Vec<(ChannelId, SectionCount)> =
            (0..channels).map(|c| (c * 3, SectionCount::ONE)).collect();
        let engine = Primary::new(1, 1, &ids, crate::primary::PrimaryConfig::default());
        Lead::new(engine, 0, period)
    }

    #[test]
    fn periodic_audit_spreads_each_round_over_the_period() {
        let period = 60_000 * MS;
        let mut l = lead(1000, Some(period));
        let mut seen = BTreeMap::new();
        let mut most = 0;
        // Two rounds in 100 ms ticks.
        for t in 1..=1200u64 {
            let due = l.audit_due(t * super::super::TICK);
            most = most.max(due.len());
            for c in due {
                *seen.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(seen.len(), 1000, "every channel audited");
        assert!(seen.values().all(|&k| k == 2), "each once per period");
        assert!(most <= 2, "at most two channels a tick, not a thousand");
        // The highest possible channel id wraps round to the lowest.
        let ids = [(0, SectionCount::ONE), (ChannelId::MAX, SectionCount::ONE)];
        let engine = Primary::new(1, 1, &ids, crate::primary::PrimaryConfig::default());
        let mut l = Lead::new(engine, 0, Some(period));
        assert_eq!(l.audit_due(period), vec![0, ChannelId::MAX]);
        assert_eq!(l.audit_due(2 * period), vec![0, ChannelId::MAX]);
        // Few channels: each still once per period, not once a tick.
        let mut l = lead(2, Some(period));
        let n: usize = (1..=600u64)
            .map(|t| l.audit_due(t * super::super::TICK).len())
            .sum();
        assert_eq!(n, 2);
        // Off, or a late tick: nothing, or at most one round at once.
        assert!(lead(5, None).audit_due(period * 10).is_empty());
        assert_eq!(lead(5, Some(period)).audit_due(period * 10).len(), 5);
    }
}
