//! One control unit, whole: its role (standby, taking over, primary), the
//! failure-detection verdicts that move it between roles, its timers, the
//! election, planned handover, fencing and rejoin.
//!
//! Sans-IO in the shape of `quinn-proto`: the caller feeds [`Event`]s and
//! the time ([`Node::handle`], [`Node::handle_timeout`]), asks when to wake
//! next ([`Node::poll_timeout`]) and carries out the [`Output`]s
//! ([`Node::poll_output`]). Time is microseconds on any monotonic clock.
//! hasyncd drives it with sockets, the simulator with a virtual clock, so
//! every decision below is reachable from a seed.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | events, outputs, the role, timers, getters |
//! | `follow.rs` | standby: connect, handshake, reconnect versus take over, rebase |
//! | `elect.rs` | one new primary among several standbys |
//! | `promote.rs` | standby → primary: epoch, claim, plan, publish, report |
//! | `lead.rs` | primary: standbys, requests, audit, handover, fencing |
//! | `compat.rs` | peers of other releases: diff lists, transforms, items left cold |
//!
//! Failure detection is the caller's: it reports when the primary's
//! replication service is published or withdrawn ([`Event::PrimaryUp`],
//! [`Event::PrimaryDown`]) and which units are up; a connection ending is
//! only a hint (see `follow.rs`).

mod compat;
#[cfg(test)]
mod compat_tests;
mod elect;
mod follow;
mod lead;
mod promote;
mod tcp;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::handshake::{node_id, Handshake};
use crate::kernel::{KernelCmd, KernelReply};
use crate::planner::Policy;
use crate::primary::{Primary, PrimaryConfig};
use crate::report::TakeoverReport;
use crate::standby::{Standby, StandbyConfig};
use crate::table::{IfName, SectionCount};
use crate::wire::{Ack, Message};
use crate::{Action, ChannelId, Epoch, NodeId, Opid, RequestId, SubmitError};
use hasync_model::RecordChange;

pub use compat::{CompatStats, PeerRelease};
pub use promote::next_epoch;

/// Microseconds on the caller's monotonic clock (fine enough to time a
/// takeover that takes less than a millisecond).
pub type Micros = u64;
/// One millisecond.
pub const MS: Micros = 1000;
/// The caller's handle for one accepted standby connection.
pub type ConnId = u64;
/// The caller's handle for one publisher of the replication service.
pub type Publisher = u64;

/// A duration in milliseconds, as reports give it.
fn ms(d: Micros) -> f64 {
    d as f64 / MS as f64
}

/// Timer period: retransmissions, `Have` reports, checks.
pub const TICK: Micros = 100 * MS;

/// How a unit starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRole {
    /// Take over at once (relearning from the kernel).
    Primary,
    /// Follow whoever is primary.
    Standby,
    /// Follow; become primary if nobody is within the link tolerance.
    Auto,
}

/// Which way ACKs reach a standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPath {
    /// Forwarded by the primary.
    Forward,
    /// From the kernel's multicast group only (the primary forwards none).
    Direct,
    /// Both.
    Both,
}

/// What a node is configured with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Unit name (its node id is [`node_id`] of it).
    pub name: String,
    /// Role at start.
    pub start: StartRole,
    /// Channels and their section counts.
    pub channels: Vec<(ChannelId, SectionCount)>,
    /// Standby tunables.
    pub standby: StandbyConfig,
    /// Primary tunables.
    pub primary: PrimaryConfig,
    /// Trailing-update policy at takeover.
    pub policy: Policy,
    /// The low byte of this unit's takeover epochs ([`next_epoch`]).
    pub unit_byte: u8,
    /// The units that take part in elections (empty: every unit up).
    pub units: Vec<String>,
    /// How long `Auto` waits for a primary.
    pub link_tolerance: Micros,
    /// Period of the primary's audit against the kernel (`None`: never).
    pub audit_period: Option<Micros>,
    /// ACK path to the standbys.
    pub ack_path: AckPath,
    /// Replay every section at takeover (benchmark of the full relearn).
    pub full_replay: bool,
    /// What to do for a peer of an older release lacking an item, where
    /// the item allows a choice.
    pub lacking: crate::release::LackingPolicy,
}

/// Something that happened, for [`Node::handle`].
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A replication-service publisher appeared.
    PrimaryUp(Publisher),
    /// A publisher went away (process death, or node loss after the link
    /// tolerance).
    PrimaryDown(Publisher),
    /// A unit's election service appeared.
    UnitUp(NodeId),
    /// A unit's election service went away.
    UnitDown(NodeId),
    /// [`Output::Connect`] succeeded.
    Connected,
    /// [`Output::Connect`] failed.
    ConnectFailed,
    /// A frame from the primary.
    LeaderFrame(&'a [u8]),
    /// The connection to the primary ended (`planned`: closed in order).
    LeaderClosed {
        /// Closed in order by the peer.
        planned: bool,
        /// What the caller saw.
        why: &'a str,
    },
    /// A standby connected to our replication service.
    PeerAccepted(ConnId, String),
    /// A frame from a standby.
    PeerFrame(ConnId, &'a [u8]),
    /// A standby connection ended or failed.
    PeerClosed(ConnId, &'a str),
    /// A datagram on our election service.
    Unit(&'a [u8]),
    /// Kernel replies, in command order.
    Kernel(Vec<KernelReply>),
    /// ACKs from the kernel's multicast group.
    KernelAcks(Vec<Ack>),
    /// The multicast group overran: ACKs were lost.
    KernelAcksLost,
    /// Change or add an interface record.
    Set {
        /// Answered with this id.
        request: RequestId,
        /// Channel asked for (else the one holding the name, else the first).
        channel: Option<ChannelId>,
        /// The fields given.
        change: RecordChange,
    },
    /// Delete an interface record.
    Del {
        /// Answered with this id.
        request: RequestId,
        /// Channel asked for (else the one holding the name).
        channel: Option<ChannelId>,
        /// The record.
        name: IfName,
    },
    /// Give an interface record a new name (its fields kept).
    Rename {
        /// Answered with this id.
        request: RequestId,
        /// Channel asked for (else the one holding `from`).
        channel: Option<ChannelId>,
        /// The record.
        from: IfName,
        /// Its new name, held by no channel.
        to: IfName,
    },
    /// Hand the primary role to a hot standby and follow it.
    Switchover {
        /// Answered with this id.
        request: RequestId,
    },
    /// Compare with the kernel now.
    Audit {
        /// Answered with this id.
        request: RequestId,
        /// One channel, or all.
        channel: Option<ChannelId>,
    },
    /// SIGTERM: hand over first when primary, then exit.
    Shutdown,
    /// Primary: the TCP face's connections now (every one, each time);
    /// answered by [`Output::TcpCommitted`] once every hot standby that
    /// can take them over holds them.
    TcpCommit(Vec<crate::wire::TcpConn>),
}

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The primary we follow.
    Leader,
    /// An accepted standby connection.
    Peer(ConnId),
    /// A unit's election service (datagram).
    Unit(NodeId),
}

/// A frame on a replication connection or the election service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The first frame each way on a replication connection.
    Hello(Handshake),
    /// Everything else.
    Msg(Message),
}

impl Frame {
    /// Bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Frame::Hello(h) => h.encode(),
            Frame::Msg(m) => m.encode(),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Window and backlog full.
    Busy,
    /// Breaks a record rule or limit.
    Invalid,
    /// Fenced, or stopped being primary before confirming.
    Deposed,
    /// No such channel or record.
    NotFound,
    /// Not the primary.
    NotPrimary,
    /// Handing over.
    ShuttingDown,
    /// No standby to hand over to.
    NoStandby,
}

/// A refused request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Kind.
    pub kind: RefusalKind,
    /// For a person.
    pub message: String,
    /// The primary's name, when we are not it and know it.
    pub primary: Option<String>,
}

/// One channel's audit against the kernel; the control API carries it
/// as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditResult {
    /// Channel.
    pub channel: ChannelId,
    /// The primary's opid when compared.
    pub opid: Opid,
    /// Sections whose digests differ from the kernel's.
    pub kernel_mismatch: u64,
    /// Not compared (kernel busy with newer updates, or no answer).
    pub kernel_skipped: bool,
    /// Standbys asked for their digests.
    pub standbys_asked: u32,
}

/// What the caller must do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send a command to the kernel; feed its reply back as [`Event::Kernel`].
    Kernel(KernelCmd),
    /// Send a frame.
    Send {
        /// To whom.
        to: Dest,
        /// What.
        frame: Frame,
    },
    /// Connect to the replication service; answer with
    /// [`Event::Connected`] or [`Event::ConnectFailed`].
    Connect,
    /// Close the connection to the primary.
    CloseLeader,
    /// Close a standby connection.
    ClosePeer {
        /// Which.
        conn: ConnId,
        /// Shut down in order (a planned end the standby may act on).
        orderly: bool,
    },
    /// Publish the replication and control services (we are primary).
    Publish,
    /// Withdraw them.
    Withdraw,
    /// Listen to the kernel's ACK multicast group.
    JoinAcks,
    /// Stop listening to it.
    LeaveAcks,
    /// A change is durable (kernel applied, every standby holds it).
    Confirmed {
        /// Request.
        request: RequestId,
        /// Channel.
        channel: ChannelId,
        /// Opid.
        opid: Opid,
    },
    /// A request was refused; nothing changed.
    Refused {
        /// Request.
        request: RequestId,
        /// Why.
        refusal: Refusal,
    },
    /// A switchover request handed over to `to`.
    SwitchedOver {
        /// Request.
        request: RequestId,
        /// New primary's name.
        to: String,
    },
    /// An audit request's answer.
    Audited {
        /// Request.
        request: RequestId,
        /// Per channel.
        channels: Vec<AuditResult>,
    },
    /// Every request still waiting will never be answered by this role:
    /// refuse them ("may or may not be applied").
    AbandonRequests,
    /// A takeover is complete (log it).
    Report(Box<TakeoverReport>),
    /// Stop the process.
    Exit,
    /// Every TCP face round up to `round` is held by the `holders` hot
    /// standbys that can take the connections over (0: none could): the
    /// output held for it may go.
    TcpCommitted {
        /// The round.
        round: u64,
        /// Standbys holding it.
        holders: usize,
        /// Hot standbys that did not answer in time: they hold an earlier
        /// round, and one of them may still take over (a switchover in
        /// progress stops its target answering).
        late: usize,
    },
    /// Becoming primary: rebuild these TCP face connections before the
    /// service address is taken (comes before [`Output::Publish`]).
    RestoreTcp {
        /// The connections, as of the last round held.
        conns: Vec<crate::wire::TcpConn>,
        /// Taken over by a switchover: a switchover request the old
        /// primary answered (its reply held and dropped) is done.
        switchover: bool,
    },
}

/// The role, for status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// Following or looking for a primary.
    Standby,
    /// Becoming primary.
    TakingOver,
    /// Primary.
    Primary,
    /// Handed over and exiting.
    Stopping,
}

impl RoleName {
    /// As `status` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Standby => "standby",
            RoleName::TakingOver => "taking-over",
            RoleName::Primary => "primary",
            RoleName::Stopping => "stopping",
        }
    }
}

/// Where in its lifecycle a unit is, finer than [`RoleName`] (status,
/// and the simulator's kill points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Standby following nobody yet.
    Waiting,
    /// Connected, some channel not Hot yet (bulk sync).
    Syncing,
    /// Every channel Hot.
    Hot,
    /// Electing after losing the primary.
    Electing,
    /// Lost the election: waiting for the winner, or for its announcement.
    Rebasing,
    /// Reading the kernel's owner epochs before claiming.
    Preparing,
    /// Claiming, reading the cookie log, learning from the kernel.
    Claiming,
    /// Primary, replaying what was out of sync.
    Replaying,
    /// Primary.
    Primary,
    /// Primary, handing over.
    HandingOver,
    /// Exiting.
    Stopped,
}

impl Phase {
    /// In words, for the service manager's status line and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "standby, looking for a primary",
            Phase::Syncing => "standby, bulk sync",
            Phase::Hot => "standby, hot",
            Phase::Electing => "standby, electing",
            Phase::Rebasing => "standby, rebasing",
            Phase::Preparing => "taking over, reading owner epochs",
            Phase::Claiming => "taking over, claiming",
            Phase::Replaying => "primary, replaying",
            Phase::Primary => "primary",
            Phase::HandingOver => "primary, handing over",
            Phase::Stopped => "stopping",
        }
    }

    /// Whether the unit does its job: it serves as primary, or holds
    /// every channel as a hot standby. A service manager counts the unit
    /// started from the first time this holds.
    pub fn is_serving(self) -> bool {
        matches!(
            self,
            Phase::Hot | Phase::Primary | Phase::Replaying | Phase::HandingOver
        )
    }
}

/// Whether a peer's handshake names one of the `listed` units: any name
/// when none are listed, else a listed name with its own id
/// (docs/operations.md, the trust model).
fn trusts(listed: &[NodeId], h: &Handshake) -> bool {
    listed.is_empty() || (listed.contains(&h.node) && node_id(&h.name) == h.node)
}

#[allow(clippy::large_enum_variant)]
enum Role {
    Standby(follow::Follow),
    /// Reading the kernel's owner epochs to choose ours.
    Preparing(promote::Prepare),
    TakingOver(promote::Promote),
    Primary(lead::Lead),
    Stopped,
}

/// One control unit.
pub struct Node {
    cfg: NodeConfig,
    me: NodeId,
    listed: Vec<NodeId>,
    role: Role,
    /// Replication-service publishers seen.
    primaries: BTreeSet<Publisher>,
    /// Units whose election service is up.
    units_up: BTreeSet<NodeId>,
    /// Names of units by id (from handshakes).
    names: BTreeMap<NodeId, String>,
    next_tick: Micros,
    report: Option<TakeoverReport>,
    out: VecDeque<Output>,
    /// Time of the last event, for work deferred to `poll_output`.
    now: Micros,
    /// What crossed between releases.
    compat: CompatStats,
    /// The TCP face's connections across units.
    tcp: tcp::TcpRepl,
    /// Standbys refused because they are not listed units, and the names
    /// already warned about (once each).
    refused_standbys: u64,
    warned_strangers: BTreeSet<String>,
    /// Since start: takeovers made (not counting a start as primary), and
    /// sections an audit found differing on a standby.
    takeovers: u64,
    audit_mismatches: u64,
}

impl Node {
    /// A unit at time `now`; a `Primary` start claims at once.
    pub fn new(cfg: NodeConfig, now: Micros) -> Self {
        let me = node_id(&cfg.name);
        let listed = cfg.units.iter().map(|u| node_id(u)).collect();
        let mut n = Node {
            me,
            listed,
            role: Role::Stopped,
            primaries: BTreeSet::new(),
            units_up: BTreeSet::new(),
            names: BTreeMap::new(),
            compat: CompatStats::default(),
            tcp: tcp::TcpRepl::default(),
            refused_standbys: 0,
            warned_strangers: BTreeSet::new(),
            takeovers: 0,
            audit_mismatches: 0,
            next_tick: now + TICK,
            report: None,
            out: VecDeque::new(),
            now,
            cfg,
        };
        let auto = n.cfg.start == StartRole::Auto;
        n.role = Role::Standby(follow::Follow::new(&n.cfg, me, now, auto));
        if n.cfg.start == StartRole::Primary {
            n.start_as_primary(now);
        }
        n
    }

    /// This unit's id.
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// Standbys refused since start because they are not listed units.
    pub fn refused_standbys(&self) -> u64 {
        self.refused_standbys
    }

    /// Takeovers this unit made since start (a start as primary is not
    /// one).
    pub fn takeovers(&self) -> u64 {
        self.takeovers
    }

    /// Sections an audit found differing on a standby since start (each
    /// is then repaired).
    pub fn audit_mismatches(&self) -> u64 {
        self.audit_mismatches
    }

    /// Feed one event.
    pub fn handle(&mut self, now: Micros, ev: Event<'_>) {
        self.now = now;
        self.dispatch(now, ev);
        self.report_failed_applies();
        self.check(now);
    }

    /// Feed events that arrived together (one read of the topology
    /// server): the role is reconsidered once, after all of them, so a
    /// withdrawal next to a new publication is not mistaken for a loss.
    pub fn handle_all<'a>(&mut self, now: Micros, evs: impl IntoIterator<Item = Event<'a>>) {
        self.now = now;
        for ev in evs {
            self.dispatch(now, ev);
        }
        self.report_failed_applies();
        self.check(now);
    }

    fn dispatch(&mut self, now: Micros, ev: Event<'_>) {
        match ev {
            Event::PrimaryUp(p) => {
                // A new publisher may be of any release: greet it with
                // this build's handshake first.
                if self.primaries.insert(p) {
                    if let Role::Standby(f) = &mut self.role {
                        f.hello_v1 = false;
                    }
                }
            }
            Event::PrimaryDown(p) => {
                self.primaries.remove(&p);
            }
            Event::UnitUp(n) => {
                self.units_up.insert(n);
            }
            Event::UnitDown(n) => {
                self.units_up.remove(&n);
                self.unit_down(now, n);
            }
            Event::Connected => self.connected(now),
            Event::ConnectFailed => self.connect_failed(now),
            Event::LeaderFrame(f) => self.leader_frame(now, f),
            Event::LeaderClosed { planned, why } => self.leader_lost(now, planned, why),
            Event::PeerAccepted(c, addr) => self.peer_accepted(now, c, addr),
            Event::PeerFrame(c, f) => self.peer_frame(now, c, f),
            Event::PeerClosed(c, why) => self.peer_closed(now, c, why),
            Event::Unit(d) => self.on_unit(now, d),
            Event::TcpCommit(conns) => self.tcp_commit(conns),
            Event::Kernel(replies) => self.on_kernel(now, replies),
            Event::KernelAcks(acks) => self.kernel_acks(now, acks),
            Event::KernelAcksLost => self.kernel_acks_lost(),
            Event::Set {
                request,
                channel,
                change,
            } => self.set(now, request, channel, &change),
            Event::Del {
                request,
                channel,
                name,
            } => self.del(now, request, channel, &name),
            Event::Rename {
                request,
                channel,
                from,
                to,
            } => self.rename(now, request, channel, from, to),
            Event::Switchover { request } => self.switchover(now, request),
            Event::Audit { request, channel } => self.audit(now, Some(request), channel),
            Event::Shutdown => self.shutdown(now),
        }
    }

    /// The timer fired (or the caller woke anyway).
    pub fn handle_timeout(&mut self, now: Micros) {
        self.now = now;
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.tick(now);
        }
        self.check(now);
    }

    /// When to call [`Node::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Micros> {
        match self.role {
            Role::Stopped => None,
            _ => Some(self.next_tick),
        }
    }

    /// The next thing to do.
    ///
    /// Requests queued since the outputs were last drained are assigned
    /// first, together: whatever the caller fed before asking for outputs
    /// (a socket's worth of requests) shares updates (group commit).
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            if let Role::Primary(l) = &mut self.role {
                let acts = l.engine.flush();
                self.run(self.now, acts);
            }
        }
        self.out.pop_front()
    }

    /// This unit's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The role now.
    pub fn role(&self) -> RoleName {
        match self.role {
            Role::Standby(_) => RoleName::Standby,
            Role::Preparing(_) | Role::TakingOver(_) => RoleName::TakingOver,
            Role::Primary(_) => RoleName::Primary,
            Role::Stopped => RoleName::Stopping,
        }
    }

    /// Where in its lifecycle this unit is.
    pub fn phase(&self) -> Phase {
        match &self.role {
            Role::Standby(f) if f.election.is_some() => Phase::Electing,
            Role::Standby(f) if f.awaiting.is_some() || f.rebase_to.is_some() => Phase::Rebasing,
            Role::Standby(f) if !f.handshaken => Phase::Waiting,
            Role::Standby(f) if f.engine.is_hot() => Phase::Hot,
            Role::Standby(_) => Phase::Syncing,
            Role::Preparing(_) => Phase::Preparing,
            Role::TakingOver(_) => Phase::Claiming,
            Role::Primary(l) if l.handover.is_some() => Phase::HandingOver,
            Role::Primary(l) if l.replay.is_some() => Phase::Replaying,
            Role::Primary(_) => Phase::Primary,
            Role::Stopped => Phase::Stopped,
        }
    }

    /// The primary engine, when primary.
    pub fn primary(&self) -> Option<&Primary> {
        match &self.role {
            Role::Primary(l) => Some(&l.engine),
            _ => None,
        }
    }

    /// The standby engine, when standby.
    pub fn standby(&self) -> Option<&Standby> {
        match &self.role {
            Role::Standby(f) => Some(&f.engine),
            _ => None,
        }
    }

    /// The standby engine, when standby, to change (the simulator
    /// corrupts a copy to see the audit find it).
    pub(crate) fn standby_mut(&mut self) -> Option<&mut Standby> {
        match &mut self.role {
            Role::Standby(f) => Some(&mut f.engine),
            _ => None,
        }
    }

    /// The epoch this unit writes or follows.
    pub fn epoch(&self) -> Epoch {
        match &self.role {
            Role::Standby(f) => f.engine.epoch,
            Role::Preparing(p) => p.previous_epoch,
            Role::TakingOver(t) => t.engine.epoch(),
            Role::Primary(l) => l.engine.epoch,
            Role::Stopped => 0,
        }
    }

    /// The standbys attached to this primary: name and whether each holds
    /// every channel.
    pub fn attached(&self) -> Vec<(String, Option<NodeId>, bool)> {
        match &self.role {
            Role::Primary(l) => l
                .peers
                .values()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.node,
                        p.node.is_some_and(|n| l.peer_hot(n)),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The primary this standby follows: its name and whether connected.
    pub fn leader(&self) -> Option<(&str, bool)> {
        match &self.role {
            Role::Standby(f) => f.leader_name.as_deref().map(|n| (n, f.conn)),
            _ => None,
        }
    }

    /// The last takeover's report.
    pub fn report(&self) -> Option<&TakeoverReport> {
        self.report.as_ref()
    }

    /// A takeover replay is in flight (fault injection aims at it).
    pub fn replaying(&self) -> bool {
        matches!(&self.role, Role::Primary(l) if l.replay.is_some())
    }

    /// Name of a unit, as its handshake gave it.
    pub fn name_of(&self, n: NodeId) -> String {
        self.names.get(&n).cloned().unwrap_or_else(|| n.to_string())
    }

    fn emit(&mut self, o: Output) {
        self.out.push_back(o);
    }

    /// Carry out an engine component's actions in this role.
    fn run(&mut self, now: Micros, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Kernel(c) => self.emit(Output::Kernel(c)),
                Action::Send { to, msg } => self.send(to, msg),
                Action::Confirm {
                    request,
                    channel,
                    opid,
                } => self.emit(Output::Confirmed {
                    request,
                    channel,
                    opid,
                }),
                Action::Refuse { request, error } => {
                    let kind = match error {
                        SubmitError::Busy => RefusalKind::Busy,
                        SubmitError::Invalid(_) => RefusalKind::Invalid,
                        SubmitError::Deposed => RefusalKind::Deposed,
                        SubmitError::NoChannel => RefusalKind::NotFound,
                    };
                    self.refuse(request, kind, error.to_string());
                }
                Action::Deposed { owner } => {
                    self.deposed(now, owner);
                    return;
                }
            }
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        let (dest, release) = match &self.role {
            Role::Primary(l) => {
                if self.cfg.ack_path == AckPath::Direct && matches!(msg, Message::Ack(_)) {
                    return;
                }
                match l.conn_of(to) {
                    Some(c) => (
                        Dest::Peer(c),
                        l.peers
                            .get(&c)
                            .and_then(|p| p.set.as_ref())
                            .map(|s| s.release),
                    ),
                    None => return,
                }
            }
            Role::Standby(f) if f.conn => (Dest::Leader, f.leader_set.as_ref().map(|s| s.release)),
            _ => return,
        };
        let msg = match release {
            Some(r) => match self.downgrade_for(to, r, msg) {
                Some(m) => m,
                None => return,
            },
            None => msg,
        };
        let to = dest;
        self.coalesce(to, &msg);
        self.emit(Output::Send {
            to,
            frame: Frame::Msg(msg),
        });
    }

    /// A receipt watermark or a forwarded ACK says everything an earlier
    /// one of its channel and stream says: drop the earlier one if it is
    /// still waiting here, so a batch of updates costs the peer one of
    /// each per channel rather than one per update. The new one goes
    /// last, after the frames the earlier one followed.
    fn coalesce(&mut self, to: Dest, msg: &Message) {
        // The outputs of one batch; an older one has been sent already.
        const LOOK_BACK: usize = 512;
        let key = |m: &Message| match *m {
            Message::Have { channel, epoch, .. } | Message::HaveDepth { channel, epoch, .. } => {
                Some((0, channel, epoch))
            }
            Message::Ack(a) => Some((1, a.channel, a.epoch)),
            _ => None,
        };
        let Some(k) = key(msg) else { return };
        let older = self
            .out
            .iter()
            .enumerate()
            .rev()
            .take(LOOK_BACK)
            .find(|(_, o)| {
                matches!(o, Output::Send { to: t, frame: Frame::Msg(m) } if *t == to && key(m) == Some(k))
            })
            .map(|(i, _)| i);
        if let Some(i) = older {
            self.out.remove(i);
        }
    }

    fn refuse(&mut self, request: RequestId, kind: RefusalKind, message: String) {
        self.emit(Output::Refused {
            request,
            refusal: Refusal {
                kind,
                message,
                primary: None,
            },
        });
    }

    fn tick(&mut self, now: Micros) {
        let acts = match &mut self.role {
            Role::Primary(l) => l.engine.on_tick(),
            Role::Standby(f) if f.handshaken && f.rebase_to.is_none() => f.engine.on_tick(),
            Role::TakingOver(t) => t.engine.on_tick(),
            Role::Preparing(_) => vec![Action::Kernel(KernelCmd::Registers)],
            _ => Vec::new(),
        };
        self.run(now, acts);
        self.standby_tick(now);
        self.primary_tick(now);
    }

    /// Role transitions driven by what we see.
    fn check(&mut self, now: Micros) {
        self.tcp_round_timeout(now);
        match &self.role {
            Role::Standby(_) => self.standby_check(now),
            Role::Primary(_) => self.primary_check(now),
            _ => {}
        }
    }

    fn on_kernel(&mut self, now: Micros, replies: Vec<KernelReply>) {
        for r in replies {
            let acts = match &mut self.role {
                Role::Primary(_) => {
                    self.primary_kernel(now, r);
                    continue;
                }
                Role::Preparing(_) => {
                    self.prepared(now, r);
                    continue;
                }
                Role::TakingOver(t) => t.engine.on_kernel(r),
                Role::Standby(f) => f.engine.on_kernel(r),
                Role::Stopped => Vec::new(),
            };
            self.run(now, acts);
        }
        self.poll_takeover(now);
        self.check_replay_done(now);
    }

    fn shutdown(&mut self, now: Micros) {
        if let Role::Primary(l) = &mut self.role {
            if l.handover.is_some() {
                return;
            }
            if let Some(to) = l.hot_peer() {
                l.start_handover(to, None, true, now);
                tracing::info!(to = %self.name_of(to), "handing over before exit");
                return;
            }
            tracing::warn!(
                "no hot standby: exiting without handover (the next primary relearns from the kernel)"
            );
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.role = Role::Stopped;
        self.emit(Output::Exit);
    }

    /// Become a standby holding nothing (after a deposition, a lost
    /// takeover race or a switchover): it waits for a primary to follow.
    fn become_standby(&mut self, now: Micros, why: &str) {
        tracing::info!(why, "becoming standby");
        if let Role::Primary(l) = &self.role {
            let conns: Vec<ConnId> = l.peers.keys().copied().collect();
            for conn in conns {
                self.emit(Output::ClosePeer {
                    conn,
                    orderly: false,
                });
            }
            self.emit(Output::Withdraw);
        }
        self.role = Role::Standby(follow::Follow::new(&self.cfg, self.me, now, false));
        self.emit(Output::AbandonRequests);
        self.join_acks();
    }

    fn join_acks(&mut self) {
        if self.cfg.ack_path != AckPath::Forward {
            self.emit(Output::JoinAcks);
        }
    }

    /// A primary the kernel fenced stops writing and follows the new one
    /// (it never promotes itself again on its own: that would fence the
    /// new primary in turn).
    fn deposed(&mut self, now: Micros, owner: Epoch) {
        tracing::warn!(owner, "fenced by a newer primary: stepping down");
        self.become_standby(now, "deposed");
    }
}
