//! Deterministic simulator of whole control units: the [`Node`]s hasyncd
//! runs, with everything around them modelled.
//!
//! Where [`super::Sim`] wires the engine's components by hand (an oracle
//! picks the new primary), here every decision is the node's own: when the
//! primary is lost, whether to reconnect or take over, the election, the
//! takeover epoch, fencing, handover, rejoin. The model around them:
//!
//! * one kernel ([`ModelKernel`]) shared by every unit, as on one box;
//! * replication connections that are reliable and ordered (TIPC
//!   SEQPACKET) until they are reset; election datagrams that may be lost;
//! * a topology service: each unit learns which units are up and who
//!   publishes the replication service some milliseconds after a process
//!   dies, and only after the link tolerance when a link is cut;
//! * faults drawn from the seed at random moments: the primary killed, a
//!   standby killed, the primary cut off from every other unit while it
//!   keeps running (and confirming alone), the units split in two, a
//!   planned switchover; cuts heal, killed units restart as standbys;
//! * timers that fire late by a random jitter.
//!
//! After the active phase every cut heals and every unit restarts; the run
//! settles until one primary has every other unit Hot, then [`check`]
//! verifies: kernel, primary and standbys equal; every change confirmed to
//! a requester present; no update applied twice or out of order; the
//! kernel never accepted an older writer after a newer one.

use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::{KernelCmd, ModelKernel};
use crate::node::{
    AckPath, Dest, Event, Frame, Node, NodeConfig, Output, Phase, RoleName, StartRole, MS,
};
use crate::planner::Policy;
use crate::primary::PrimaryConfig;
use crate::standby::{Mode, StandbyConfig};
use crate::table::{IfName, IfRecord, Op, Prefix, SectionCount};
use crate::{ChannelId, NodeId, RecordChange, RequestId};

use super::rng::Rng;
use super::timeline::Timeline;
use super::RequestRec;

/// The simulator's clock: milliseconds (the nodes get microseconds).
pub type Millis = u64;

/// One fault of a run's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Kill the primary's process.
    KillPrimary,
    /// Kill a standby's process.
    KillStandby,
    /// Cut the primary off from every other unit; it keeps running.
    IsolatePrimary,
    /// Split the units in two groups.
    Split,
    /// Ask the primary to hand over.
    Switchover,
    /// Kill the next unit seen in this phase (within a second).
    KillIn(Phase),
}

/// The phases a [`Fault::KillIn`] aims at.
const KILL_PHASES: [Phase; 7] = [
    Phase::Syncing,
    Phase::Electing,
    Phase::Rebasing,
    Phase::Preparing,
    Phase::Claiming,
    Phase::Replaying,
    Phase::HandingOver,
];

/// Scenario knobs derived from the seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Seed.
    pub seed: u64,
    /// Control units (2..=5).
    pub units: usize,
    /// Channels.
    pub channels: u32,
    /// Sections per channel.
    pub sections: u32,
    /// Kernel cookie log length.
    pub cookie_log: usize,
    /// Trailing policy.
    pub policy: Policy,
    /// ACK path.
    pub ack_path: AckPath,
    /// Primary window.
    pub window: usize,
    /// Faults and when (ms).
    pub faults: Vec<(Millis, Fault)>,
    /// Process death → withdrawal seen (ms).
    pub detect: Millis,
    /// Cut link → declared down (ms).
    pub tolerance: Millis,
    /// Largest timer lateness (ms).
    pub jitter: Millis,
    /// Largest one-way delay (ms).
    pub max_delay: Millis,
    /// Election datagram loss (per mille).
    pub datagram_loss: u64,
    /// Requests during the active phase.
    pub requests: u32,
    /// The replication connections' link, when it is slow and lossy.
    pub link: Option<Link>,
    /// Records per channel in the kernel before any unit starts.
    pub prefill: u32,
}

/// A bandwidth-limited, lossy link under the replication connections (as
/// TIPC over a slow or noisy bearer): each direction sends one frame at a
/// time at `bytes_per_ms`; a lost frame is retransmitted by the link layer
/// after `rto` ms, holding everything behind it (delivery stays in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Bandwidth each way.
    pub bytes_per_ms: u64,
    /// Frames lost and retransmitted (per mille).
    pub loss: u64,
    /// Link-layer retransmission delay (ms).
    pub rto: Millis,
}

/// What the link carried, for the bulk-sync checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Bytes sent to standbys.
    pub to_standby: u64,
    /// Most bytes ever queued for the wire on one connection's way to a
    /// standby (what hasyncd's socket would hold: bounded, or it drops the
    /// peer as not reading).
    pub peak_queue: u64,
    /// Frames the link retransmitted.
    pub retransmitted: u64,
}

const ACTIVE: Millis = 6000;
const SETTLE_MAX: Millis = 120_000;

impl Scenario {
    /// Derive a scenario from a seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut r = Rng::new(seed ^ 0x11fe_c7c1e);
        let units = r.range(2, 5) as usize;
        let mut faults: Vec<(Millis, Fault)> = (0..r.range(1, 4))
            .map(|_| {
                let f = match r.below(7) {
                    0 => Fault::KillPrimary,
                    1 => Fault::KillStandby,
                    2 => Fault::IsolatePrimary,
                    3 => Fault::Split,
                    4 => Fault::Switchover,
                    _ => Fault::KillIn(KILL_PHASES[r.below(KILL_PHASES.len() as u64) as usize]),
                };
                (r.range(800, ACTIVE - 1000), f)
            })
            .collect();
        faults.sort_unstable_by_key(|f| f.0);
        Scenario {
            seed,
            units,
            channels: r.range(2, 5) as u32,
            sections: 1 << r.range(0, 3),
            cookie_log: if r.chance(200) { 2 } else { 64 },
            policy: match r.below(3) {
                0 => Policy::Replay,
                1 => Policy::Discard,
                _ => Policy::Budget {
                    max_ops: r.below(6) as usize,
                },
            },
            ack_path: match r.below(3) {
                0 => AckPath::Forward,
                1 => AckPath::Direct,
                _ => AckPath::Both,
            },
            window: r.range(2, 16) as usize,
            faults,
            detect: r.range(5, 40),
            tolerance: r.range(150, 400),
            jitter: r.range(0, 30),
            max_delay: r.range(1, 10),
            datagram_loss: r.below(100),
            requests: r.range(40, 160) as u32,
            link: None,
            prefill: 0,
        }
    }

    /// A bulk-sync scenario: two units, `channels` channels of 16 sections
    /// with `prefill` records each in the kernel, a slow lossy link, a
    /// stream of requests while the standby syncs, and sometimes a fault
    /// in the middle of the sync (the standby killed, the link cut).
    pub fn bulk(seed: u64, channels: u32, prefill: u32) -> Self {
        let mut r = Rng::new(seed ^ 0xb01c_5afe);
        let faults = match r.below(4) {
            0 => vec![(r.range(500, 2500), Fault::KillIn(Phase::Syncing))],
            1 => vec![(r.range(500, 2500), Fault::IsolatePrimary)],
            _ => Vec::new(),
        };
        Scenario {
            seed,
            units: 2,
            channels,
            sections: 16,
            cookie_log: 64,
            policy: Policy::Replay,
            ack_path: AckPath::Both,
            window: r.range(4, 64) as usize,
            faults,
            detect: r.range(5, 40),
            tolerance: r.range(150, 400),
            jitter: r.range(0, 20),
            max_delay: r.range(1, 5),
            datagram_loss: 0,
            requests: r.range(200, 600) as u32,
            link: Some(Link {
                bytes_per_ms: r.range(500, 4000),
                loss: r.below(30),
                rto: r.range(10, 200),
            }),
            prefill,
        }
    }
}

struct Unit {
    name: String,
    id: NodeId,
    node: Option<Node>,
    /// Incarnation: events for an older one are dropped.
    gen: u64,
    /// Its connection to a primary.
    conn: Option<u64>,
    published: bool,
    acks: bool,
    timer: Option<Millis>,
    /// What its topology view shows: publishers and units up.
    seen_pub: BTreeSet<usize>,
    seen_up: BTreeSet<usize>,
}

struct Conn {
    standby: usize,
    primary: usize,
    sgen: u64,
    pgen: u64,
    open_s: bool,
    open_p: bool,
    /// Reset by a cut or a death: nothing more is delivered.
    reset: bool,
    /// Last delivery time each way (keeps each direction in order).
    to_p: Millis,
    to_s: Millis,
    /// With a [`Link`]: when each direction's wire is free (µs).
    wire_p: u64,
    wire_s: u64,
}

#[derive(Debug)]
enum Ev {
    Timer(usize, u64),
    Kernel(usize, u64, KernelCmd),
    Reply(usize, u64, crate::kernel::KernelReply),
    Multicast(usize, u64, crate::wire::Ack),
    Connected(usize, u64, bool),
    Accept(u64),
    ToPrimary(u64, Vec<u8>),
    ToStandby(u64, Vec<u8>),
    CloseAtPrimary(u64),
    CloseAtStandby(u64, bool),
    Datagram(usize, u64, Vec<u8>),
    Reconcile(usize),
    LinkDown(Vec<(usize, usize)>),
    LinkUp(Vec<(usize, usize)>),
    Fault(Fault),
    Heal(Vec<(usize, usize)>),
    Restart(usize),
    Request(RequestId),
    Settle,
}

/// The simulated cluster.
pub struct Cluster {
    /// Scenario.
    pub sc: Scenario,
    rng: Rng,
    /// Virtual time (ms).
    pub now: Millis,
    timeline: Timeline<Ev>,
    units: Vec<Unit>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    cut: BTreeSet<(usize, usize)>,
    down: BTreeSet<(usize, usize)>,
    settling: bool,
    /// A [`Fault::KillIn`] waiting for its phase, until when.
    armed: Option<(Phase, Millis)>,
    /// Kills that found their phase.
    pub phase_kills: Vec<Phase>,
    /// The kernel.
    pub kernel: ModelKernel,
    /// Requests by id (ids follow submission time).
    pub requests: BTreeMap<RequestId, RequestRec>,
    /// Request tags the kernel applied, per channel, in order.
    pub applied_tags: BTreeMap<ChannelId, Vec<RequestId>>,
    /// Takeovers completed.
    pub takeovers: usize,
    /// Faults carried out.
    pub faults_done: Vec<Fault>,
    /// Requests refused as fenced or not primary.
    pub refused: usize,
    /// Event log (when tracing).
    pub trace: Option<Vec<String>>,
    switchovers: u64,
    /// What the link carried.
    pub link_stats: LinkStats,
    /// Submission time of each request (ms).
    submitted: BTreeMap<RequestId, Millis>,
    /// Each confirmed request's submission time and the wait for its
    /// confirmation (ms).
    pub latencies: Vec<(Millis, Millis)>,
    /// When the primary first counted every other unit a hot standby.
    pub all_hot_at: Option<Millis>,
    /// What the units said about the TCP face, in order.
    pub tcp_log: Vec<(usize, TcpNote)>,
}

/// A unit's output about the TCP face, or its publishing, for
/// [`Cluster::tcp_conns_survive_takeover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpNote {
    /// [`Output::TcpCommitted`].
    Committed {
        /// Round.
        round: u64,
        /// Standbys holding it.
        holders: usize,
    },
    /// [`Output::RestoreTcp`], with the connections' ids.
    Restore(Vec<u64>),
    /// [`Output::Publish`].
    Publish,
}

/// Unit `u`'s name.
fn unit_name(u: usize) -> String {
    format!("u{u}")
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Cluster {
    /// Build the cluster for a scenario: unit 0 starts as primary.
    pub fn new(sc: Scenario, trace: bool) -> Self {
        let sections = SectionCount::new(sc.sections).unwrap_or(SectionCount::ONE);
        let channels: Vec<(ChannelId, SectionCount)> =
            (0..sc.channels).map(|c| (c, sections)).collect();
        let names: Vec<String> = (0..sc.units).map(unit_name).collect();
        let mut c = Cluster {
            rng: Rng::new(sc.seed),
            now: 0,
            timeline: Timeline::default(),
            units: Vec::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            settling: false,
            armed: None,
            phase_kills: Vec::new(),
            kernel: ModelKernel::new(&channels, sc.cookie_log),
            requests: BTreeMap::new(),
            applied_tags: BTreeMap::new(),
            takeovers: 0,
            faults_done: Vec::new(),
            refused: 0,
            trace: trace.then(Vec::new),
            switchovers: 0,
            link_stats: LinkStats::default(),
            submitted: BTreeMap::new(),
            latencies: Vec::new(),
            all_hot_at: None,
            tcp_log: Vec::new(),
            sc,
        };
        c.prefill();
        for (u, name) in names.iter().enumerate() {
            c.units.push(Unit {
                name: name.clone(),
                id: crate::handshake::node_id(name),
                node: None,
                gen: 0,
                conn: None,
                published: false,
                acks: false,
                timer: None,
                seen_pub: BTreeSet::new(),
                seen_up: BTreeSet::new(),
            });
            let start = if u == 0 {
                StartRole::Primary
            } else {
                StartRole::Standby
            };
            c.start_unit(u, start);
        }
        let mut times: Vec<Millis> = (0..c.sc.requests)
            .map(|_| c.rng.range(300, ACTIVE))
            .collect();
        times.sort_unstable();
        for (id, t) in times.into_iter().enumerate() {
            c.push(t, Ev::Request(id as RequestId));
        }
        for (t, f) in c.sc.faults.clone() {
            c.push(t, Ev::Fault(f));
        }
        c.push(ACTIVE, Ev::Settle);
        c
    }

    /// The scenario's records, written to the kernel as an earlier
    /// primary (epoch 1) would have: the first primary relearns them.
    fn prefill(&mut self) {
        let sections = SectionCount::new(self.sc.sections).unwrap_or(SectionCount::ONE);
        for channel in 0..self.sc.channels {
            let ops: Vec<Op> = (0..self.sc.prefill)
                .filter_map(|k| {
                    let name = IfName::new(format!("p{channel}-{k}").as_bytes()).ok()?;
                    let mut r = IfRecord::new(name);
                    r.mtu = 1500 + k % 1000;
                    r.mac = [2, 0, 0, (channel >> 8) as u8, channel as u8, k as u8];
                    r.addrs = vec![Prefix::V4([10, (k >> 8) as u8, k as u8, 1], 24)];
                    r.description =
                        format!("prefilled record {k} of channel {channel}").into_bytes();
                    Some(Op::Set(r))
                })
                .collect();
            for (i, batch) in ops.chunks(crate::table::MAX_OPS).enumerate() {
                let update = crate::wire::Update {
                    channel,
                    epoch: 1,
                    opid: i as u64 + 1,
                    cookie: crate::table::cookie_of(batch, sections),
                    ops: batch.to_vec(),
                };
                self.kernel.handle(&KernelCmd::Update(update));
            }
        }
    }

    fn config(&self, u: usize, start: StartRole) -> NodeConfig {
        let sections = SectionCount::new(self.sc.sections).unwrap_or(SectionCount::ONE);
        // A slow link gets a deployment's pacing (the default chunk, a
        // window of a quarter to four megabytes); the other scenarios draw
        // tiny ones that exercise chunk splitting.
        let (chunk_bytes, sync_window) = match self.sc.link {
            Some(_) => (
                crate::bulk_sync::CHUNK_BYTES,
                (256 << 10) << (self.sc.seed % 5),
            ),
            None => super::draw_pacing(self.sc.seed),
        };
        NodeConfig {
            name: self.units[u].name.clone(),
            start,
            channels: (0..self.sc.channels).map(|c| (c, sections)).collect(),
            standby: StandbyConfig { max_pending: 64 },
            primary: PrimaryConfig {
                window: self.sc.window,
                backlog: 256,
                sync_window,
                chunk_bytes,
                ..PrimaryConfig::default()
            },
            policy: self.sc.policy,
            unit_byte: u8::try_from(u + 1).unwrap_or(u8::MAX),
            // Every unit of the scenario, as a deployment lists them all
            // (units start one by one: `self.units` is not whole yet).
            units: (0..self.sc.units).map(unit_name).collect(),
            link_tolerance: self.sc.tolerance * MS,
            audit_period: None,
            ack_path: self.sc.ack_path,
            full_replay: false,
            lacking: Default::default(),
        }
    }

    fn start_unit(&mut self, u: usize, start: StartRole) {
        let cfg = self.config(u, start);
        let unit = &mut self.units[u];
        unit.gen += 1;
        unit.node = Some(Node::new(cfg, self.now * MS));
        unit.conn = None;
        unit.published = false;
        unit.acks = false;
        unit.timer = None;
        unit.seen_pub.clear();
        unit.seen_up.clear();
        self.log(|| format!("START u{u} {start:?}"));
        self.drain(u);
        self.reconcile_all(1);
    }

    fn log(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("t={} {}", self.now, f()));
        }
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.timeline.push(at, ev);
    }

    fn delay(&mut self) -> Millis {
        self.now + self.rng.range(1, self.sc.max_delay)
    }

    fn alive(&self, u: usize, gen: u64) -> bool {
        self.units[u].node.is_some() && self.units[u].gen == gen
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        a == b || !self.cut.contains(&pair(a, b))
    }

    /// Feed `ev` to unit `u` and carry out what it asks.
    fn feed(&mut self, u: usize, ev: Event<'_>) {
        let now = self.now * MS;
        let Some(n) = self.units[u].node.as_mut() else {
            return;
        };
        n.handle(now, ev);
        self.drain(u);
    }

    fn drain(&mut self, u: usize) {
        while let Some(o) = self.units[u].node.as_mut().and_then(Node::poll_output) {
            self.output(u, o);
        }
        if let Some((phase, until)) = self.armed {
            if self.now > until || self.settling {
                self.armed = None;
            } else if self.units[u]
                .node
                .as_ref()
                .is_some_and(|n| n.phase() == phase)
            {
                self.armed = None;
                self.phase_kills.push(phase);
                self.log(|| format!("kill in phase {phase:?}"));
                self.kill(u);
                let t = self.now + self.rng.range(300, 2500);
                self.push(t, Ev::Restart(u));
                return;
            }
        }
        let next = self.units[u]
            .node
            .as_ref()
            .and_then(Node::poll_timeout)
            .map(|t| t.div_ceil(MS));
        if let Some(t) = next {
            if self.units[u].timer != Some(t) {
                self.units[u].timer = Some(t);
                let late = if self.settling {
                    0
                } else {
                    self.rng.range(0, self.sc.jitter)
                };
                let gen = self.units[u].gen;
                self.push(t.max(self.now) + late, Ev::Timer(u, gen));
            }
        }
    }

    fn output(&mut self, u: usize, o: Output) {
        let gen = self.units[u].gen;
        match o {
            Output::Kernel(cmd) => {
                let t = self.delay();
                self.push(t, Ev::Kernel(u, gen, cmd));
            }
            Output::Send { to, frame } => self.send(u, to, &frame),
            Output::Connect => {
                let me = u;
                let targets: Vec<usize> = self.units[u]
                    .seen_pub
                    .iter()
                    .copied()
                    .filter(|&p| p != me && self.units[p].published && self.linked(me, p))
                    .collect();
                if targets.is_empty() {
                    self.push(self.now, Ev::Connected(u, gen, false));
                    return;
                }
                let p = targets[self.rng.below(targets.len() as u64) as usize];
                let c = self.next_conn;
                self.next_conn += 1;
                self.conns.insert(
                    c,
                    Conn {
                        standby: u,
                        primary: p,
                        sgen: gen,
                        pgen: self.units[p].gen,
                        open_s: true,
                        open_p: true,
                        reset: false,
                        to_p: self.now,
                        to_s: self.now,
                        wire_p: self.now * 1000,
                        wire_s: self.now * 1000,
                    },
                );
                self.units[u].conn = Some(c);
                self.log(|| format!("u{u} connects to u{p} (c{c})"));
                self.push(self.now, Ev::Connected(u, gen, true));
                let t = self.delay();
                if let Some(x) = self.conns.get_mut(&c) {
                    x.to_p = t;
                }
                self.push(t, Ev::Accept(c));
            }
            Output::CloseLeader => {
                if let Some(c) = self.units[u].conn.take() {
                    if let Some(x) = self.conns.get_mut(&c) {
                        x.open_s = false;
                    }
                    self.ordered(c, true, None, Ev::CloseAtPrimary(c));
                }
            }
            Output::ClosePeer { conn, orderly } => {
                if let Some(x) = self.conns.get_mut(&conn) {
                    if x.open_p {
                        x.open_p = false;
                        self.ordered(conn, false, None, Ev::CloseAtStandby(conn, orderly));
                    }
                }
            }
            Output::Publish => {
                self.tcp_log.push((u, TcpNote::Publish));
                self.units[u].published = true;
                self.log(|| format!("u{u} publishes"));
                self.reconcile_all(self.sc.max_delay);
            }
            Output::Withdraw => {
                self.units[u].published = false;
                self.log(|| format!("u{u} withdraws"));
                self.reconcile_all(self.sc.detect);
            }
            Output::JoinAcks => self.units[u].acks = true,
            Output::LeaveAcks => self.units[u].acks = false,
            Output::Confirmed { request, opid, .. } => {
                self.log(|| format!("u{u} confirms r{request} opid {opid}"));
                if let Some(r) = self.requests.get_mut(&request) {
                    r.confirmed = Some(opid);
                }
                if let Some(t) = self.submitted.remove(&request) {
                    self.latencies.push((t, self.now - t));
                }
            }
            Output::Refused { request, refusal } => {
                self.refused += 1;
                self.log(|| format!("u{u} refuses r{request}: {}", refusal.message));
            }
            Output::Report(r) => {
                self.takeovers += 1;
                self.log(|| format!("u{u} takeover done epoch {} ({})", r.epoch, r.reason));
            }
            Output::Exit => {
                self.log(|| format!("u{u} exits"));
                self.kill(u);
                let t = self.now + 200;
                self.push(t, Ev::Restart(u));
            }
            Output::TcpCommitted { round, holders, .. } => {
                self.tcp_log
                    .push((u, TcpNote::Committed { round, holders }));
            }
            Output::RestoreTcp { conns, .. } => {
                let ids = conns.iter().map(|c| c.id).collect();
                self.tcp_log.push((u, TcpNote::Restore(ids)));
            }
            Output::SwitchedOver { .. } | Output::Audited { .. } | Output::AbandonRequests => {}
        }
    }

    /// Deliver `ev` on connection `c` towards the primary or the standby,
    /// never before what was sent that way earlier. A frame of `len` bytes
    /// over a [`Link`] arrives when the wire has carried it (see
    /// [`Cluster::on_wire`]); anything else after a random delay.
    fn ordered(&mut self, c: u64, to_primary: bool, len: Option<usize>, ev: Ev) {
        let earliest = match (self.sc.link, len) {
            (Some(link), Some(len)) => match self.on_wire(c, to_primary, len, link) {
                Some(t) => t,
                None => return,
            },
            _ => self.delay(),
        };
        let Some(x) = self.conns.get_mut(&c) else {
            return;
        };
        let last = if to_primary { &mut x.to_p } else { &mut x.to_s };
        let t = earliest.max(*last);
        *last = t;
        self.push(t, ev);
    }

    /// When a frame of `len` bytes sent now on `c` arrives over `link`: it
    /// waits for the wire, takes its transmission time and sometimes a
    /// link-layer retransmission. `None` if the connection is gone.
    fn on_wire(&mut self, c: u64, to_primary: bool, len: usize, link: Link) -> Option<Millis> {
        let now_us = self.now * 1000;
        let lost = self.rng.chance(link.loss);
        let prop = self.rng.range(1, self.sc.max_delay);
        let x = self.conns.get_mut(&c)?;
        let wire = if to_primary {
            &mut x.wire_p
        } else {
            &mut x.wire_s
        };
        let start = (*wire).max(now_us);
        let len = len as u64;
        if !to_primary {
            let queued = (start - now_us) * link.bytes_per_ms / 1000 + len;
            self.link_stats.peak_queue = self.link_stats.peak_queue.max(queued);
            self.link_stats.to_standby += len;
        }
        *wire = start + (len * 1000).div_ceil(link.bytes_per_ms);
        let mut t = wire.div_ceil(1000) + prop;
        if lost {
            self.link_stats.retransmitted += 1;
            t += link.rto;
        }
        Some(t)
    }

    fn send(&mut self, u: usize, to: Dest, frame: &Frame) {
        let bytes = frame.encode();
        match to {
            Dest::Leader => {
                let Some(c) = self.units[u].conn else { return };
                let Some(x) = self.conns.get(&c) else { return };
                if x.reset || !self.linked(x.standby, x.primary) {
                    return;
                }
                self.ordered(c, true, Some(bytes.len()), Ev::ToPrimary(c, bytes));
            }
            Dest::Peer(c) => {
                let Some(x) = self.conns.get(&c) else { return };
                if x.reset || !x.open_p || !self.linked(x.standby, x.primary) {
                    return;
                }
                self.ordered(c, false, Some(bytes.len()), Ev::ToStandby(c, bytes));
            }
            Dest::Unit(n) => {
                let Some(v) = self.units.iter().position(|x| x.id == n) else {
                    return;
                };
                if !self.linked(u, v) || (!self.settling && self.rng.chance(self.sc.datagram_loss))
                {
                    return;
                }
                let t = self.delay();
                let gen = self.units[v].gen;
                self.push(t, Ev::Datagram(v, gen, bytes));
            }
        }
    }

    /// Every unit's topology view catches up with the truth in `after` ms.
    fn reconcile_all(&mut self, after: Millis) {
        for o in 0..self.units.len() {
            self.push(self.now + after, Ev::Reconcile(o));
        }
    }

    fn reconcile(&mut self, o: usize) {
        if self.units[o].node.is_none() {
            return;
        }
        let visible =
            |c: &Cluster, v: usize| c.units[v].node.is_some() && !c.down.contains(&pair(o, v));
        let up: BTreeSet<usize> = (0..self.units.len())
            .filter(|&v| visible(self, v))
            .collect();
        let publ: BTreeSet<usize> = up
            .iter()
            .copied()
            .filter(|&v| self.units[v].published)
            .collect();
        let was_up = std::mem::take(&mut self.units[o].seen_up);
        let was_pub = std::mem::take(&mut self.units[o].seen_pub);
        self.units[o].seen_up = up.clone();
        self.units[o].seen_pub = publ.clone();
        // One read of the topology server: one batch.
        let mut evs = Vec::new();
        for &v in up.difference(&was_up) {
            evs.push(Event::UnitUp(self.units[v].id));
        }
        for &v in was_up.difference(&up) {
            evs.push(Event::UnitDown(self.units[v].id));
        }
        for &v in publ.difference(&was_pub) {
            evs.push(Event::PrimaryUp(v as u64));
        }
        for &v in was_pub.difference(&publ) {
            self.log(|| format!("u{o} sees u{v} withdrawn"));
            evs.push(Event::PrimaryDown(v as u64));
        }
        if evs.is_empty() {
            return;
        }
        let now = self.now * MS;
        if let Some(n) = self.units[o].node.as_mut() {
            n.handle_all(now, evs);
        }
        self.drain(o);
    }

    /// The process dies: its connections reset, its services go.
    fn kill(&mut self, u: usize) {
        self.log(|| format!("KILL u{u}"));
        let unit = &mut self.units[u];
        unit.node = None;
        unit.gen += 1;
        unit.published = false;
        unit.acks = false;
        unit.conn = None;
        unit.timer = None;
        let mine: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, x)| !x.reset && (x.standby == u || x.primary == u))
            .map(|(&c, _)| c)
            .collect();
        for c in mine {
            self.reset_conn(c);
        }
        self.reconcile_all(self.sc.detect);
    }

    /// A connection breaks: each live end learns it.
    fn reset_conn(&mut self, c: u64) {
        let Some(x) = self.conns.get_mut(&c) else {
            return;
        };
        x.reset = true;
        let (s, p) = (x.standby, x.primary);
        let t = self.now + self.rng.range(1, self.sc.max_delay);
        if s != usize::MAX {
            self.push(t, Ev::CloseAtStandby(c, false));
        }
        if p != usize::MAX {
            self.push(t, Ev::CloseAtPrimary(c));
        }
    }

    fn primaries(&self) -> Vec<usize> {
        (0..self.units.len())
            .filter(|&u| {
                self.units[u]
                    .node
                    .as_ref()
                    .is_some_and(|n| n.role() == RoleName::Primary)
            })
            .collect()
    }

    fn fault(&mut self, f: Fault) {
        if let Fault::KillIn(phase) = f {
            self.faults_done.push(f);
            self.armed = Some((phase, self.now + 1000));
            // A primary that is just primary gives the phases after it
            // their chance: lose it (or hand over) to get there.
            let trigger = match phase {
                Phase::Syncing => Fault::KillStandby,
                Phase::HandingOver => Fault::Switchover,
                _ => Fault::KillPrimary,
            };
            return self.fault_now(trigger, false);
        }
        self.fault_now(f, true);
    }

    fn fault_now(&mut self, f: Fault, count: bool) {
        let prims = self.primaries();
        let Some(&p) = prims.first() else {
            self.log(|| format!("FAULT {f:?} skipped: no primary"));
            return;
        };
        if count {
            self.faults_done.push(f);
        }
        self.log(|| format!("FAULT {f:?} (primary u{p})"));
        let n = self.units.len();
        match f {
            Fault::KillPrimary => {
                self.kill(p);
                let t = self.now + self.rng.range(300, 2500);
                self.push(t, Ev::Restart(p));
            }
            Fault::KillStandby => {
                let others: Vec<usize> = (0..n)
                    .filter(|&u| u != p && self.units[u].node.is_some())
                    .collect();
                if let Some(&s) = others.get(self.rng.below(others.len() as u64) as usize) {
                    self.kill(s);
                    let t = self.now + self.rng.range(300, 2500);
                    self.push(t, Ev::Restart(s));
                }
            }
            Fault::IsolatePrimary => {
                let pairs: Vec<(usize, usize)> =
                    (0..n).filter(|&u| u != p).map(|u| pair(u, p)).collect();
                self.cut_links(pairs);
            }
            Fault::Split => {
                let mut side: Vec<bool> = (0..n).map(|_| self.rng.chance(500)).collect();
                if side.iter().all(|&s| s) || side.iter().all(|&s| !s) {
                    side[p] = !side[p];
                }
                let mut pairs = Vec::new();
                for a in 0..n {
                    for b in a + 1..n {
                        if side[a] != side[b] {
                            pairs.push((a, b));
                        }
                    }
                }
                self.cut_links(pairs);
            }
            Fault::Switchover => {
                self.switchovers += 1;
                let id = 10_000_000 + self.switchovers;
                self.feed(p, Event::Switchover { request: id });
            }
            Fault::KillIn(_) => {}
        }
    }

    fn cut_links(&mut self, pairs: Vec<(usize, usize)>) {
        for &x in &pairs {
            self.cut.insert(x);
        }
        self.log(|| format!("CUT {pairs:?}"));
        let t = self.now + self.sc.tolerance;
        self.push(t, Ev::LinkDown(pairs.clone()));
        let heal = t + self.rng.range(50, 2000);
        self.push(heal, Ev::Heal(pairs));
    }

    fn request(&mut self, id: RequestId) {
        let prims = self.primaries();
        if prims.is_empty() {
            return;
        }
        let u = prims[self.rng.below(prims.len() as u64) as usize];
        let channel = if self.rng.chance(700) {
            self.rng.below(2) as u32
        } else {
            self.rng.below(u64::from(self.sc.channels)) as u32
        };
        let key = self.rng.below(12);
        let Ok(name) = IfName::new(format!("if{key}").as_bytes()) else {
            return;
        };
        let del = self.rng.chance(150);
        let op = if del {
            Op::Del(name.clone())
        } else {
            let mut r = IfRecord::new(name.clone());
            r.mtu = 1280 + (id % 1000) as u32;
            r.admin_up = id % 2 == 0;
            r.description = format!("r{id}").into_bytes();
            Op::Set(r)
        };
        self.requests.insert(
            id,
            RequestRec {
                channel,
                ops: vec![op.clone()],
                confirmed: None,
            },
        );
        self.log(|| format!("request r{id} to u{u} ch{channel}"));
        self.submitted.insert(id, self.now);
        let ev = match op {
            Op::Set(r) => Event::Set {
                request: id,
                channel: Some(channel),
                change: RecordChange {
                    admin_up: Some(r.admin_up),
                    mtu: Some(r.mtu),
                    description: Some(r.description),
                    ..RecordChange::new(name)
                },
            },
            _ => Event::Del {
                request: id,
                channel: Some(channel),
                name,
            },
        };
        // Sometimes the outputs are left for the unit's next event: the
        // requests fed meanwhile arrive together and share updates, as a
        // socket's worth of requests does in hasyncd (group commit).
        if self.rng.chance(400) {
            if let Some(n) = self.units[u].node.as_mut() {
                n.handle(self.now * MS, ev);
            }
        } else {
            self.feed(u, ev);
        }
    }

    fn kernel_cmd(&mut self, u: usize, cmd: &KernelCmd) {
        let before = self.kernel.applied.len();
        let out = self.kernel.handle(cmd);
        if self.kernel.applied.len() > before {
            if let KernelCmd::Update(up) = cmd {
                let tags = self.applied_tags.entry(up.channel).or_default();
                tags.extend(up.ops.iter().filter_map(super::check::tag));
            }
        }
        let gen = self.units[u].gen;
        let t = self.delay();
        self.push(t, Ev::Reply(u, gen, out.reply));
        if let Some(ack) = out.multicast {
            for v in 0..self.units.len() {
                if self.units[v].acks && self.units[v].node.is_some() {
                    let t = self.delay();
                    let g = self.units[v].gen;
                    self.push(t, Ev::Multicast(v, g, ack));
                }
            }
        }
    }

    fn step(&mut self) -> bool {
        let Some((t, ev)) = self.timeline.pop() else {
            return false;
        };
        self.now = t;
        match ev {
            Ev::Timer(u, g) => {
                if self.alive(u, g) {
                    self.units[u].timer = None;
                    let now = self.now * MS;
                    if let Some(n) = self.units[u].node.as_mut() {
                        n.handle_timeout(now);
                    }
                    self.drain(u);
                }
            }
            Ev::Kernel(u, g, cmd) => {
                if self.alive(u, g) {
                    self.kernel_cmd(u, &cmd);
                }
            }
            Ev::Reply(u, g, r) => {
                if self.alive(u, g) {
                    self.feed(u, Event::Kernel(vec![r]));
                }
            }
            Ev::Multicast(u, g, a) => {
                if self.alive(u, g) && self.units[u].acks {
                    self.feed(u, Event::KernelAcks(vec![a]));
                }
            }
            Ev::Connected(u, g, ok) => {
                if self.alive(u, g) {
                    self.feed(
                        u,
                        if ok {
                            Event::Connected
                        } else {
                            Event::ConnectFailed
                        },
                    );
                }
            }
            Ev::Accept(c) => self.accept(c),
            Ev::ToPrimary(c, b) => {
                if let Some(x) = self.conns.get(&c) {
                    let p = x.primary;
                    if !x.reset && x.open_p && self.alive(p, x.pgen) {
                        self.feed(p, Event::PeerFrame(c, &b));
                    }
                }
            }
            Ev::ToStandby(c, b) => {
                if let Some(x) = self.conns.get(&c) {
                    let s = x.standby;
                    if !x.reset
                        && x.open_s
                        && self.alive(s, x.sgen)
                        && self.units[s].conn == Some(c)
                    {
                        self.feed(s, Event::LeaderFrame(&b));
                    }
                }
            }
            Ev::CloseAtPrimary(c) => {
                if let Some(x) = self.conns.get_mut(&c) {
                    let (p, g) = (x.primary, x.pgen);
                    if x.open_p {
                        x.open_p = false;
                        if self.alive(p, g) {
                            self.feed(p, Event::PeerClosed(c, "closed"));
                        }
                    }
                }
            }
            Ev::CloseAtStandby(c, planned) => {
                if let Some(x) = self.conns.get_mut(&c) {
                    let (s, g) = (x.standby, x.sgen);
                    if x.open_s {
                        x.open_s = false;
                        if self.alive(s, g) && self.units[s].conn == Some(c) {
                            self.units[s].conn = None;
                            self.feed(
                                s,
                                Event::LeaderClosed {
                                    planned,
                                    why: "closed",
                                },
                            );
                        }
                    }
                }
            }
            Ev::Datagram(u, g, b) => {
                if self.alive(u, g) {
                    self.feed(u, Event::Unit(&b));
                }
            }
            Ev::Reconcile(o) => self.reconcile(o),
            Ev::LinkDown(pairs) => {
                let gone: Vec<(usize, usize)> =
                    pairs.into_iter().filter(|x| self.cut.contains(x)).collect();
                for &x in &gone {
                    self.down.insert(x);
                }
                let crossing: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, x)| !x.reset && gone.contains(&pair(x.standby, x.primary)))
                    .map(|(&c, _)| c)
                    .collect();
                for c in crossing {
                    self.reset_conn(c);
                }
                self.reconcile_all(0);
            }
            Ev::Heal(pairs) => {
                for x in &pairs {
                    self.cut.remove(x);
                }
                self.log(|| format!("HEAL {pairs:?}"));
                let t = self.now + self.rng.range(20, 80);
                self.push(t, Ev::LinkUp(pairs));
            }
            Ev::LinkUp(pairs) => {
                for x in &pairs {
                    if !self.cut.contains(x) {
                        self.down.remove(x);
                    }
                }
                self.reconcile_all(0);
            }
            Ev::Fault(f) => {
                if !self.settling {
                    self.fault(f);
                }
            }
            Ev::Restart(u) => {
                if self.units[u].node.is_none() {
                    self.start_unit(u, StartRole::Auto);
                }
            }
            Ev::Request(id) => {
                if !self.settling {
                    self.request(id);
                }
            }
            Ev::Settle => {
                self.settling = true;
                self.log(|| "SETTLE".into());
                let pairs: Vec<(usize, usize)> = self.cut.iter().copied().collect();
                if !pairs.is_empty() {
                    self.push(self.now, Ev::Heal(pairs));
                }
                for u in 0..self.units.len() {
                    if self.units[u].node.is_none() {
                        self.push(self.now + 100, Ev::Restart(u));
                    }
                }
            }
        }
        true
    }

    fn accept(&mut self, c: u64) {
        let Some(x) = self.conns.get(&c) else { return };
        let (p, g, s) = (x.primary, x.pgen, x.standby);
        let ok = !x.reset && x.open_p && self.alive(p, g) && self.units[p].published;
        if ok {
            let name = self.units[s].name.clone();
            self.feed(p, Event::PeerAccepted(c, name));
        } else if let Some(x) = self.conns.get_mut(&c) {
            x.open_p = false;
            self.ordered(c, false, None, Ev::CloseAtStandby(c, false));
        }
    }

    /// Run the active phase, then settle until quiescent.
    pub fn run(&mut self) -> Result<(), String> {
        let deadline = ACTIVE + SETTLE_MAX;
        let mut next_check = ACTIVE;
        let mut next_hot = 0;
        while self.now < deadline {
            if !self.step() {
                break;
            }
            if self.all_hot_at.is_none() && self.now >= next_hot {
                next_hot = self.now + 10;
                if self.all_hot() {
                    self.all_hot_at = Some(self.now);
                }
            }
            if self.settling && self.now >= next_check {
                next_check = self.now + 100;
                if self.quiescent() {
                    self.all_hot_at.get_or_insert(self.now);
                    return Ok(());
                }
            }
        }
        Err(format!(
            "not quiescent after settle (t={}): {}",
            self.now,
            self.describe()
        ))
    }

    /// After a settled run: corrupt channel 0 of one hot standby's copy,
    /// audit it on the primary through the units' own messages, settle
    /// again; the sections the primary repaired.
    pub fn audit_corrupted_standby(&mut self) -> Result<u64, String> {
        let prims = self.primaries();
        let [p] = prims[..] else {
            return Err("no single primary".into());
        };
        let Some(s) = (0..self.units.len()).find(|&u| u != p && self.units[u].node.is_some())
        else {
            return Err("no standby".into());
        };
        let mut bad = crate::table::IfRecord::new(
            crate::table::IfName::new(b"corrupt0").map_err(|e| e.to_string())?,
        );
        bad.description = b"standby".to_vec();
        let standby = self.units[s].node.as_mut().and_then(Node::standby_mut);
        let Some(c) = standby.and_then(|e| e.channels.get_mut(&0)) else {
            return Err("the standby has no channel 0".into());
        };
        c.table.apply_trusted(&[crate::table::Op::Set(bad)]);
        let before = self.units[p]
            .node
            .as_ref()
            .and_then(Node::primary)
            .map_or(0, |e| e.stats.repaired_sections);
        self.feed(
            p,
            Event::Audit {
                request: u64::MAX,
                channel: Some(0),
            },
        );
        // Let the digests and the report travel before testing quiescence.
        let (travel, deadline) = (self.now + 200, self.now + SETTLE_MAX);
        while self.now < deadline && self.step() {
            if self.now > travel && self.quiescent() {
                break;
            }
        }
        let after = self.units[p]
            .node
            .as_ref()
            .and_then(Node::primary)
            .map_or(0, |e| e.stats.repaired_sections);
        Ok(after - before)
    }

    /// The TCP face across a takeover: the primary commits a round of
    /// `conns`, which its hot standbys acknowledge; it dies; the unit
    /// that takes over hands the same connections back before it
    /// publishes. Returns the round's holders.
    pub fn tcp_conns_survive_takeover(
        &mut self,
        conns: Vec<crate::wire::TcpConn>,
    ) -> Result<usize, String> {
        let prims = self.primaries();
        let [p] = prims[..] else {
            return Err("no single primary".into());
        };
        let ids: Vec<u64> = conns.iter().map(|c| c.id).collect();
        let from = self.tcp_log.len();
        self.feed(p, Event::TcpCommit(conns));
        let (travel, deadline) = (self.now + 200, self.now + SETTLE_MAX);
        while self.now < deadline && self.step() {
            if self.now > travel && self.quiescent() {
                break;
            }
        }
        let holders = self.tcp_log[from..]
            .iter()
            .find_map(|(u, n)| match n {
                TcpNote::Committed { holders, .. } if *u == p => Some(*holders),
                _ => None,
            })
            .ok_or("the round was never committed")?;
        self.kill(p);
        let deadline = self.now + SETTLE_MAX;
        while self.now < deadline && self.step() {
            let prims = self.primaries();
            if prims.len() == 1 && prims[0] != p && self.quiescent() {
                break;
            }
        }
        let notes: Vec<&TcpNote> = self.tcp_log[from..]
            .iter()
            .filter(|(u, _)| *u != p)
            .map(|(_, n)| n)
            .collect();
        match notes
            .iter()
            .position(|n| **n == TcpNote::Restore(ids.clone()))
        {
            Some(r) if notes[r + 1..].contains(&&TcpNote::Publish) => Ok(holders),
            Some(_) => Err(format!("restored after publishing: {notes:?}")),
            None => Err(format!("nothing restored: {notes:?}")),
        }
    }

    /// Encoded bytes of every record the kernel holds: what one full
    /// bulk sync carries.
    pub fn table_bytes(&self) -> u64 {
        self.kernel
            .channels
            .values()
            .flat_map(|c| c.table.iter())
            .map(|r| r.encoded_len() as u64)
            .sum()
    }

    /// One primary counts every other unit a hot standby.
    fn all_hot(&self) -> bool {
        let prims = self.primaries();
        let [p] = prims[..] else { return false };
        self.units[p].node.as_ref().is_some_and(|n| {
            let a = n.attached();
            a.len() == self.units.len() - 1 && a.iter().all(|(_, _, hot)| *hot)
        })
    }

    /// One primary, every other unit a Hot standby at its position,
    /// nothing in flight.
    pub fn quiescent(&self) -> bool {
        let prims = self.primaries();
        let [p] = prims[..] else { return false };
        let Some(pr) = self.units[p].node.as_ref().and_then(Node::primary) else {
            return false;
        };
        if !super::check::idle(pr, &self.kernel) {
            return false;
        }
        // The primary counts every other unit as a hot standby too (what
        // a switchover or a handover at shutdown needs).
        let attached = self.units[p].node.as_ref().map(Node::attached);
        let all_hot = attached
            .is_some_and(|a| a.len() == self.units.len() - 1 && a.iter().all(|(_, _, hot)| *hot));
        if !all_hot {
            return false;
        }
        self.units.iter().enumerate().all(|(u, unit)| {
            u == p
                || unit.node.as_ref().is_some_and(|n| {
                    n.leader().is_some_and(|(_, connected)| connected)
                        && n.standby().is_some_and(|s| {
                            s.channels.iter().all(|(id, c)| {
                                c.mode == Mode::Hot
                                    && c.pending.is_empty()
                                    && pr.channels.get(id).is_some_and(|pc| pc.last == c.applied)
                            })
                        })
                })
        })
    }

    /// One line per unit, for failure reports.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (u, unit) in self.units.iter().enumerate() {
            let Some(n) = &unit.node else {
                s += &format!("\n u{u} dead");
                continue;
            };
            s += &format!(
                "\n u{u} {} epoch {:#x} leader {:?} sees pub {:?} up {:?}",
                n.role().as_str(),
                n.epoch(),
                n.leader(),
                unit.seen_pub,
                unit.seen_up
            );
            if let Some(p) = n.primary() {
                for (id, c) in &p.channels {
                    s += &format!(
                        "\n   ch{id} last {} kacked {} flight {} backlog {} kernel {:?}",
                        c.last,
                        c.kacked,
                        c.flight.len(),
                        c.backlog.len(),
                        self.kernel.channels.get(id).map(|k| (k.register, k.owner))
                    );
                }
                s += &format!("\n   attached {:?}", n.attached());
                for (node, peer) in &p.peers {
                    s += &format!("\n   peer {node}: {}", peer.pacing());
                    for sync in peer.syncs.values().filter(|x| !x.done).take(2) {
                        s += &format!("\n   to {node}: {sync:?}");
                    }
                }
            }
            if let Some(sb) = n.standby() {
                for (id, c) in &sb.channels {
                    let m = match &c.mode {
                        Mode::Hot => "hot",
                        Mode::Cold => "cold",
                        Mode::Syncing(_) => "syncing",
                    };
                    s += &format!(
                        "\n   ch{id} {m} applied {} acked {} pending {}",
                        c.applied,
                        c.acked,
                        c.pending.len()
                    );
                }
            }
        }
        s
    }

    /// The units' nodes, for the checker.
    fn nodes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.units
            .iter()
            .enumerate()
            .filter_map(|(u, x)| x.node.as_ref().map(|n| (u, n)))
    }

    /// The invariants (after [`Cluster::run`] settled).
    pub fn check(&self) -> Result<(), String> {
        let prims = self.primaries();
        let [p] = prims[..] else {
            return Err(format!("{} primaries at the end", prims.len()));
        };
        let Some(pr) = self.units[p].node.as_ref().and_then(Node::primary) else {
            return Err("no primary engine".into());
        };
        // Kernel, primary and every standby hold the same tables.
        let standbys: Vec<_> = self
            .nodes()
            .filter_map(|(u, n)| n.standby().map(|s| (format!("u{u}"), s)))
            .collect();
        super::check::tables_equal(pr, &self.kernel, &standbys)?;
        // Every confirmed change is present (or superseded by a later one).
        super::check::confirmed_present(&self.requests, &self.kernel)?;
        // Opids 1, 2, 3… per channel; epochs never go back (one writer at a
        // time); each request applied at most once, in submission order.
        super::check::applied_in_order(&self.kernel, &self.applied_tags)?;
        Ok(())
    }
}

/// Run one seed; on failure rerun it with its event log and report.
pub fn run_seed(seed: u64) -> Result<Cluster, String> {
    run_scenario(Scenario::from_seed(seed))
}

/// Run one scenario; on failure rerun it with its event log and report.
pub fn run_scenario(sc: Scenario) -> Result<Cluster, String> {
    let seed = sc.seed;
    let mut c = Cluster::new(sc.clone(), false);
    match c.run().and_then(|()| c.check()) {
        Ok(()) => Ok(c),
        Err(e) => {
            let mut traced = Cluster::new(sc.clone(), true);
            let _ = traced.run();
            let log = traced.trace.take().unwrap_or_default();
            let tail: Vec<String> = log.iter().rev().take(300).rev().cloned().collect();
            Err(format!(
                "seed {seed} FAILED: {e}\nscenario: {sc:?}\nreplay: LIFECYCLE_SEED={seed} cargo test -p hasync-engine --release --test lifecycle replay -- --nocapture\nevent log (last {} of {} events):\n{}",
                tail.len(),
                log.len(),
                tail.join("\n")
            ))
        }
    }
}
