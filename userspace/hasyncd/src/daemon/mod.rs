//! The running daemon: one thread, one `poll(2)` loop, the engine's state
//! machines fed from sockets and timers, their actions carried out here.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | sockets, the poll loop, ticks, signals |
//! | `act.rs` | carrying out engine actions (kernel, peers, requesters) |
//! | `standby.rs` | following a primary: connect, handshake, ACK sources |
//! | `election.rs` | one new primary among several standbys |
//! | `takeover.rs` | standby → primary, and starting as primary |
//! | `primary.rs` | accepting standbys, handover, fencing checks, audit |
//! | `control.rs` | the control API: requests in, answers out |
//! | `status.rs` | `hasync status` |
//!
//! Kernel calls are synchronous netlink round trips (microseconds); TIPC
//! sockets are nonblocking. The engine's timers are one periodic tick.

mod act;
mod control;
mod election;
mod primary;
mod standby;
mod status;
mod takeover;

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use hasync_ctl::{Services, TakeoverReport};
use hasync_engine::{NodeId, RequestId};
use hasync_nl as nl;
use hasync_tipc::{
    RdmSocket, Scope, SeqPacketListener, ServiceRange, SocketAddr, Subscription, TipcSocket,
    TopologyConnection, TopologyEvent, TIPC_MAX_USER_MSG_SIZE,
};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::config::{Config, Role as CfgRole};
use crate::conn::Conn;
use crate::fault::Faults;
use crate::kernel::KernelAdapter;
use crate::tolerance::LinkTolerance;
use hasync_engine::handshake::node_id;

pub use primary::PrimaryRole;
pub use standby::StandbyRole;
pub use takeover::TakeoverRole;

/// Engine timer period: retransmissions, `Have` reports, checks.
pub const TICK: Duration = Duration::from_millis(100);
/// Most control connections at once.
const CONTROL_CONNS_MAX: usize = 64;

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The kernel module is missing or refused a setup call.
    #[error("kernel: {0}")]
    Kernel(String),
    /// TIPC is not usable.
    #[error("tipc: {0}")]
    Tipc(String),
    /// A system call of the loop failed.
    #[error("{0}")]
    Os(String),
}

/// What the daemon is doing now.
#[allow(clippy::large_enum_variant)]
pub enum Role {
    /// Following (or looking for) a primary.
    Standby(StandbyRole),
    /// Becoming primary.
    TakingOver(TakeoverRole),
    /// Primary.
    Primary(PrimaryRole),
    /// Switched over and exiting.
    Stopping,
}

impl Role {
    /// The name `status` reports.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Standby(_) => "standby",
            Role::TakingOver(_) => "taking-over",
            Role::Primary(_) => "primary",
            Role::Stopping => "stopping",
        }
    }
}

/// Run-time options that are not configuration (benchmarks).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// At takeover, replay every section of every channel (the prior art's
    /// full relearn), for the selective-vs-full benchmark.
    pub full_replay: bool,
}

/// A control connection and what it is waiting for.
struct CtlConn {
    conn: Conn,
}

/// The daemon.
pub struct Daemon {
    cfg: Config,
    opts: Options,
    me: NodeId,
    services: Services,
    kernel: KernelAdapter<nl::Client>,
    role: Role,
    topo: TopologyConnection,
    /// Sockets publishing the replication service: the primaries we see.
    primaries: BTreeSet<SocketAddr>,
    /// This unit's election socket, bound to its unit service.
    unit_sock: RdmSocket,
    /// Units up (their unit services are published), by engine node id.
    units_up: BTreeSet<NodeId>,
    local: SeqPacketListener,
    ctl: BTreeMap<u64, CtlConn>,
    /// Engine request id → (control connection, client's id).
    waiting: BTreeMap<RequestId, (u64, u64)>,
    next_token: u64,
    next_request: RequestId,
    acks: Option<nl::Monitor>,
    signals: SignalFd,
    faults: Faults,
    next_tick: Instant,
    next_audit: Option<Instant>,
    /// Keeps the TIPC bearers at the configured link tolerance.
    tolerance: LinkTolerance,
    /// The last takeover this daemon made.
    report: Option<TakeoverReport>,
    /// Names of peers by engine node id (from handshakes).
    names: BTreeMap<NodeId, String>,
    buf: Vec<u8>,
    exit: bool,
}

/// Something `poll` found ready.
#[derive(Debug, Clone, Copy)]
enum Src {
    Signal,
    Topology,
    Acks,
    Local,
    Unit,
    Control,
    Replication,
    Ctl(u64),
    Peer(u64),
    Leader,
}

impl Daemon {
    /// Set up kernel, TIPC and signals; nothing is claimed or published
    /// yet.
    pub fn new(cfg: Config, opts: Options, faults: Faults) -> Result<Self, DaemonError> {
        // First, so that links to the peers already run with it when the
        // services are published and watched.
        let tolerance = LinkTolerance::start(cfg.limits.link_tolerance_ms, Instant::now());
        let me = node_id(&cfg.node);
        let services = Services {
            service_type: cfg.tipc.service_type,
            instance: cfg.tipc.instance,
        };
        let client = nl::Client::connect().map_err(|e| {
            DaemonError::Kernel(format!("cannot reach hasync.ko (is it loaded?): {e}"))
        })?;
        let mut kernel = KernelAdapter::new(client, crate::kernel::DEFAULT_MAX_BATCH);
        ensure_channels(&cfg, kernel.port_mut())?;

        let topo = TopologyConnection::connect().map_err(|e| {
            DaemonError::Tipc(format!("topology server: {e} (is the tipc module loaded?)"))
        })?;
        let range = ServiceRange::single(services.replication());
        topo.subscribe(&Subscription::ports(range))
            .map_err(|e| DaemonError::Tipc(format!("subscribe to {range}: {e}")))?;
        topo.set_nonblocking(true)
            .map_err(|e| DaemonError::Tipc(e.to_string()))?;
        let units = services.units();
        topo.subscribe(&Subscription::ports(units))
            .map_err(|e| DaemonError::Tipc(format!("subscribe to {units}: {e}")))?;
        let unit_sock = RdmSocket::bind(services.unit(me), Scope::Cluster)
            .map_err(|e| DaemonError::Tipc(format!("publish {}: {e}", services.unit(me))))?;
        unit_sock
            .set_nonblocking(true)
            .map_err(|e| DaemonError::Tipc(e.to_string()))?;
        let local = SeqPacketListener::bind(services.local(), Scope::Node)
            .map_err(|e| DaemonError::Tipc(format!("publish {}: {e}", services.local())))?;
        local
            .set_nonblocking(true)
            .map_err(|e| DaemonError::Tipc(e.to_string()))?;

        let mut mask = SigSet::empty();
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGPIPE);
        mask.thread_block()
            .map_err(|e| DaemonError::Os(format!("sigprocmask: {e}")))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| DaemonError::Os(format!("signalfd: {e}")))?;

        let now = Instant::now();
        let standby = StandbyRole::new(&cfg, me, now, cfg.role == CfgRole::Auto);
        Ok(Daemon {
            me,
            services,
            kernel,
            role: Role::Standby(standby),
            topo,
            primaries: BTreeSet::new(),
            unit_sock,
            units_up: BTreeSet::new(),
            local,
            ctl: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_token: 1,
            next_request: 1,
            acks: None,
            signals,
            faults,
            next_tick: now + TICK,
            next_audit: None,
            tolerance,
            report: None,
            names: BTreeMap::new(),
            buf: vec![0; TIPC_MAX_USER_MSG_SIZE],
            exit: false,
            opts,
            cfg,
        })
    }

    /// Run until SIGTERM/SIGINT (after a handover when primary).
    pub fn run(mut self) -> Result<(), DaemonError> {
        tracing::info!(node = %self.cfg.node, id = self.me, role = %self.cfg.role, "hasyncd starting");
        if self.cfg.role == CfgRole::Primary {
            self.start_as_primary();
        }
        while !self.exit {
            let ready = self.poll()?;
            for (src, flags) in ready {
                self.dispatch(src, flags);
            }
            let now = Instant::now();
            if now >= self.next_tick {
                self.next_tick = now + TICK;
                self.tick(now);
            }
            if self.next_audit.is_some_and(|t| now >= t) {
                self.next_audit = Some(now + Duration::from_secs(u64::from(self.cfg.audit_period)));
                self.periodic_audit();
            }
            self.tolerance.poll(now);
            self.check_role(Instant::now());
        }
        tracing::info!("hasyncd stopped");
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<(Src, PollFlags)>, DaemonError> {
        let mut fds: Vec<(Src, BorrowedFd<'_>, PollFlags)> = Vec::new();
        let rd = PollFlags::POLLIN;
        fds.push((Src::Signal, self.signals.as_fd(), rd));
        fds.push((Src::Topology, self.topo.as_fd(), rd));
        fds.push((Src::Local, self.local.as_fd(), rd));
        fds.push((Src::Unit, self.unit_sock.as_fd(), rd));
        if let Some(m) = &self.acks {
            fds.push((Src::Acks, borrow_raw(m), rd));
        }
        for (&t, c) in &self.ctl {
            let mut f = rd;
            if c.conn.wants_write() {
                f |= PollFlags::POLLOUT;
            }
            fds.push((Src::Ctl(t), c.conn.fd(), f));
        }
        match &self.role {
            Role::Primary(p) => {
                fds.push((Src::Replication, p.listener.as_fd(), rd));
                fds.push((Src::Control, p.control.as_fd(), rd));
                for (&t, peer) in &p.peers {
                    let mut f = rd;
                    if peer.conn.wants_write() {
                        f |= PollFlags::POLLOUT;
                    }
                    fds.push((Src::Peer(t), peer.conn.fd(), f));
                }
            }
            Role::Standby(s) => {
                if let Some(c) = &s.conn {
                    let mut f = rd;
                    if c.wants_write() {
                        f |= PollFlags::POLLOUT;
                    }
                    fds.push((Src::Leader, c.fd(), f));
                }
            }
            Role::TakingOver(_) | Role::Stopping => {}
        }
        let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|(_, fd, f)| PollFd::new(*fd, *f)).collect();
        let wait = self.next_tick.saturating_duration_since(Instant::now());
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut pfds, PollTimeout::from(ms)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(DaemonError::Os(format!("poll: {e}"))),
        }
        Ok(fds
            .iter()
            .zip(pfds.iter())
            .filter_map(|((src, _, _), p)| {
                let r = p.revents().unwrap_or(PollFlags::empty());
                (!r.is_empty()).then_some((*src, r))
            })
            .collect())
    }

    fn dispatch(&mut self, src: Src, flags: PollFlags) {
        match src {
            Src::Signal => self.on_signal(),
            Src::Topology => self.on_topology(),
            Src::Acks => self.on_acks(),
            Src::Local => self.accept_control(false),
            Src::Unit => self.on_unit(),
            Src::Control => self.accept_control(true),
            Src::Replication => self.accept_peer(),
            Src::Ctl(t) => self.on_ctl(t, flags),
            Src::Peer(t) => self.on_peer(t, flags),
            Src::Leader => self.on_leader(flags),
        }
    }

    fn on_signal(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            match sig {
                Some(Signal::SIGPIPE) | None => {}
                Some(s) => {
                    tracing::info!(signal = %s, "shutting down");
                    self.shutdown();
                }
            }
        }
    }

    /// SIGTERM/SIGINT: a primary hands over to a hot standby first.
    fn shutdown(&mut self) {
        if let Role::Primary(p) = &mut self.role {
            if p.handover.is_some() {
                return;
            }
            if let Some(to) = p.hot_peer() {
                tracing::info!(to = %self.names.get(&to).map_or("?", String::as_str), "handing over before exit");
                p.start_handover(to, None, true);
                return;
            }
            tracing::warn!("no hot standby: exiting without handover (the next primary relearns from the kernel)");
        }
        self.exit = true;
    }

    fn on_topology(&mut self) {
        loop {
            match self.topo.recv() {
                Ok(TopologyEvent::Published { found, .. })
                    if found.type_ == self.services.units().type_ =>
                {
                    tracing::debug!(unit = found.lower, "unit up");
                    self.units_up.insert(found.lower);
                }
                Ok(TopologyEvent::Withdrawn { found, .. })
                    if found.type_ == self.services.units().type_ =>
                {
                    tracing::debug!(unit = found.lower, "unit down");
                    self.units_up.remove(&found.lower);
                    self.unit_down(found.lower);
                }
                Ok(TopologyEvent::Published { publisher, .. }) => {
                    tracing::debug!(%publisher, "primary service published");
                    self.primaries.insert(publisher);
                }
                Ok(TopologyEvent::Withdrawn { publisher, .. }) => {
                    tracing::info!(%publisher, "primary service withdrawn");
                    self.primaries.remove(&publisher);
                }
                Ok(TopologyEvent::SubscriptionTimeout { .. }) => {}
                Err(e) if e.is_would_block() => break,
                Err(e) => {
                    // Without the topology server we cannot see a primary
                    // die: stop rather than run blind.
                    tracing::error!(error = %e, "topology connection lost; exiting");
                    self.exit = true;
                    break;
                }
            }
        }
        self.check_role(Instant::now());
    }

    fn tick(&mut self, now: Instant) {
        let acts = match &mut self.role {
            Role::Primary(p) => p.engine.on_tick(),
            Role::Standby(s) if s.handshaken && s.rebase_to.is_none() => s.engine.on_tick(),
            Role::TakingOver(t) => t.engine.on_tick(),
            _ => Vec::new(),
        };
        self.act(acts);
        self.standby_tick(now);
        self.primary_tick(now);
    }

    /// Role transitions driven by what we see (primaries published,
    /// connections, handover progress).
    fn check_role(&mut self, now: Instant) {
        match &self.role {
            Role::Standby(_) => self.standby_check(now),
            Role::Primary(_) => self.primary_check(now),
            Role::TakingOver(_) | Role::Stopping => {}
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn accept_control(&mut self, cluster: bool) {
        loop {
            let accepted = match (&self.role, cluster) {
                (Role::Primary(p), true) => p.control.accept(true),
                (_, true) => return,
                (_, false) => self.local.accept(true),
            };
            match accepted {
                Ok((stream, _)) => {
                    if self.ctl.len() >= CONTROL_CONNS_MAX {
                        tracing::warn!("too many control connections; refusing one");
                        continue;
                    }
                    match Conn::new(stream) {
                        Ok(conn) => {
                            let t = self.token();
                            self.ctl.insert(t, CtlConn { conn });
                        }
                        Err(e) => tracing::warn!(error = %e, "control connection setup failed"),
                    }
                }
                Err(e) if e.is_would_block() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on the control service failed");
                    return;
                }
            }
        }
    }
}

fn borrow_raw(m: &nl::Monitor) -> BorrowedFd<'_> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `m`, which outlives the returned
    // borrow (it is tied to `m`'s lifetime).
    unsafe { BorrowedFd::borrow_raw(m.as_raw_fd()) }
}

/// Create the configured channels that do not exist; refuse to run on a
/// channel whose section count differs from the configuration.
fn ensure_channels(cfg: &Config, client: &mut nl::Client) -> Result<(), DaemonError> {
    for c in &cfg.channels {
        match client.channel(c.id) {
            Ok(k) if k.sections == c.sections.get() => {}
            Ok(k) => {
                return Err(DaemonError::Kernel(format!(
                    "channel {} exists with {} sections; the configuration says {}",
                    c.id,
                    k.sections,
                    c.sections.get()
                )))
            }
            Err(_) => {
                let req = nl::NewChannel {
                    id: c.id,
                    name: c.name.clone(),
                    sections: Some(c.sections.get()),
                };
                if let Err(e) = client.channel_new(&req) {
                    // Another daemon may have created it meanwhile.
                    match client.channel(c.id) {
                        Ok(k) if k.sections == c.sections.get() => {}
                        _ => {
                            return Err(DaemonError::Kernel(format!(
                                "cannot create channel {}: {e}",
                                c.id
                            )))
                        }
                    }
                } else {
                    tracing::info!(
                        channel = c.id,
                        sections = c.sections.get(),
                        "channel created"
                    );
                }
            }
        }
    }
    Ok(())
}
