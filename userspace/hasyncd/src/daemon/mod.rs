//! The running daemon: one thread, one `poll(2)` loop feeding the engine's
//! [`Node`] (every role decision and timer lives there) with what the
//! sockets and the clock say, and carrying out what it asks.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | sockets, the poll loop, topology, signals, reload, service manager |
//! | `io.rs` | carrying out the node's outputs (kernel, peers, requesters) |
//! | `control.rs` | the control API: requests in, answers out |
//! | `cut.rs` | fault injection: cutting the unit off from the cluster |
//! | `tcp.rs` | the control API's TCP face on the floating service address |
//!
//! Kernel calls are synchronous netlink round trips (microseconds); TIPC
//! sockets are nonblocking.

mod control;
mod cut;
mod io;
mod tcp;

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use hasync_ctl::Services;
use hasync_engine::node::{self, Event, Micros, Node, NodeConfig};
use hasync_engine::wire::Message;
use hasync_engine::RequestId;
use hasync_nl as nl;
use hasync_tipc::{
    RdmSocket, Scope, SeqPacketListener, ServiceRange, SocketAddr, Subscription, TipcSocket,
    TopologyConnection, TopologyEvent, TIPC_MAX_USER_MSG_SIZE,
};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::config::Config;
use crate::conn::Conn;
use crate::fault::{Faults, Point};
use crate::kernel::KernelAdapter;
use crate::notify::Notifier;
use crate::reload::{Reload, Verdict};
use crate::tolerance::LinkTolerance;

/// Most control connections at once.
const CONTROL_CONNS_MAX: usize = 64;
/// Most of them from untrusted nodes, waiting to be told why they are
/// refused; more are closed at once.
const UNTRUSTED_MAX: usize = 4;
/// Longest sleep: the link tolerance keeper polls too.
const MAX_SLEEP: Duration = Duration::from_millis(100);

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

/// The daemon.
pub struct Daemon {
    cfg: Config,
    services: Services,
    kernel: KernelAdapter<nl::Client>,
    node: Node,
    /// The node's clock starts here.
    t0: Instant,
    topo: TopologyConnection,
    /// This unit's election socket, bound to its unit service (none while
    /// cut off).
    unit_sock: Option<RdmSocket>,
    local: SeqPacketListener,
    /// Replication and control listeners, while primary.
    published: Option<(SeqPacketListener, SeqPacketListener)>,
    /// The node asked to publish (kept while cut off).
    want_published: bool,
    /// What the topology server shows: units up and publishers.
    topo_units: BTreeSet<u32>,
    /// TIPC nodes seen running a unit of this cluster (see `trusted_node`),
    /// remembered: a client on a unit's node stays trusted while its
    /// daemon restarts. Replication connections' nodes until greeted.
    trusted_nodes: BTreeSet<u32>,
    peer_nodes: BTreeMap<u64, u32>,
    /// The TIPC node at the other end of the connection to the primary.
    leader_node: Option<u32>,
    /// Control connections from untrusted nodes: refused at their first
    /// request (so that the client reads why), with the reason.
    untrusted: BTreeMap<u64, String>,
    /// Refusals since start: control connections from untrusted nodes.
    refused_control: u64,
    /// Since start: standby connections that ended, connections opened to
    /// a primary.
    peer_drops: u64,
    leader_connects: u64,
    /// Control connections following the event stream (token → the id of
    /// their `events` request), and the state last told them.
    followers: BTreeMap<u64, u64>,
    told: Option<hasync_ctl::events::Snapshot>,
    topo_pubs: BTreeSet<node::Publisher>,
    /// Cut off from the cluster by fault injection (see `cut.rs`).
    cut: bool,
    /// Connection to the primary, while following.
    leader: Option<Conn>,
    /// Standby connections, while primary.
    peers: BTreeMap<u64, Conn>,
    /// Control connections.
    ctl: BTreeMap<u64, Conn>,
    /// The TCP face and its connections, when configured.
    tcp: Option<tcp::Tcp>,
    /// Control connections that sent requests in arrays, and the replies
    /// for them gathered in this round (sent together by `drive`).
    batched: BTreeMap<u64, hasync_ctl::proto::Packer>,
    /// Node request id → (control connection, client's id).
    waiting: BTreeMap<RequestId, (u64, u64)>,
    next_token: u64,
    next_request: RequestId,
    acks: Option<nl::Monitor>,
    signals: SignalFd,
    faults: Faults,
    /// Keeps the TIPC bearers at the configured link tolerance.
    tolerance: LinkTolerance,
    buf: Vec<u8>,
    exit: bool,
    /// The service manager, when one asked to be told (systemd).
    notify: Option<Notifier>,
    /// How SIGHUP re-reads the configuration (none: SIGHUP is ignored).
    reload: Option<Reload>,
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
    TcpListen,
    Tcp(u64),
    Peer(u64),
    Leader,
}

/// A publisher's handle for the node.
fn publisher(a: SocketAddr) -> node::Publisher {
    u64::from(a.node) << 32 | u64::from(a.ref_)
}

impl Daemon {
    /// Set up kernel, TIPC and signals; nothing is claimed or published
    /// yet.
    pub fn new(cfg: Config, mut node: NodeConfig, faults: Faults) -> Result<Self, DaemonError> {
        // First, so that links to the peers already run with it when the
        // services are published and watched.
        let tolerance = LinkTolerance::start(cfg.limits.link_tolerance_ms, Instant::now());
        let services = Services {
            service_type: cfg.tipc.service_type,
            instance: cfg.tipc.instance,
        };
        let client = nl::Client::connect().map_err(|e| {
            DaemonError::Kernel(format!("cannot reach hasync.ko (is it loaded?): {e}"))
        })?;
        let mut kernel = KernelAdapter::new(client, crate::kernel::DEFAULT_MAX_BATCH);
        // Its version and limits, read once: what it supports is checked
        // before anything changes in it, its record limit used below.
        let module = kernel.port_mut().info().map_err(|e| {
            DaemonError::Kernel(format!("cannot read the module's version and limits: {e}"))
        })?;
        crate::kernel::check_module(kernel.port_mut(), &module).map_err(DaemonError::Kernel)?;
        crate::kernel::ensure_channels(&cfg.channels, kernel.port_mut())
            .map_err(DaemonError::Kernel)?;
        node.primary.max_entries =
            crate::kernel::record_limit(cfg.limits.max_records, module.max_entries)
                .map_err(DaemonError::Kernel)?;
        let me = hasync_engine::handshake::node_id(&cfg.node);

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
        let unit_sock = bind_unit(&services, me)?;
        let local = SeqPacketListener::bind(services.local(), Scope::Node)
            .map_err(|e| DaemonError::Tipc(format!("publish {}: {e}", services.local())))?;
        local
            .set_nonblocking(true)
            .map_err(|e| DaemonError::Tipc(e.to_string()))?;

        let mut mask = SigSet::empty();
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGPIPE);
        mask.add(Signal::SIGHUP);
        if cfg!(feature = "fault-injection") {
            mask.add(Signal::SIGUSR1);
        }
        mask.thread_block()
            .map_err(|e| DaemonError::Os(format!("sigprocmask: {e}")))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| DaemonError::Os(format!("signalfd: {e}")))?;

        let tcp = cfg.tcp.clone().map(tcp::Tcp::start).transpose()?;
        tracing::info!(node = %cfg.node, id = me, role = %cfg.role, "hasyncd starting");
        let node = Node::new(node, 0);
        Ok(Daemon {
            services,
            kernel,
            node,
            t0: Instant::now(),
            topo,
            unit_sock: Some(unit_sock),
            local,
            published: None,
            want_published: false,
            topo_units: BTreeSet::new(),
            trusted_nodes: BTreeSet::new(),
            peer_nodes: BTreeMap::new(),
            leader_node: None,
            untrusted: BTreeMap::new(),
            refused_control: 0,
            peer_drops: 0,
            leader_connects: 0,
            followers: BTreeMap::new(),
            told: None,
            topo_pubs: BTreeSet::new(),
            cut: false,
            leader: None,
            peers: BTreeMap::new(),
            ctl: BTreeMap::new(),
            tcp,
            batched: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_token: 1,
            next_request: 1,
            acks: None,
            signals,
            faults,
            tolerance,
            buf: vec![0; TIPC_MAX_USER_MSG_SIZE],
            exit: false,
            notify: Notifier::from_env(),
            reload: None,
            cfg,
        })
    }

    /// SIGHUP reads the configuration again through `reload`.
    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = Some(reload);
        self
    }

    /// Tells the service manager the phase and pings its watchdog.
    fn notify_tick(&mut self) {
        if let Some(n) = &mut self.notify {
            n.phase(self.node.phase(), self.node.epoch());
            n.tick(Instant::now());
        }
    }

    /// SIGHUP: the file again; the log filter changes live, a change to
    /// anything else is refused by name and nothing changes.
    fn on_reload(&mut self) {
        let Some(r) = &self.reload else {
            tracing::warn!("SIGHUP ignored: started without a configuration file");
            return;
        };
        if let Some(n) = &self.notify {
            n.reloading();
        }
        let verdict = crate::reload::reload(r, &mut self.cfg);
        let said = match &verdict {
            Verdict::Unchanged => {
                tracing::info!("reload: the configuration is unchanged");
                "reload: unchanged".to_owned()
            }
            Verdict::Applied => {
                tracing::info!(log_level = %self.cfg.log_level, "reload: log_level applied");
                "reload: log_level applied".to_owned()
            }
            Verdict::Refused(why) => {
                tracing::warn!(reason = %why, "reload refused; nothing changed");
                format!("reload refused: {why}")
            }
        };
        if let Some(n) = &self.notify {
            n.reloaded(&said);
        }
    }

    /// The node's clock.
    fn now(&self) -> Micros {
        Micros::try_from(self.t0.elapsed().as_micros()).unwrap_or(Micros::MAX)
    }

    /// Feed one event and carry out what follows.
    fn feed(&mut self, ev: Event<'_>) {
        let now = self.now();
        self.node.handle(now, ev);
    }

    /// Run until SIGTERM/SIGINT (after a handover when primary).
    pub fn run(mut self) -> Result<(), DaemonError> {
        self.drive();
        while !self.exit {
            let ready = self.poll()?;
            for (src, flags) in ready {
                self.dispatch(src, flags);
                self.drive();
            }
            let now = self.now();
            self.node.handle_timeout(now);
            self.drive();
            self.tcp_after();
            self.tolerance.poll(Instant::now());
            self.notify_tick();
            self.events_tick();
            self.trust_leader();
        }
        if let Some(n) = &self.notify {
            n.stopping();
        }
        self.tcp_down();
        tracing::info!("hasyncd stopped");
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<(Src, PollFlags)>, DaemonError> {
        let mut fds: Vec<(Src, BorrowedFd<'_>, PollFlags)> = Vec::new();
        let rd = PollFlags::POLLIN;
        let rw = |c: &Conn| {
            if c.wants_write() {
                rd | PollFlags::POLLOUT
            } else {
                rd
            }
        };
        fds.push((Src::Signal, self.signals.as_fd(), rd));
        fds.push((Src::Topology, self.topo.as_fd(), rd));
        fds.push((Src::Local, self.local.as_fd(), rd));
        if let Some(u) = &self.unit_sock {
            fds.push((Src::Unit, u.as_fd(), rd));
        }
        if let Some(m) = &self.acks {
            fds.push((Src::Acks, borrow_raw(m), rd));
        }
        for (&t, c) in &self.ctl {
            fds.push((Src::Ctl(t), c.fd(), rw(c)));
        }
        if let Some(tcp) = &self.tcp {
            if let Some(l) = tcp.listener() {
                fds.push((Src::TcpListen, l.as_fd(), rd));
            }
            for (&t, c) in &tcp.conns {
                let mut f = PollFlags::empty();
                if c.wants_read() {
                    f |= rd;
                }
                if c.wants_write() {
                    f |= PollFlags::POLLOUT;
                }
                fds.push((Src::Tcp(t), c.fd(), f));
            }
        }
        if let Some((repl, control)) = &self.published {
            fds.push((Src::Replication, repl.as_fd(), rd));
            fds.push((Src::Control, control.as_fd(), rd));
        }
        for (&t, c) in &self.peers {
            fds.push((Src::Peer(t), c.fd(), rw(c)));
        }
        if let Some(c) = &self.leader {
            fds.push((Src::Leader, c.fd(), rw(c)));
        }
        let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|(_, fd, f)| PollFd::new(*fd, *f)).collect();
        let wake = self
            .node
            .poll_timeout()
            .map_or(MAX_SLEEP, |t| {
                Duration::from_micros(t.saturating_sub(self.now()))
            })
            .min(MAX_SLEEP)
            .min(self.tcp_wake());
        let ms = u16::try_from(wake.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
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
            Src::TcpListen => self.accept_tcp(),
            Src::Tcp(t) => self.on_tcp(t, flags),
            Src::Peer(t) => self.on_peer(t, flags),
            Src::Leader => self.on_leader(flags),
        }
    }

    fn on_signal(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            let sig = Signal::try_from(info.ssi_signo as i32).ok();
            match sig {
                Some(Signal::SIGPIPE) | None => {}
                Some(Signal::SIGUSR1) => self.toggle_cut(),
                Some(Signal::SIGHUP) => self.on_reload(),
                Some(s) => {
                    tracing::info!(signal = %s, "shutting down");
                    self.feed(Event::Shutdown);
                }
            }
        }
    }

    /// One read of the topology server, fed to the node as one batch.
    fn on_topology(&mut self) {
        let mut evs = Vec::new();
        let mut withdrawn = false;
        loop {
            match self.topo.recv() {
                Ok(TopologyEvent::Published {
                    found, publisher, ..
                }) if found.type_ == self.services.units().type_ => {
                    tracing::debug!(unit = found.lower, "unit up");
                    self.topo_units.insert(found.lower);
                    if self.listed(found.lower) {
                        self.trusted_nodes.insert(publisher.node);
                    }
                    evs.push(Event::UnitUp(found.lower));
                }
                Ok(TopologyEvent::Withdrawn { found, .. })
                    if found.type_ == self.services.units().type_ =>
                {
                    tracing::debug!(unit = found.lower, "unit down");
                    self.topo_units.remove(&found.lower);
                    evs.push(Event::UnitDown(found.lower));
                }
                Ok(TopologyEvent::Published { publisher: p, .. }) => {
                    tracing::debug!(publisher = %p, "primary service published");
                    self.topo_pubs.insert(publisher(p));
                    evs.push(Event::PrimaryUp(publisher(p)));
                }
                Ok(TopologyEvent::Withdrawn { publisher: p, .. }) => {
                    tracing::info!(publisher = %p, "primary service withdrawn");
                    self.topo_pubs.remove(&publisher(p));
                    evs.push(Event::PrimaryDown(publisher(p)));
                    withdrawn = true;
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
        if self.cut || evs.is_empty() {
            return;
        }
        if withdrawn {
            // What the primary sent last counts before the verdict.
            self.on_leader(PollFlags::POLLIN);
        }
        let now = self.now();
        self.node.handle_all(now, evs);
    }

    fn on_unit(&mut self) {
        loop {
            let Some(sock) = &self.unit_sock else { return };
            let len = match sock.recv_from(&mut self.buf) {
                Ok((len, _)) => len,
                Err(e) if e.is_would_block() => break,
                Err(e) => {
                    tracing::warn!(error = %e, "unit socket receive failed");
                    break;
                }
            };
            let now = self.now();
            self.node.handle(now, Event::Unit(&self.buf[..len]));
        }
    }

    fn on_acks(&mut self) {
        let Some(m) = &mut self.acks else { return };
        let mut events = Vec::new();
        match m.next_event() {
            Ok(ev) => events.push(ev),
            Err(e) => tracing::warn!(error = %e, "bad notification on the acks group"),
        }
        while let Some(ev) = m.buffered_event() {
            match ev {
                Ok(ev) => events.push(ev),
                Err(e) => tracing::warn!(error = %e, "bad notification on the acks group"),
            }
        }
        let epoch = self.node.epoch();
        let mut acks = Vec::new();
        let mut lost = false;
        for ev in events {
            match ev {
                nl::Event::Ack(a) => acks.push(crate::kernel::ack_from_ntf(&a, epoch)),
                nl::Event::Lost => lost = true,
                _ => {}
            }
        }
        if !acks.is_empty() {
            self.feed(Event::KernelAcks(acks));
        }
        if lost {
            self.feed(Event::KernelAcksLost);
        }
    }

    fn on_leader(&mut self, flags: PollFlags) {
        let Some(conn) = &mut self.leader else { return };
        let (frames, end) = conn.pump(flags.contains(PollFlags::POLLOUT), &mut self.buf);
        for f in &frames {
            if self.faults.armed(Point::MidSyncReceive) {
                let chunk = matches!(
                    Message::decode_exact(f),
                    Ok(Message::Checkpoint { .. } | Message::CheckpointPart { .. })
                );
                if chunk {
                    self.faults.hit(Point::MidSyncReceive);
                }
            }
            self.feed(Event::LeaderFrame(f));
        }
        if let Some(e) = end {
            self.leader = None;
            self.feed(Event::LeaderClosed {
                planned: e.planned,
                why: &e.why,
            });
        }
    }

    fn accept_peer(&mut self) {
        loop {
            let Some((listener, _)) = &self.published else {
                return;
            };
            match listener.accept(true) {
                Ok((stream, addr)) => match Conn::new(stream) {
                    Ok(conn) => {
                        let t = self.token();
                        self.peers.insert(t, conn);
                        self.peer_nodes.insert(t, addr.node);
                        self.feed(Event::PeerAccepted(t, addr.to_string()));
                    }
                    Err(e) => tracing::warn!(error = %e, "connection setup failed"),
                },
                Err(e) if e.is_would_block() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on the replication service failed");
                    return;
                }
            }
        }
    }

    fn on_peer(&mut self, t: u64, flags: PollFlags) {
        let Some(conn) = self.peers.get_mut(&t) else {
            return;
        };
        let (frames, end) = conn.pump(flags.contains(PollFlags::POLLOUT), &mut self.buf);
        for f in &frames {
            self.feed(Event::PeerFrame(t, f));
        }
        if let Some(e) = end {
            if self.peers.remove(&t).is_some() {
                self.peer_drops += 1;
                self.feed(Event::PeerClosed(t, &e.why));
            }
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Whether control clients on TIPC node `node` may use the API: this
    /// node's, and those of nodes running a unit of this cluster (a listed
    /// unit when `units` lists them). Anyone else who merely reaches the
    /// TIPC cluster is refused (docs/operations.md, the trust model).
    fn trusted_node(&self, node: u32) -> Result<(), String> {
        if self.local.own_node().is_ok_and(|own| own == node) || self.trusted_nodes.contains(&node)
        {
            Ok(())
        } else if self.cfg.units.is_empty() {
            Err(format!(
                "TIPC node {node:#x} has run no unit of this cluster"
            ))
        } else {
            Err(format!(
                "TIPC node {node:#x} has run none of this cluster's units ({})",
                self.cfg.units.join(", ")
            ))
        }
    }

    /// Whether unit id `id` is one of this cluster's (any when none are
    /// listed).
    fn listed(&self, id: u32) -> bool {
        self.cfg.units.is_empty()
            || self
                .cfg
                .units
                .iter()
                .any(|u| hasync_engine::handshake::node_id(u) == id)
    }

    /// Units met over replication are trusted too, whatever their release
    /// (a first-release unit publishes no unit service): the primary this
    /// unit follows, on the node its connection leads to, once its
    /// handshake passed and named a listed unit.
    fn trust_leader(&mut self) {
        use hasync_engine::node::Phase;
        let followed = matches!(self.node.phase(), Phase::Syncing | Phase::Hot);
        if let (true, Some(node), Some((name, true))) =
            (followed, self.leader_node, self.node.leader())
        {
            if self.listed(hasync_engine::handshake::node_id(name)) {
                self.trusted_nodes.insert(node);
            }
        }
        self.peer_nodes.retain(|t, _| self.peers.contains_key(t));
    }

    fn accept_control(&mut self, cluster: bool) {
        loop {
            let accepted = match (&self.published, cluster) {
                (Some((_, control)), true) => control.accept(true),
                (None, true) => return,
                (_, false) => self.local.accept(true),
            };
            match accepted {
                Ok((stream, from)) => {
                    if self.ctl.len() >= CONTROL_CONNS_MAX {
                        tracing::warn!("too many control connections; refusing one");
                        continue;
                    }
                    match Conn::new(stream) {
                        Ok(conn) => {
                            let t = self.token();
                            self.ctl.insert(t, conn);
                            if let Err(why) = self.trusted_node(from.node) {
                                self.refused_control += 1;
                                tracing::warn!(client = %from, reason = %why, "control connection refused");
                                if self.untrusted.len() >= UNTRUSTED_MAX {
                                    // Held for their first request so that
                                    // the client reads why; a few at most,
                                    // so strangers cannot crowd out the
                                    // control connections of this node.
                                    self.ctl.remove(&t);
                                    continue;
                                }
                                self.untrusted.insert(t, why);
                            }
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

/// The election socket, bound to this unit's service.
fn bind_unit(services: &Services, me: u32) -> Result<RdmSocket, DaemonError> {
    let s = RdmSocket::bind(services.unit(me), Scope::Cluster)
        .map_err(|e| DaemonError::Tipc(format!("publish {}: {e}", services.unit(me))))?;
    s.set_nonblocking(true)
        .map_err(|e| DaemonError::Tipc(e.to_string()))?;
    Ok(s)
}

fn borrow_raw(m: &nl::Monitor) -> BorrowedFd<'_> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `m`, which outlives the returned
    // borrow (it is tied to `m`'s lifetime).
    unsafe { BorrowedFd::borrow_raw(m.as_raw_fd()) }
}
