//! The control API's TCP face (`[tcp]`): while primary, the unit holds
//! the service address and listens on it; every request line is
//! authenticated before it is parsed (`hasync_ctl::auth`), and a client
//! outside the allowed networks is closed at accept. Requests then take
//! the same path as over TIPC (`control.rs`).
//!
//! Connections survive a failover (`docs/tcp.md`): in commit rounds the
//! primary holds its output on the service interface (`crate::plug`),
//! reads every connection's transport state (`crate::tcp_repair`), and
//! lets the output go once the hot standbys hold the state (the node's
//! `TcpCommit` / `TcpCommitted`). A unit that takes over rebuilds the
//! connections before it takes the address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hasync_ctl::auth::{Nonce, Refusal, Secret, Session, NONCE_LEN};
use hasync_ctl::{ErrorKind, RequestFrame, ResponseFrame};
use hasync_engine::node::Event;
use hasync_engine::wire::TcpConn as ConnState;
use nix::poll::PollFlags;

use super::{Daemon, DaemonError, CONTROL_CONNS_MAX};
use crate::config::TcpFace;
use crate::plug::{Action, Plug};
use crate::service_addr::ServiceAddr;
use crate::tcp_conn::{Incoming, TcpConn};
use crate::tcp_repair;

/// A round at least this often while connections are open: what the
/// kernel sends on its own (retransmissions, window updates) waits for
/// one.
const ROUND_PERIOD: Duration = Duration::from_millis(50);
/// Most bytes of connection state in one round: the replication message
/// is one TIPC message.
const ROUND_BYTES_MAX: usize = 60_000;
/// A connection that has sent no verified request by then is closed: it
/// would hold a control connection slot, and its bytes a share of rounds.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// The TCP face's state.
pub(super) struct Tcp {
    pub(super) cfg: TcpFace,
    secret: Secret,
    addr: ServiceAddr,
    listener: Option<TcpListener>,
    pub(super) conns: BTreeMap<u64, TcpConn>,
    /// Refusals, by reason (as `hasync tcp show` lists them).
    pub(super) refused: hasync_ctl::TcpRefused,
    /// This unit serves the face (primary, address taken).
    up: bool,
    /// Output commit (none when the qdisc could not be installed).
    plug: Option<Plug>,
    /// The plug holds output (between rounds too).
    buffered: bool,
    /// A round waits for the standbys.
    round_open: bool,
    /// Something changed since the last round.
    pub(super) dirty: bool,
    last_round: Instant,
    /// Standbys that held the last committed round.
    held_by: usize,
    /// A standby may hold the connections in `held_ids`.
    may_hold: bool,
    /// The node's number of the last round held, and when it was.
    committed: (u64, Option<Instant>),
    /// Per connection, bytes owed in and out as of the last round read.
    pub(super) owed: BTreeMap<u64, (u64, u64)>,
    /// Connections to rebuild when this unit publishes (a takeover).
    pub(super) restore: Vec<ConnState>,
    /// That takeover is a switchover.
    pub(super) restore_switchover: bool,
    /// Connections left out of rounds for their size (warned once).
    pub(super) too_big: BTreeSet<u64>,
    /// The connections in the round being committed, and in the last one
    /// committed: those a standby holds.
    round_ids: BTreeSet<u64>,
    held_ids: BTreeSet<u64>,
    /// The last round started had connections: the standbys must be told
    /// when there are none left (an empty round), or a takeover would
    /// rebuild connections long gone and serve their requests again.
    sent_some: bool,
}

impl Tcp {
    /// Reads the secret and makes sure this unit does not hold the
    /// service address (a unit that restarts is not primary yet).
    pub(super) fn start(cfg: TcpFace) -> Result<Self, DaemonError> {
        let secret =
            Secret::load(&cfg.secret).map_err(|e| DaemonError::Os(format!("tcp.secret: {e}")))?;
        let addr = ServiceAddr {
            ip: *cfg.listen.ip(),
            prefix: cfg.prefix,
            interface: cfg.interface.clone(),
        };
        addr.release().map_err(|e| {
            DaemonError::Os(format!(
                "tcp: cannot clear {} from {}: {e}",
                addr.ip, addr.interface
            ))
        })?;
        // Then what a dead daemon's plug still holds goes, unsent: its
        // connections are the standby's now, or gone.
        crate::service_addr::if_index(&addr.interface)
            .and_then(Plug::clear)
            .map_err(|e| {
                DaemonError::Os(format!(
                    "tcp: cannot clear the qdisc of {}: {e}",
                    addr.interface
                ))
            })?;
        Ok(Tcp {
            cfg,
            secret,
            addr,
            listener: None,
            conns: BTreeMap::new(),
            refused: hasync_ctl::TcpRefused::default(),
            up: false,
            plug: None,
            buffered: false,
            round_open: false,
            dirty: false,
            last_round: Instant::now(),
            held_by: 0,
            may_hold: false,
            committed: (0, None),
            owed: BTreeMap::new(),
            restore: Vec::new(),
            restore_switchover: false,
            too_big: BTreeSet::new(),
            round_ids: BTreeSet::new(),
            held_ids: BTreeSet::new(),
            sent_some: false,
        })
    }

    pub(super) fn listener(&self) -> Option<&TcpListener> {
        self.listener.as_ref()
    }
}

/// A fresh nonce from the kernel's CSPRNG.
fn nonce() -> std::io::Result<Nonce> {
    let mut n = [0u8; NONCE_LEN];
    // SAFETY: `n` is valid for writes of its length.
    let got = unsafe { libc::getrandom(n.as_mut_ptr().cast(), n.len(), 0) };
    if got != n.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n)
}

impl Daemon {
    /// Becoming primary: rebuild the connections taken over (in repair
    /// mode: silent, and no client segment finds no socket), take the
    /// address, announce it, put the plug on, bring the connections live,
    /// listen.
    pub(super) fn tcp_up(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        if tcp.up {
            return;
        }
        let mut rebuilt: Vec<(TcpStream, ConnState)> = Vec::new();
        for c in std::mem::take(&mut tcp.restore) {
            if c.state.local != tcp.cfg.listen {
                tracing::error!(local = %c.state.local, listen = %tcp.cfg.listen,
                    "a TCP connection taken over is not on this unit's service address; not rebuilt");
                continue;
            }
            match tcp_repair::rebuild(&c.state) {
                Ok(s) => rebuilt.push((s, c)),
                Err(e) => tracing::error!(client = %c.state.remote, error = %e,
                    "cannot rebuild a TCP connection taken over; it is lost"),
            }
        }
        if let Err(e) = tcp.addr.take() {
            tracing::error!(address = %tcp.addr.ip, interface = %tcp.addr.interface, error = %e,
                "cannot take the service address; the TCP face stays down");
            return;
        }
        let plug = crate::service_addr::if_index(&tcp.addr.interface).and_then(Plug::install);
        match plug {
            Ok(p) => tcp.plug = Some(p),
            Err(e) => tracing::error!(interface = %tcp.addr.interface, error = %e,
                "cannot hold output on the service interface; TCP connections will not survive a failover"),
        }
        tcp.up = true;
        tcp.buffered = false;
        tcp.round_open = false;
        tcp.held_by = 0;
        tcp.may_hold = false;
        let switchover = std::mem::take(&mut tcp.restore_switchover);
        let mut restored = Vec::new();
        for (stream, c) in rebuilt {
            let session = Session {
                nonce: c.nonce,
                next: c.next,
            };
            let live = tcp_repair::go_live(&stream)
                .and_then(|()| TcpConn::restored(stream, c.state.remote, session))
                .and_then(|mut conn| {
                    conn.queue_raw(&c.state.outq)
                        .map_err(std::io::Error::other)?;
                    conn.switched = switchover.then_some(c.next);
                    Ok(conn)
                });
            match live {
                Ok(conn) => restored.push(conn),
                Err(e) => tracing::error!(client = %c.state.remote, error = %e,
                    "cannot bring a TCP connection taken over live; it is lost"),
            }
        }
        if !restored.is_empty() {
            tracing::info!(connections = restored.len(), "TCP connections taken over");
        }
        for conn in restored {
            let t = self.token();
            if let Some(tcp) = &mut self.tcp {
                tcp.conns.insert(t, conn);
                tcp.dirty = true;
            }
        }
        let Some(tcp) = &mut self.tcp else { return };
        let listen = tcp.cfg.listen;
        match TcpListener::bind(listen).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        }) {
            Ok(l) => {
                tracing::info!(%listen, interface = %tcp.addr.interface, "service address taken; TCP face listening");
                tcp.listener = Some(l);
            }
            // The connections taken over go on; no new ones come.
            Err(e) => tracing::error!(%listen, error = %e, "cannot listen on the service address"),
        }
    }

    /// No longer primary: stop listening, end the connections, give the
    /// address up. When a standby holds the connections (the last round
    /// was held) they end silently here and go on there; else in order.
    /// What the plug still holds is dropped: no standby knows of it.
    pub(super) fn tcp_down(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        tcp.listener = None;
        if !std::mem::take(&mut tcp.up) {
            return;
        }
        let held = if tcp.may_hold {
            std::mem::take(&mut tcp.held_ids)
        } else {
            BTreeSet::new()
        };
        for (t, mut c) in std::mem::take(&mut tcp.conns) {
            if held.contains(&t) && tcp_repair::vanish(c.stream()).is_ok() {
                continue;
            }
            // No standby holds it: it ends here (its FIN is dropped with
            // the plug's contents when output was held).
            c.shutdown();
        }
        tcp.held_ids.clear();
        tcp.round_ids.clear();
        tcp.sent_some = false;
        tcp.may_hold = false;
        if let Some(p) = tcp.plug.take() {
            if let Err(e) = p.remove() {
                tracing::warn!(error = %e, "cannot take the plug off the service interface");
            }
        }
        tcp.round_open = false;
        tcp.buffered = false;
        tcp.owed.clear();
        match tcp.addr.release() {
            Ok(()) => tracing::info!(address = %tcp.addr.ip, "service address given up"),
            Err(e) => {
                tracing::error!(address = %tcp.addr.ip, error = %e, "cannot give up the service address")
            }
        }
    }

    pub(super) fn accept_tcp(&mut self) {
        loop {
            let Some(tcp) = &mut self.tcp else { return };
            let Some(l) = &tcp.listener else { return };
            let (stream, from) = match l.accept() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on the TCP face failed");
                    return;
                }
            };
            let SocketAddr::V4(peer) = from else {
                continue;
            };
            if !tcp.cfg.allows(*peer.ip()) {
                tcp.refused.source += 1;
                tracing::warn!(client = %peer, "TCP client outside tcp.allow refused");
                continue;
            }
            if tcp.conns.len() + self.ctl.len() >= CONTROL_CONNS_MAX {
                tracing::warn!(client = %peer, "too many control connections; refusing one");
                continue;
            }
            let conn = nonce().and_then(|n| TcpConn::new(stream, peer, Session::new(n)));
            match conn {
                Ok(c) => {
                    let t = self.token();
                    tracing::debug!(client = %peer, "TCP control connection");
                    if let Some(tcp) = &mut self.tcp {
                        tcp.conns.insert(t, c);
                        tcp.dirty = true;
                    }
                }
                Err(e) => tracing::warn!(client = %peer, error = %e, "TCP connection setup failed"),
            }
        }
    }

    pub(super) fn on_tcp(&mut self, t: u64, flags: PollFlags) {
        let Some(tcp) = &mut self.tcp else { return };
        let Some(c) = tcp.conns.get_mut(&t) else {
            return;
        };
        let (got, end) = c.pump(
            flags.contains(PollFlags::POLLOUT),
            &tcp.secret,
            &mut self.buf,
        );
        let peer = c.peer;
        tcp.dirty = true;
        if !self.tcp_incoming(t, peer, got) {
            return;
        }
        if end.is_some() {
            self.close_ctl(t);
        }
    }

    /// Serves what a connection's lines gave; false once it was closed.
    fn tcp_incoming(&mut self, t: u64, peer: std::net::SocketAddrV4, got: Vec<Incoming>) -> bool {
        for inc in got {
            match inc {
                Incoming::Request(json) => match RequestFrame::decode_many(&json) {
                    // One request per line: what is owed to a client is
                    // then one tail of its stream (see tcp_conn).
                    Ok((_, true)) => {
                        tracing::warn!(client = %peer, "request array on the TCP face; closing the connection");
                        self.refuse_tcp(
                            t,
                            ErrorKind::BadRequest,
                            "one request per line on the TCP face, not an array".into(),
                        );
                        return false;
                    }
                    Ok((reqs, false)) => {
                        for req in reqs {
                            if self.tcp_switched(t, &req) {
                                continue;
                            }
                            self.request(t, req);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(client = %peer, error = %e, "malformed control request; closing the connection");
                        self.refuse_tcp(t, ErrorKind::BadRequest, e);
                        return false;
                    }
                },
                Incoming::Refused(r) => {
                    if let Some(tcp) = &mut self.tcp {
                        match r {
                            Refusal::Unauthenticated => tcp.refused.unauthenticated += 1,
                            Refusal::Forged => tcp.refused.forged += 1,
                            Refusal::Replayed { .. } | Refusal::Skipped { .. } => {
                                tcp.refused.replayed += 1
                            }
                        }
                    }
                    tracing::warn!(client = %peer, refusal = %r, "TCP control request refused; closing the connection");
                    self.refuse_tcp(t, ErrorKind::Unauthorized, r.to_string());
                    return false;
                }
                Incoming::TooLong => {
                    if let Some(tcp) = &mut self.tcp {
                        tcp.refused.too_long += 1;
                    }
                    tracing::warn!(client = %peer, "TCP control line too long; closing the connection");
                    let e = format!("request line over {} bytes", crate::tcp_conn::LINE_MAX);
                    self.refuse_tcp(t, ErrorKind::BadRequest, e);
                    return false;
                }
            }
        }
        true
    }

    /// A connection taken over by a switchover whose first unanswered
    /// request is a switchover: the old primary did it, and its reply
    /// went with the output it dropped. Answered here, not done again.
    fn tcp_switched(&mut self, t: u64, req: &RequestFrame) -> bool {
        let Some(c) = self.tcp.as_mut().and_then(|tcp| tcp.conns.get_mut(&t)) else {
            return false;
        };
        let seq = c.unanswered().1;
        if c.switched.take() != Some(seq) || !matches!(req.body, hasync_ctl::Request::Switchover) {
            return false;
        }
        let to = self.cfg.node.clone();
        self.reply(
            t,
            ResponseFrame {
                id: req.id,
                body: hasync_ctl::Response::Switchover(hasync_ctl::SwitchoverReply { to }),
            },
        );
        true
    }

    /// How long the loop may sleep: a round is due every
    /// [`ROUND_PERIOD`] while connections are open.
    pub(super) fn tcp_wake(&self) -> Duration {
        match &self.tcp {
            Some(tcp) if tcp.up && !tcp.conns.is_empty() => ROUND_PERIOD,
            _ => Duration::MAX,
        }
    }

    /// After a round of the loop: requests waiting behind answered ones
    /// are taken, and a commit round starts when one is due.
    pub(super) fn tcp_after(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        if !tcp.up {
            return;
        }
        // Clients that never authenticate do not keep their slot.
        let idle: Vec<u64> = tcp
            .conns
            .iter()
            .filter(|(_, c)| c.session.next == 1 && c.since.elapsed() > AUTH_TIMEOUT)
            .map(|(&t, _)| t)
            .collect();
        for t in idle {
            tracing::warn!("TCP client sent no authenticated request in {AUTH_TIMEOUT:?}; closing the connection");
            self.close_ctl(t);
        }
        let Some(tcp) = &mut self.tcp else { return };
        let mut ready = Vec::new();
        for (&t, c) in tcp.conns.iter_mut() {
            if !c.busy() {
                let mut got = Vec::new();
                c.take_lines(&tcp.secret, &mut got);
                if !got.is_empty() {
                    ready.push((t, c.peer, got));
                }
            }
        }
        for (t, peer, got) in ready {
            self.tcp_incoming(t, peer, got);
        }
        self.drive();
        self.tcp_round();
    }

    /// Starts a commit round when one is due: output held from here,
    /// every connection's state read and handed to the node.
    fn tcp_round(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        if tcp.round_open {
            return;
        }
        if tcp.conns.is_empty() && !tcp.sent_some {
            if tcp.buffered {
                if let Some(p) = &tcp.plug {
                    let _ = p.act(Action::ReleaseIndefinite);
                }
                tcp.buffered = false;
            }
            return;
        }
        if !tcp.dirty && tcp.last_round.elapsed() < ROUND_PERIOD {
            return;
        }
        if let Some(p) = &tcp.plug {
            if let Err(e) = p.act(Action::Buffer) {
                tracing::warn!(error = %e, "cannot hold output on the service interface");
            }
            tcp.buffered = true;
        }
        let mut read = Vec::with_capacity(tcp.conns.len());
        for (&t, c) in &tcp.conns {
            let state = tcp_repair::dump(c.stream());
            let resumed = tcp_repair::resume(c.stream());
            let mut state = match (state, resumed) {
                (Ok(s), Ok(())) => s,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::debug!(client = %c.peer, error = %e, "connection state not read");
                    continue;
                }
            };
            let (unanswered, next) = c.unanswered();
            let mut inq = unanswered.to_vec();
            inq.extend_from_slice(&state.inq);
            state.inq = inq;
            // Replies the socket has not taken yet come after its queue.
            let pending = c.pending_out();
            state.outq.extend_from_slice(pending);
            state.write_seq = state.write_seq.wrapping_add(pending.len() as u32);
            state.unsent = state.unsent.saturating_add(pending.len() as u32);
            let conn = ConnState {
                id: t,
                nonce: c.session.nonce,
                next,
                state,
            };
            let len = conn.state.encode().len() + 40;
            read.push((len, c.peer, conn));
        }
        // Smallest first: one large connection cannot crowd the others out.
        read.sort_by_key(|(len, _, _)| *len);
        let mut conns = Vec::with_capacity(read.len());
        let mut bytes = 0;
        tcp.round_ids.clear();
        for (len, peer, conn) in read {
            let t = conn.id;
            if bytes + len > ROUND_BYTES_MAX {
                if tcp.too_big.insert(t) {
                    tracing::warn!(client = %peer, bytes = len,
                        "TCP connection state does not fit a round; it will not survive a failover while it is this large");
                }
                continue;
            }
            bytes += len;
            tcp.owed.insert(
                t,
                (conn.state.inq.len() as u64, conn.state.outq.len() as u64),
            );
            tcp.round_ids.insert(t);
            conns.push(conn);
        }
        tcp.sent_some = !conns.is_empty();
        tcp.round_open = true;
        tcp.dirty = false;
        tcp.last_round = Instant::now();
        self.feed(Event::TcpCommit(conns));
        self.drive();
    }

    /// The node says the hot standbys hold the round: its output goes.
    pub(super) fn tcp_committed(&mut self, round: u64, holders: usize, late: usize) {
        let Some(tcp) = &mut self.tcp else { return };
        tcp.round_open = false;
        tcp.held_by = holders;
        tcp.committed = (round, Some(Instant::now()));
        // Who may take the connections over: this round's holders; or, when
        // a late standby holds only an earlier round, that round's; or
        // nobody.
        if holders > 0 {
            tcp.held_ids = tcp.round_ids.clone();
        } else if late == 0 {
            tcp.held_ids.clear();
        }
        tcp.may_hold = holders + late > 0;
        if let (Some(p), true) = (&tcp.plug, tcp.buffered) {
            if let Err(e) = p.act(Action::ReleaseOne) {
                tracing::warn!(error = %e, "cannot release output on the service interface");
            }
        }
    }

    /// `hasync tcp show`: the face as this unit sees it.
    pub(super) fn tcp_view(&self) -> hasync_ctl::TcpReply {
        use hasync_ctl::{TcpConnStatus, TcpReply};
        let mut r = TcpReply {
            node: self.cfg.node.clone(),
            role: self.node.role().as_str().to_owned(),
            ..TcpReply::default()
        };
        let Some(tcp) = &self.tcp else { return r };
        r.listen = Some(tcp.cfg.listen.to_string());
        r.up = tcp.up;
        r.refused = tcp.refused.clone();
        if tcp.up {
            r.round = tcp.committed.0;
            r.holders = tcp.held_by as u64;
            r.lag_ms = tcp.committed.1.map(|t| t.elapsed().as_millis() as u64);
            r.connections = tcp
                .conns
                .iter()
                .map(|(t, c)| {
                    let (owed_in, owed_out) = tcp.owed.get(t).copied().unwrap_or_default();
                    TcpConnStatus {
                        client: c.peer.to_string(),
                        next: c.unanswered().1,
                        owed_in,
                        owed_out,
                    }
                })
                .collect();
        } else if let Some((round, held)) = self.node.tcp_held() {
            r.round = round;
            r.connections = held
                .iter()
                .map(|c| TcpConnStatus {
                    client: c.state.remote.to_string(),
                    next: c.next,
                    owed_in: c.state.inq.len() as u64,
                    owed_out: c.state.outq.len() as u64,
                })
                .collect();
        }
        r
    }

    /// Answers with one error, then ends the connection.
    fn refuse_tcp(&mut self, t: u64, kind: ErrorKind, message: String) {
        self.batched.remove(&t);
        self.reply(t, ResponseFrame::error(0, kind, message));
        if let Some(c) = self.tcp.as_mut().and_then(|tcp| tcp.conns.get_mut(&t)) {
            c.shutdown();
        }
        self.close_ctl(t);
    }
}
