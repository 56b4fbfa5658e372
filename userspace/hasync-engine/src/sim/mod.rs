//! Deterministic fault-injection simulator.
//!
//! One seed fixes everything: the scenario (how many control units, which
//! kill point, which trailing policy, cookie log length, loss rates) and
//! every delay, loss and request. The cluster is the real state machines of
//! this crate ([`Primary`], [`Standby`], [`Takeover`]) plus the
//! [`ModelKernel`], wired by links that delay (so they reorder) and drop.
//! Every peer message goes through the wire codec, so the codec is tested
//! end to end too.
//!
//! A run has an active phase (requests, faults, one or two kills, the old
//! primary coming back as a zombie and/or restarting) and a settle phase
//! (reliable links, no new requests) that runs until the cluster is
//! quiescent; then [`check`] verifies the invariants. A failing seed is
//! rerun with tracing and its event log printed.

pub mod check;
pub mod lifecycle;
pub mod ratio;
pub mod rng;
pub mod timeline;

use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::{KernelCmd, KernelReply, ModelKernel};
use crate::planner::{Plan, Policy};
use crate::primary::{Primary, PrimaryConfig};
use crate::standby::{Mode, Standby, StandbyConfig};
use crate::table::{IfName, IfRecord, Op, SectionCount};
use crate::takeover::{Outcome, Takeover};
use crate::wire::Message;
use crate::{Action, ChannelId, Epoch, NodeId, Opid, RequestId};
use rng::Rng;
use timeline::Timeline;

/// Where the primary is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// At a random time.
    Random,
    /// Right after the kernel applied an update a standby has not received.
    KernelBeforeStandby,
    /// Right after a standby received an update the kernel has not applied.
    StandbyBeforeKernel,
    /// The kernel's ACK to the primary is lost and the primary dies.
    AckLost,
    /// As `KernelBeforeStandby`, then the new primary dies mid-replay and a
    /// third unit takes over.
    SecondFailoverMidReplay,
    /// While a third unit is being bulk synced.
    MidBulkSync,
    /// The primary loses every standby (its links time out), confirms
    /// alone for a while, then dies: the kernel holds changes confirmed
    /// to clients that no standby ever saw.
    Isolated,
}

/// Which way ACKs reach the standbys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPath {
    /// Forwarded by the primary and from the kernel's multicast group.
    Both,
    /// Only forwarded by the primary.
    Forwarded,
    /// Only from the kernel's multicast group: the primary's forwarded
    /// ACKs are suppressed. The multicast is then modelled as lossless
    /// (delayed and reordered only): a standby has no way to recover a lost
    /// *last* multicast ACK by itself (that needs a read of the kernel's
    /// register, which the kernel command set does not offer to standbys),
    /// so the engine's primary always forwards ACKs as the backstop.
    Direct,
}

/// Scenario knobs derived from the seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Seed.
    pub seed: u64,
    /// Control units (ids 0..n; 0 starts as primary).
    pub nodes: u32,
    /// Channels.
    pub channels: u32,
    /// Sections per channel.
    pub sections: u32,
    /// Kernel cookie log length.
    pub cookie_log: usize,
    /// Trailing policy.
    pub policy: Policy,
    /// Kill point.
    pub kill: KillPoint,
    /// Loss per mille on peer links.
    pub peer_loss: u64,
    /// Loss per mille of kernel replies/multicast.
    pub kernel_loss: u64,
    /// Max one-way delay.
    pub max_delay: u64,
    /// Requests during the active phase.
    pub requests: u32,
    /// The old primary first comes back as a zombie (alive, unaware).
    pub zombie: bool,
    /// Primary window.
    pub window: usize,
    /// ACK path to the standbys.
    pub ack_path: AckPath,
    /// Bulk sync chunk budget and credit window, in bytes.
    pub chunk_bytes: usize,
    /// Bulk sync credit window per standby.
    pub sync_window: usize,
}

/// Bulk sync pacing drawn apart from the rest of a scenario (so every seed
/// keeps the rest of its scenario): small pages split sections, a small
/// window holds chunks back.
pub(crate) fn draw_pacing(seed: u64) -> (usize, usize) {
    let mut r = Rng::new(seed ^ 0xc4a_2b5e);
    let chunk = [20, 60, 200, crate::bulk_sync::CHUNK_BYTES][r.below(4) as usize];
    let window = [1, 150, 1000, 1 << 20][r.below(4) as usize];
    (chunk, window)
}

impl Scenario {
    /// Derive a scenario from a seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut r = Rng::new(seed ^ 0x5ce9_a210);
        let kill = match r.below(6) {
            0 => KillPoint::Random,
            1 => KillPoint::KernelBeforeStandby,
            2 => KillPoint::StandbyBeforeKernel,
            3 => KillPoint::AckLost,
            4 => KillPoint::SecondFailoverMidReplay,
            _ => KillPoint::MidBulkSync,
        };
        // Drawn apart so every other seed keeps its scenario.
        let kill = match kill {
            KillPoint::Random if Rng::new(seed ^ 0x150_1a7e).chance(500) => KillPoint::Isolated,
            k => k,
        };
        let nodes = match kill {
            KillPoint::SecondFailoverMidReplay | KillPoint::MidBulkSync => 3,
            _ => 2 + r.below(4) as u32,
        };
        let policy = match r.below(3) {
            0 => Policy::Replay,
            1 => Policy::Discard,
            _ => Policy::Budget {
                max_ops: r.below(6) as usize,
            },
        };
        Scenario {
            seed,
            nodes,
            channels: 4 + r.below(4) as u32,
            sections: 1 << r.range(0, 4),
            cookie_log: if r.chance(250) { 1 } else { 64 },
            policy,
            kill,
            peer_loss: r.below(80),
            kernel_loss: r.below(40),
            max_delay: r.range(1, 12),
            requests: r.range(30, 90) as u32,
            zombie: r.chance(500),
            window: r.range(2, 16) as usize,
            ack_path: match r.below(4) {
                0 => AckPath::Forwarded,
                1 => AckPath::Direct,
                _ => AckPath::Both,
            },
            chunk_bytes: draw_pacing(seed).0,
            sync_window: draw_pacing(seed).1,
        }
    }
}

/// A control unit's role.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// Primary (or a zombie that has not learnt it was deposed).
    Primary(Primary),
    /// Standby.
    Standby(Standby),
    /// Taking over.
    TakingOver(Takeover),
    /// Dead.
    Dead,
}

#[derive(Debug, Clone)]
enum Ev {
    /// Peer message (encoded bytes) `from` → `to`.
    Peer(NodeId, NodeId, Vec<u8>),
    /// Kernel command from a node.
    ToKernel(NodeId, KernelCmd),
    /// Kernel reply to a node.
    FromKernel(NodeId, KernelReply),
    /// Kernel multicast ACK to a node.
    Multicast(NodeId, crate::wire::Ack),
    /// Timer.
    Tick(NodeId),
    /// A requester submits to whoever it thinks is primary.
    Request(RequestId),
    /// Failure detector fires for a dead primary.
    Detect,
    /// The old primary comes back.
    Return(NodeId),
}

/// A confirmed or refused request, for the checker.
#[derive(Debug, Clone)]
pub struct RequestRec {
    /// Channel.
    pub channel: ChannelId,
    /// The ops.
    pub ops: Vec<Op>,
    /// Confirmed with this opid.
    pub confirmed: Option<Opid>,
}

/// A takeover's record for the checker.
#[derive(Debug, Clone)]
pub struct TakeoverRec {
    /// New primary.
    pub node: NodeId,
    /// The plan.
    pub plan: Plan,
    /// Kernel cookie history at plan time: per channel, all (opid, cookie)
    /// applied so far (the checker's ground truth, unbounded).
    pub history: BTreeMap<ChannelId, Vec<(Opid, u64)>>,
    /// Standby dirty masks and applied opids at takeover start.
    pub before: BTreeMap<ChannelId, (Opid, u64, usize)>,
}

/// The simulated cluster.
pub struct Sim {
    /// Scenario.
    pub sc: Scenario,
    rng: Rng,
    /// Current time.
    pub now: u64,
    timeline: Timeline<Ev>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Kernel.
    pub kernel: ModelKernel,
    /// Requests.
    pub requests: BTreeMap<RequestId, RequestRec>,
    /// Takeovers done.
    pub takeovers: Vec<TakeoverRec>,
    /// Who requesters talk to.
    pub primary: NodeId,
    /// Nodes killed (in order).
    pub killed: Vec<NodeId>,
    /// Kernel history per channel: (opid, cookie) of every applied update.
    pub history: BTreeMap<ChannelId, Vec<(Opid, u64)>>,
    kills_left: u32,
    armed: bool,
    /// The isolated primary, and when it dies.
    isolated: Option<(NodeId, u64)>,
    settling: bool,
    delivered_to_standby: BTreeSet<(ChannelId, Opid)>,
    max_epoch: Epoch,
    /// Event log (only when tracing).
    pub trace: Option<Vec<String>>,
    /// Zombie was fenced before restarting.
    pub zombie_fenced: bool,
    channel_list: Vec<(ChannelId, SectionCount)>,
    pcfg: PrimaryConfig,
    takeover_before: BTreeMap<ChannelId, (Opid, u64, usize)>,
    /// Request tags of every update the kernel applied, per channel, in order.
    pub applied_tags: BTreeMap<ChannelId, Vec<RequestId>>,
    /// Elections held: (candidates, winner).
    pub elections: Vec<(usize, NodeId)>,
}

const TICK: u64 = 25;
const ACTIVE: u64 = 800;
const DETECT: u64 = 30;
const SETTLE_MAX: u64 = 20_000;

impl Sim {
    /// Build the cluster for a scenario.
    pub fn new(sc: Scenario, trace: bool) -> Self {
        let sections = SectionCount::new(sc.sections).unwrap_or(SectionCount::ONE);
        let channel_list: Vec<(ChannelId, SectionCount)> =
            (0..sc.channels).map(|c| (c, sections)).collect();
        let pcfg = PrimaryConfig {
            window: sc.window,
            backlog: 256,
            sync_window: sc.sync_window,
            chunk_bytes: sc.chunk_bytes,
            ..PrimaryConfig::default()
        };
        let mut sim = Sim {
            rng: Rng::new(sc.seed),
            now: 0,
            timeline: Timeline::default(),
            nodes: Vec::new(),
            kernel: ModelKernel::new(&channel_list, sc.cookie_log),
            requests: BTreeMap::new(),
            takeovers: Vec::new(),
            primary: 0,
            killed: Vec::new(),
            history: BTreeMap::new(),
            kills_left: if sc.kill == KillPoint::SecondFailoverMidReplay {
                2
            } else {
                1
            },
            armed: false,
            settling: false,
            delivered_to_standby: BTreeSet::new(),
            max_epoch: 1,
            trace: trace.then(Vec::new),
            zombie_fenced: false,
            isolated: None,
            channel_list,
            pcfg,
            takeover_before: BTreeMap::new(),
            applied_tags: BTreeMap::new(),
            elections: Vec::new(),
            sc,
        };
        let mut p = Primary::new(0, 1, &sim.channel_list, sim.pcfg);
        for n in 1..sim.sc.nodes {
            p.attach_follower(n);
        }
        sim.nodes.push(Node::Primary(p));
        for n in 1..sim.sc.nodes {
            let (mut s, hello) = Standby::new(
                n,
                0,
                1,
                &sim.channel_list,
                StandbyConfig { max_pending: 64 },
            );
            // Start Hot on empty channels (both sides are at opid 0), except
            // the unit that must be bulk synced during the run.
            let rejoin = sim.sc.kill == KillPoint::MidBulkSync && n == 2;
            if !rejoin {
                for c in s.channels.values_mut() {
                    c.mode = Mode::Hot;
                }
            } else {
                if let Node::Primary(p) = &mut sim.nodes[0] {
                    p.peers.remove(&n);
                }
                let acts = hello;
                sim.node_actions(n, acts);
            }
            sim.nodes.push(Node::Standby(s));
        }
        for n in 0..sim.sc.nodes {
            let t = sim.rng.range(1, TICK);
            sim.push(t, Ev::Tick(n));
        }
        // Request ids follow submission time, so "later request" is "higher id".
        let mut times: Vec<u64> = (0..sim.sc.requests)
            .map(|_| sim.rng.range(1, ACTIVE))
            .collect();
        times.sort_unstable();
        for (id, t) in times.into_iter().enumerate() {
            sim.push(t, Ev::Request(id as RequestId));
        }
        sim
    }

    fn log(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("t={} {}", self.now, f()));
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.timeline.push(at, ev);
    }

    fn delay(&mut self) -> u64 {
        self.now + self.rng.range(1, self.sc.max_delay)
    }

    fn lost(&mut self, per_mille: u64) -> bool {
        !self.settling && self.rng.chance(per_mille)
    }

    fn node_actions(&mut self, from: NodeId, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Kernel(cmd) => {
                    if !self.lost(self.sc.kernel_loss / 4) {
                        let t = self.delay();
                        self.push(t, Ev::ToKernel(from, cmd));
                    }
                }
                Action::Send { to, msg } => {
                    if matches!(msg, Message::Ack(_)) && self.sc.ack_path == AckPath::Direct {
                        continue;
                    }
                    if matches!(self.isolated, Some((i, _)) if i == from || i == to) {
                        continue;
                    }
                    if !self.lost(self.sc.peer_loss) {
                        let t = self.delay();
                        self.push(t, Ev::Peer(from, to, msg.encode()));
                    }
                }
                Action::Confirm { request, opid, .. } => {
                    self.log(|| format!("n{from} confirm r{request} opid {opid}"));
                    if let Some(r) = self.requests.get_mut(&request) {
                        r.confirmed = Some(opid);
                    }
                }
                Action::Refuse { request, error } => {
                    self.log(|| format!("n{from} refuse r{request} {error}"));
                }
                Action::Deposed { owner } => {
                    self.log(|| format!("n{from} deposed by epoch {owner}"));
                    self.zombie_fenced = true;
                    // Restart as a standby of the current primary.
                    let t = self.now + DETECT;
                    self.push(t, Ev::Return(from));
                }
            }
        }
    }

    /// `KillPoint::Isolated`: cut the primary off from its standbys (it
    /// drops them as a lapsed link tolerance would), then kill it after a
    /// while of confirming alone.
    fn isolate(&mut self, n: NodeId) {
        match self.isolated {
            None => {
                let until = self.now + self.rng.range(100, 600);
                self.log(|| format!("ISOLATE n{n} until {until}"));
                self.isolated = Some((n, until));
                let mut acts = Vec::new();
                if let Node::Primary(p) = &mut self.nodes[n as usize] {
                    for s in (0..self.sc.nodes).filter(|&s| s != n) {
                        acts.extend(p.peer_down(s));
                    }
                }
                self.node_actions(n, acts);
            }
            Some((i, until)) if i == n && self.now >= until => {
                self.kill(n);
                self.isolated = None;
            }
            Some(_) => {}
        }
    }

    fn kill(&mut self, n: NodeId) {
        if self.kills_left == 0 || !matches!(self.nodes[n as usize], Node::Primary(_)) {
            return;
        }
        self.kills_left -= 1;
        self.armed = false;
        self.log(|| format!("KILL n{n}"));
        self.killed.push(n);
        self.nodes[n as usize] = Node::Dead;
        let t = self.now + DETECT;
        self.push(t, Ev::Detect);
    }

    fn request_ops(&mut self, id: RequestId) -> (ChannelId, Vec<Op>) {
        // Skewed: most traffic on channel 0 and 1, so most channels are idle
        // at the kill and must not be replayed.
        let channel = if self.rng.chance(700) {
            self.rng.below(2) as u32
        } else {
            self.rng.below(u64::from(self.sc.channels)) as u32
        };
        let n = self.rng.range(1, 3);
        let mut ops = Vec::new();
        let mut names = BTreeSet::new();
        for _ in 0..n {
            let key = self.rng.below(12);
            if !names.insert(key) {
                continue;
            }
            let Ok(name) = IfName::new(format!("if{key}").as_bytes()) else {
                continue;
            };
            if self.rng.chance(150) {
                ops.push(Op::Del(name));
            } else {
                let mut r = IfRecord::new(name);
                r.mtu = 1280 + (id % 1000) as u32;
                r.admin_up = id % 2 == 0;
                r.description = format!("r{id}").into_bytes();
                ops.push(Op::Set(r));
            }
        }
        (channel, ops)
    }

    fn step(&mut self) -> bool {
        let Some((t, ev)) = self.timeline.pop() else {
            return false;
        };
        self.now = t;
        if !self.settling && self.now >= ACTIVE / 3 && self.kills_left > 0 {
            self.armed = true;
        }
        match ev {
            Ev::Tick(n) => {
                let acts = match &mut self.nodes[n as usize] {
                    Node::Primary(p) => p.on_tick(),
                    Node::Standby(s) => s.on_tick(),
                    Node::TakingOver(t) => t.on_tick(),
                    Node::Dead => Vec::new(),
                };
                self.node_actions(n, acts);
                if self.armed && self.sc.kill == KillPoint::Random && self.rng.chance(60) {
                    self.kill(self.primary);
                }
                if (self.armed || self.isolated.is_some())
                    && self.sc.kill == KillPoint::Isolated
                    && n == self.primary
                {
                    self.isolate(n);
                }
                if self.armed && self.sc.kill == KillPoint::MidBulkSync {
                    let syncing = matches!(&self.nodes[2], Node::Standby(s)
                        if s.channels.values().any(|c| matches!(c.mode, Mode::Syncing(_))));
                    if syncing {
                        self.kill(self.primary);
                    }
                }
                self.push(self.now + TICK, Ev::Tick(n));
            }
            Ev::Request(id) => {
                let (channel, ops) = self.request_ops(id);
                self.log(|| format!("request r{id} ch{channel} {} ops", ops.len()));
                self.requests.insert(
                    id,
                    RequestRec {
                        channel,
                        ops: ops.clone(),
                        confirmed: None,
                    },
                );
                let target = self.primary;
                let acts = match &mut self.nodes[target as usize] {
                    Node::Primary(p) => p.submit(id, channel, ops),
                    _ => Vec::new(),
                };
                self.node_actions(target, acts);
            }
            Ev::ToKernel(from, cmd) => self.kernel_cmd(from, cmd),
            Ev::FromKernel(to, reply) => {
                let acts = match &mut self.nodes[to as usize] {
                    Node::Primary(p) => p.on_kernel(reply),
                    Node::TakingOver(t) => t.on_kernel(reply),
                    Node::Standby(s) => s.on_kernel(reply),
                    _ => Vec::new(),
                };
                self.node_actions(to, acts);
                self.poll_takeover(to);
            }
            Ev::Multicast(to, ack) => {
                let acts = match &mut self.nodes[to as usize] {
                    Node::Standby(s) => s.on_kernel_ack(ack),
                    _ => Vec::new(),
                };
                self.node_actions(to, acts);
            }
            Ev::Peer(from, to, bytes) => self.peer(from, to, &bytes),
            Ev::Detect => self.detect(),
            Ev::Return(n) => self.come_back(n),
        }
        true
    }

    fn kernel_cmd(&mut self, from: NodeId, cmd: KernelCmd) {
        if matches!(self.nodes[from as usize], Node::Dead) && !matches!(cmd, KernelCmd::Update(_)) {
            return;
        }
        let before = self.kernel.applied.len();
        let out = self.kernel.handle(&cmd);
        let applied = self.kernel.applied.len() > before;
        if let (true, KernelCmd::Update(u)) = (applied, &cmd) {
            self.log(|| {
                format!(
                    "kernel apply ch{} e{} opid {} from n{from}",
                    u.channel, u.epoch, u.opid
                )
            });
            self.history.entry(u.channel).or_default().push((
                u.opid,
                crate::table::cookie_of(&u.ops, self.channel_list[0].1),
            ));
            let tags = self.applied_tags.entry(u.channel).or_default();
            let mut mine: Vec<RequestId> = u.ops.iter().filter_map(check::tag).collect();
            mine.dedup();
            tags.extend(mine);
            let unheard = !self.delivered_to_standby.contains(&(u.channel, u.opid));
            if self.armed
                && unheard
                && from == self.primary
                && matches!(
                    self.sc.kill,
                    KillPoint::KernelBeforeStandby | KillPoint::SecondFailoverMidReplay
                )
            {
                self.kill(from);
            }
            if self.armed && self.sc.kill == KillPoint::AckLost && from == self.primary {
                // The ACK dies with the primary.
                self.kill(from);
                return;
            }
            // Second failover: the new primary dies after applying part of
            // its replay.
            if self.sc.kill == KillPoint::SecondFailoverMidReplay
                && self.kills_left == 1
                && from == self.primary
                && !self.takeovers.is_empty()
                && self.rng.chance(400)
            {
                self.kill(from);
                return;
            }
        }
        if !self.lost(self.sc.kernel_loss) {
            let t = self.delay();
            self.push(t, Ev::FromKernel(from, out.reply));
        }
        if let Some(ack) = out
            .multicast
            .filter(|_| self.sc.ack_path != AckPath::Forwarded)
        {
            for n in 0..self.sc.nodes {
                let loss = if self.sc.ack_path == AckPath::Direct {
                    0
                } else {
                    self.sc.kernel_loss
                };
                if matches!(self.nodes[n as usize], Node::Standby(_)) && !self.lost(loss) {
                    let t = self.delay();
                    self.push(t, Ev::Multicast(n, ack));
                }
            }
        }
    }

    fn peer(&mut self, from: NodeId, to: NodeId, bytes: &[u8]) {
        let msg = match Message::decode_exact(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.log(|| format!("DECODE ERROR {e}"));
                return;
            }
        };
        if self.trace.is_some() {
            let brief = match &msg {
                Message::Update(u) => {
                    format!("Update ch{} e{} opid {}", u.channel, u.epoch, u.opid)
                }
                Message::Checkpoint {
                    channel,
                    sync_id,
                    seq,
                    base,
                    opid,
                    ..
                } => {
                    format!("Checkpoint ch{channel} sync {sync_id:#x} seq {seq} base {base} opid {opid}")
                }
                other => format!("{other:?}"),
            };
            self.log(|| format!("deliver n{from}->n{to} {brief}"));
        }
        let acts = match &mut self.nodes[to as usize] {
            Node::Primary(p) => p.handle(from, msg),
            Node::Standby(s) => {
                if let Message::Update(u) = &msg {
                    let fresh = self.delivered_to_standby.insert((u.channel, u.opid));
                    let behind = self
                        .kernel
                        .channels
                        .get(&u.channel)
                        .is_some_and(|k| k.register < u.opid);
                    if fresh
                        && behind
                        && self.armed
                        && self.sc.kill == KillPoint::StandbyBeforeKernel
                    {
                        let p = self.primary;
                        let acts = s.handle(msg);
                        self.node_actions(to, acts);
                        self.kill(p);
                        return;
                    }
                }
                s.handle(msg)
            }
            _ => Vec::new(),
        };
        self.node_actions(to, acts);
    }

    /// The failure detector fires: every live standby advertises its
    /// candidacy (through the wire codec, as the daemons exchange it) and
    /// the engine's [`crate::election::elect`] picks the new primary; each
    /// standby would compute the same winner from the same candidacies.
    fn detect(&mut self) {
        if matches!(
            self.nodes[self.primary as usize],
            Node::Primary(_) | Node::TakingOver(_)
        ) {
            return;
        }
        let mut candidacies = Vec::new();
        for node in &self.nodes {
            if let Node::Standby(s) = node {
                let msg = Message::Candidacy {
                    ask: false,
                    candidacy: s.candidacy(),
                };
                match Message::decode_exact(&msg.encode()) {
                    Ok(Message::Candidacy { candidacy, .. }) => candidacies.push(candidacy),
                    other => {
                        self.log(|| format!("candidacy did not round-trip: {other:?}"));
                        return;
                    }
                }
            }
        }
        let Some(n) = crate::election::elect(&candidacies) else {
            self.log(|| "no standby left".to_string());
            return;
        };
        self.elections.push((candidacies.len(), n));
        let followers: Vec<NodeId> = (0..self.sc.nodes)
            .filter(|&m| m != n && matches!(self.nodes[m as usize], Node::Standby(_)))
            .collect();
        let Node::Standby(s) = std::mem::replace(&mut self.nodes[n as usize], Node::Dead) else {
            return;
        };
        self.takeover_before = s
            .channels
            .iter()
            .map(|(&id, c)| (id, (c.applied, c.dirty, c.pending.len())))
            .collect();
        self.max_epoch += 1;
        let epoch = self.max_epoch;
        self.log(|| format!("ELECT n{n} epoch {epoch} followers {followers:?}"));
        let (t, acts) = Takeover::start(s, epoch, self.sc.policy, self.pcfg, followers);
        self.nodes[n as usize] = Node::TakingOver(t);
        self.primary = n;
        self.node_actions(n, acts);
    }

    fn poll_takeover(&mut self, n: NodeId) {
        let Node::TakingOver(t) = &mut self.nodes[n as usize] else {
            return;
        };
        let (outcome, acts) = t.poll();
        match outcome {
            Outcome::Pending => self.node_actions(n, acts),
            Outcome::Fenced(e) => {
                self.log(|| format!("takeover by n{n} fenced by {e}"));
                self.nodes[n as usize] = Node::Dead;
            }
            Outcome::Primary(p, plan) => {
                self.log(|| format!("n{n} is primary; plan {plan:?}"));
                self.takeovers.push(TakeoverRec {
                    node: n,
                    plan,
                    history: self.history.clone(),
                    before: std::mem::take(&mut self.takeover_before),
                });
                self.nodes[n as usize] = Node::Primary(*p);
                self.node_actions(n, acts);
                // The old primary (primaries) come back later.
                for old in self.killed.clone() {
                    let t = self.now + self.rng.range(50, 200);
                    self.push(t, Ev::Return(old));
                }
            }
        }
    }

    /// The old primary returns: first as a zombie still believing it is
    /// primary (if the scenario says so), else restarted as a standby.
    fn come_back(&mut self, n: NodeId) {
        match &self.nodes[n as usize] {
            Node::Dead if self.sc.zombie && !self.zombie_fenced => {
                // Zombie: its old primary state, talking to the kernel again.
                let mut p = Primary::new(n, 1, &self.channel_list, self.pcfg);
                p.epoch = self.killed_epoch();
                self.log(|| format!("n{n} returns as zombie epoch {}", p.epoch));
                let acts = p.submit(1_000_000 + u64::from(n), 0, self.zombie_ops());
                self.nodes[n as usize] = Node::Primary(p);
                self.node_actions(n, acts);
            }
            Node::Dead | Node::Primary(_) if n != self.primary => {
                let pr = self.primary;
                self.log(|| format!("n{n} restarts as standby of n{pr}"));
                let (s, acts) = Standby::new(
                    n,
                    self.primary,
                    self.max_epoch,
                    &self.channel_list,
                    StandbyConfig { max_pending: 64 },
                );
                self.nodes[n as usize] = Node::Standby(s);
                self.node_actions(n, acts);
            }
            _ => {}
        }
    }

    fn killed_epoch(&self) -> Epoch {
        self.max_epoch.saturating_sub(1).max(1)
    }

    fn zombie_ops(&self) -> Vec<Op> {
        IfName::new(b"zombie")
            .map(|n| {
                let mut r = IfRecord::new(n);
                r.description = b"zombie".to_vec();
                vec![Op::Set(r)]
            })
            .unwrap_or_default()
    }

    /// Run the active phase, then settle. Returns Err(reason) if the
    /// cluster did not converge.
    pub fn run(&mut self) -> Result<(), String> {
        while self.now < ACTIVE {
            if !self.step() {
                break;
            }
        }
        // An isolated primary still alive at the end dies now: it never
        // rejoins its standbys by itself.
        if let Some((n, _)) = self.isolated.take() {
            self.kill(n);
        }
        self.settling = true;
        self.kills_left = 0;
        self.armed = false;
        let deadline = self.now + SETTLE_MAX;
        let mut next_check = self.now;
        while self.now < deadline {
            if !self.step() {
                break;
            }
            if self.now >= next_check {
                next_check = self.now + TICK;
                if self.quiescent() {
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

    /// One-line state summary per node, for failure reports.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            match n {
                Node::Primary(p) => {
                    s += &format!(
                        "\n n{i} primary e{} deposed {:?} peers {:?}",
                        p.epoch,
                        p.deposed,
                        p.peers.keys().collect::<Vec<_>>()
                    );
                    for (id, c) in &p.channels {
                        let k = self.kernel.channels.get(id).map(|k| (k.register, k.owner));
                        s += &format!("\n   ch{id} last {} kacked {} flight {} backlog {} kernel {:?} haves {:?} syncs {:?}",
                            c.last, c.kacked, c.flight.len(), c.backlog.len(), k,
                            p.peers.iter().map(|(n, pe)| (n, pe.have.get(id))).collect::<Vec<_>>(),
                            p.peers.iter().map(|(n, pe)| (n, pe.syncs.get(id).map(|x| (x.sync_id, x.chunks_sent(), x.read_all(), x.in_flight(), x.max_opid, x.done)))).collect::<Vec<_>>());
                    }
                }
                Node::Standby(sb) => {
                    s += &format!("\n n{i} standby leader n{} e{}", sb.leader, sb.epoch);
                    for (id, c) in &sb.channels {
                        let m = match &c.mode {
                            Mode::Hot => "hot".to_string(),
                            Mode::Cold => "cold".into(),
                            Mode::Syncing(rx) => {
                                format!("sync{} base {} seen {:?}", rx.sync_id, rx.base, rx.seen)
                            }
                        };
                        s += &format!(
                            "\n   ch{id} {m} applied {} acked {} pending {:?} dirty {:#x}",
                            c.applied,
                            c.acked,
                            c.pending.keys().collect::<Vec<_>>(),
                            c.dirty
                        );
                    }
                }
                Node::TakingOver(t) => {
                    s += &format!("\n n{i} taking over, waiting {:?}", t.waiting())
                }
                Node::Dead => s += &format!("\n n{i} dead"),
            }
        }
        s
    }

    /// Start an audit of every channel on the current primary (after a run
    /// has settled), then settle again so repairs propagate.
    pub fn audit_and_settle(&mut self) -> Result<u64, String> {
        let p = self.primary;
        let mut acts = Vec::new();
        let mut repaired_before = 0;
        if let Node::Primary(pr) = &mut self.nodes[p as usize] {
            repaired_before = pr.stats.repaired_sections;
            let ids: Vec<ChannelId> = pr.channels.keys().copied().collect();
            for id in ids {
                acts.extend(pr.start_audit(id));
            }
        }
        self.node_actions(p, acts);
        let deadline = self.now + SETTLE_MAX;
        // Let the digests and reports travel before testing quiescence.
        let until = self.now + 10 * TICK;
        while self.now < until && self.step() {}
        while self.now < deadline {
            if !self.step() {
                break;
            }
            if self.quiescent() {
                let repaired = match &self.nodes[p as usize] {
                    Node::Primary(pr) => pr.stats.repaired_sections - repaired_before,
                    _ => 0,
                };
                return Ok(repaired);
            }
        }
        Err(format!("not quiescent after audit: {}", self.describe()))
    }

    /// Everything delivered and every live standby Hot at the primary's position.
    pub fn quiescent(&self) -> bool {
        let Node::Primary(p) = &self.nodes[self.primary as usize] else {
            return false;
        };
        if p.deposed.is_some() {
            return false;
        }
        if !check::idle(p, &self.kernel) {
            return false;
        }
        for (i, n) in self.nodes.iter().enumerate() {
            match n {
                Node::Standby(s) => {
                    let ok = s.channels.iter().all(|(id, c)| {
                        c.mode == Mode::Hot
                            && c.pending.is_empty()
                            && p.channels.get(id).is_some_and(|pc| pc.last == c.applied)
                    });
                    if !ok {
                        return false;
                    }
                }
                Node::TakingOver(_) => return false,
                Node::Primary(_) if i as NodeId != self.primary => return false,
                // A killed primary has yet to come back and rejoin
                // (invariant 5 is checked on every run, not only on those
                // where the return happened to precede quiescence).
                Node::Dead if self.killed.contains(&(i as NodeId)) => return false,
                _ => {}
            }
        }
        true
    }
}

/// Run one seed; on failure rerun it with tracing and return the report.
pub fn run_seed(seed: u64) -> Result<Sim, String> {
    let sc = Scenario::from_seed(seed);
    let mut sim = Sim::new(sc.clone(), false);
    let res = sim.run().and_then(|()| check::check(&sim));
    match res {
        Ok(()) => Ok(sim),
        Err(e) => {
            let mut traced = Sim::new(sc.clone(), true);
            let _ = traced.run();
            let log = traced.trace.take().unwrap_or_default();
            let tail: Vec<String> = log.iter().rev().take(400).rev().cloned().collect();
            Err(format!(
                "seed {seed} FAILED: {e}\nscenario: {sc:?}\nreplay: SIM_SEED={seed} cargo test -p hasync-engine --release sim_replay -- --nocapture\nevent log (last {} of {} events):\n{}",
                tail.len(),
                log.len(),
                tail.join("\n")
            ))
        }
    }
}
