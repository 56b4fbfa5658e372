//! Following a primary.
//!
//! A standby connects to whoever publishes the replication service, sends
//! its handshake, learns the primary's name and epoch from the answer and
//! then asks for a bulk sync of every channel (the engine's Cold channels
//! do so on each tick) until it is Hot.
//!
//! When the connection ends, what happens next depends on the topology
//! server, not on the connection alone: if the primary's publication is
//! gone (process death: milliseconds; node loss: the link tolerance), the
//! standby takes over with the state it holds; if it is still there, the
//! connection was dropped for another reason and the standby reconnects
//! and syncs afresh.
//!
//! The verdict can lag the connection: when a node falls silent, TIPC
//! resets its connections as soon as the link fails but withdraws its
//! publications only when it gives up on the node, hundreds of
//! milliseconds later. So a standby that reconnects keeps the stream it
//! holds (and with it the right to take over) until the new connection's
//! handshake starts a new stream.

use std::time::{Duration, Instant};

use hasync_engine::standby::Standby;
use hasync_engine::wire::Message;
use hasync_engine::{Epoch, NodeId};
use hasync_nl as nl;
use hasync_tipc::SeqPacketStream;
use nix::poll::PollFlags;

use super::{Daemon, Role};
use crate::config::{AckPath, Config};
use crate::conn::{Conn, Read};
use hasync_engine::handshake::{Handshake, Side};
use hasync_engine::report::Reason;

/// How long a lost connection waits for the topology server's verdict
/// before reconnecting to a still-published primary.
const RECONNECT_GRACE: Duration = Duration::from_millis(300);
/// Blocking connect limit (the primary answers in one round trip).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long an election loser connected to the winner waits for its
/// takeover announcement before syncing afresh (it is resent every tick).
pub const REBASE_WAIT: Duration = Duration::from_secs(3);

/// The standby side.
pub struct StandbyRole {
    /// The engine.
    pub engine: Standby,
    /// Connection to the primary.
    pub conn: Option<Conn>,
    /// The primary answered our handshake.
    pub handshaken: bool,
    /// The primary's name.
    pub leader_name: Option<String>,
    /// We followed a primary and hold its stream: we take over if it goes.
    pub following: bool,
    /// Reconnecting after losing a primary that is still published: the
    /// next handshake replaces the stream held so far with a fresh sync.
    pub resync: bool,
    /// The connection ended in order (planned handover).
    pub planned_end: bool,
    /// Last frame from the primary.
    pub last_frame: Option<Instant>,
    /// When the connection was lost.
    pub lost_at: Option<Instant>,
    /// Next connection attempt.
    pub retry_at: Instant,
    /// `role = auto` at start: become primary if none shows up by then.
    pub auto_deadline: Option<Instant>,
    /// An election after the primary's loss, while it runs.
    pub election: Option<super::election::Electing>,
    /// Another standby won the election: it, and until when to wait for
    /// its replication service before electing again.
    pub awaiting: Option<(NodeId, Instant)>,
    /// Connected to the elected primary: its epoch, and until when to wait
    /// for the announcement that rebases our stream onto its.
    pub rebase_to: Option<(Epoch, Instant)>,
}

impl StandbyRole {
    /// A standby holding nothing yet.
    pub fn new(cfg: &Config, me: NodeId, now: Instant, auto: bool) -> Self {
        let (engine, _hello) = Standby::new(me, 0, 0, &cfg.channel_list(), cfg.limits.standby());
        StandbyRole {
            engine,
            conn: None,
            handshaken: false,
            leader_name: None,
            following: false,
            resync: false,
            planned_end: false,
            last_frame: None,
            lost_at: None,
            retry_at: now,
            auto_deadline: auto
                .then(|| now + Duration::from_millis(u64::from(cfg.limits.link_tolerance_ms))),
            election: None,
            awaiting: None,
            rebase_to: None,
        }
    }

    /// Every channel is Hot.
    pub fn hot(&self) -> bool {
        self.engine.is_hot()
    }
}

impl Daemon {
    /// Become a standby holding nothing (after start, a deposition or a
    /// switchover): it waits for a primary to follow.
    pub(super) fn become_standby(&mut self, why: &str) {
        tracing::info!(why, "becoming standby");
        self.role = Role::Standby(StandbyRole::new(
            &self.cfg,
            self.me,
            std::time::Instant::now(),
            false,
        ));
        self.drop_control_waiters();
        self.open_acks();
    }

    /// Join the kernel's ACK multicast group when the ACK path uses it.
    pub(super) fn open_acks(&mut self) {
        if self.cfg.ack_path == AckPath::Forward || self.acks.is_some() {
            return;
        }
        match nl::Monitor::open(nl::Groups {
            acks: true,
            monitor: false,
        }) {
            Ok(m) => self.acks = Some(m),
            Err(e) => {
                tracing::error!(error = %e, "cannot join the kernel's acks group; relying on forwarded ACKs")
            }
        }
    }

    pub(super) fn on_acks(&mut self) {
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
        let mut lost = false;
        let mut acts = Vec::new();
        if let Role::Standby(s) = &mut self.role {
            let epoch = s.engine.epoch;
            for ev in events {
                match ev {
                    nl::Event::Ack(a) if s.handshaken => {
                        acts.extend(
                            s.engine
                                .on_kernel_ack(crate::kernel::ack_from_ntf(&a, epoch)),
                        );
                    }
                    nl::Event::Lost => lost = true,
                    _ => {}
                }
            }
        }
        if lost {
            tracing::warn!("acks group overran; reading the registers");
            if let Role::Standby(s) = &self.role {
                if s.handshaken {
                    acts.push(s.engine.read_registers());
                }
            }
        }
        self.act(acts);
    }

    pub(super) fn on_leader(&mut self, flags: PollFlags) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        let Some(conn) = &mut s.conn else { return };
        if flags.contains(PollFlags::POLLOUT) {
            if let Err(e) = conn.flush() {
                self.leader_lost(false, &e);
                return;
            }
        }
        let read = conn.read(&mut self.buf);
        let (frames, end) = match read {
            Read::Frames(f) => (f, None),
            Read::Closed(f) => (f, Some((true, "closed in order".to_string()))),
            Read::Broken(f, e) => (f, Some((false, e))),
        };
        for f in frames {
            if !self.leader_frame(&f) {
                return;
            }
        }
        if let Some((planned, why)) = end {
            self.leader_lost(planned, &why);
        }
    }

    /// One frame from the primary; false if the connection was dropped.
    fn leader_frame(&mut self, f: &[u8]) -> bool {
        let Role::Standby(s) = &mut self.role else {
            return false;
        };
        let now = Instant::now();
        s.last_frame = Some(now);
        if !s.handshaken {
            match Handshake::decode(f) {
                Ok(h) if h.side == Side::Primary => {
                    // The primary we elected, of a newer epoch than ours:
                    // keep our stream for its announcement to rebase.
                    let elected =
                        s.awaiting.is_some_and(|(w, _)| w == h.node) && h.epoch > s.engine.epoch;
                    if !elected && (s.resync || s.awaiting.is_some()) {
                        tracing::info!("primary answered again: syncing afresh");
                        let conn = s.conn.take();
                        *s = StandbyRole::new(&self.cfg, self.me, now, false);
                        s.conn = conn;
                        s.last_frame = Some(now);
                    }
                    s.engine.leader = h.node;
                    if elected {
                        tracing::info!(primary = %h.name, epoch = h.epoch, "following the elected primary; rebasing on its announcement");
                        s.rebase_to = Some((h.epoch, now + REBASE_WAIT));
                    } else {
                        tracing::info!(primary = %h.name, epoch = h.epoch, "following");
                        s.engine.epoch = h.epoch;
                    }
                    s.leader_name = Some(h.name.clone());
                    s.handshaken = true;
                    s.following = true;
                    self.names.insert(h.node, h.name);
                    // Until the announcement rebases us, our engine speaks
                    // the old stream: no Have or SyncRequest yet (the
                    // primary would take one for the announcement's answer).
                    if s.rebase_to.is_none() {
                        let acts = s.engine.on_tick();
                        self.act(acts);
                    }
                    true
                }
                Ok(_) => {
                    self.leader_lost(false, "the peer answered as a standby");
                    false
                }
                Err(e) => {
                    self.leader_lost(false, &format!("bad handshake: {e}"));
                    false
                }
            }
        } else {
            match Message::decode_exact(f) {
                Ok(msg) => {
                    let acts = s.engine.handle(msg);
                    if let Some((epoch, _)) = s.rebase_to {
                        if s.engine.epoch >= epoch {
                            tracing::info!(
                                hot = s.engine.hot_channels(),
                                channels = s.engine.channels.len(),
                                "rebased onto the elected primary's stream"
                            );
                            s.rebase_to = None;
                            s.awaiting = None;
                        }
                    }
                    self.act(acts);
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "malformed frame from the primary; dropping the connection");
                    self.leader_lost(false, "malformed frame");
                    false
                }
            }
        }
    }

    /// The connection to the primary ended.
    pub(super) fn leader_lost(&mut self, planned: bool, why: &str) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if s.conn.take().is_none() {
            return;
        }
        tracing::info!(why, planned, "connection to the primary ended");
        s.planned_end = planned;
        s.handshaken = false;
        let now = Instant::now();
        // A failed reconnection does not move the moment the primary was
        // first lost.
        if !(s.resync && s.lost_at.is_some()) {
            s.lost_at = Some(now);
        }
        s.retry_at = now + RECONNECT_GRACE;
        self.standby_check(now);
    }

    /// Connect, take over, or wait; see the module docs.
    pub(super) fn standby_check(&mut self, now: Instant) {
        let published = !self.primaries.is_empty();
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if s.conn.is_some() {
            if !published && s.handshaken {
                // The primary is gone: read what it sent last, then take over.
                self.on_leader(PollFlags::POLLIN);
                if let Role::Standby(s) = &mut self.role {
                    if s.conn.take().is_some() {
                        s.lost_at = Some(now);
                    }
                }
                self.leader_gone(now);
            }
            return;
        }
        if !published {
            if s.election.is_some() {
                self.election_check(now);
                return;
            }
            if let Some((winner, until)) = s.awaiting {
                if now < until {
                    return;
                }
                tracing::warn!(
                    winner,
                    "the elected standby never published: electing again"
                );
                s.awaiting = None;
            }
            if s.following {
                self.leader_gone(now);
            } else if s.auto_deadline.is_some_and(|d| now >= d) {
                tracing::info!("no primary published: starting as primary (role auto)");
                self.start_as_primary();
            }
            return;
        }
        if now < s.retry_at {
            return;
        }
        s.auto_deadline = None;
        if s.following && !s.resync && s.awaiting.is_none() {
            // Either the primary is alive and only the connection broke, or
            // its node is gone and TIPC has not yet withdrawn its name:
            // reconnect, holding on to the stream until a primary answers.
            tracing::info!("primary still published: reconnecting");
            s.resync = true;
        }
        self.connect_leader(now);
    }

    fn connect_leader(&mut self, now: Instant) {
        let service = self.services.replication();
        let hello = Handshake {
            side: Side::Standby,
            node: self.me,
            epoch: 0,
            name: self.cfg.node.clone(),
        };
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        s.retry_at = now + RECONNECT_GRACE;
        let stream = match SeqPacketStream::connect_timeout(service, CONNECT_TIMEOUT) {
            Ok(st) => st,
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to the primary yet");
                return;
            }
        };
        let mut conn = match Conn::new(stream) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "connection setup failed");
                return;
            }
        };
        if let Err(e) = conn.send(hello.encode()) {
            tracing::warn!(error = %e, "handshake failed");
            return;
        }
        s.conn = Some(conn);
        s.handshaken = false;
        tracing::info!(%service, "connected to the primary; waiting for its handshake");
        self.open_acks();
    }

    /// The primary is gone for good: take over with what we hold.
    fn leader_gone(&mut self, now: Instant) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        let detection_ms = match (s.last_frame, s.lost_at) {
            (Some(f), Some(l)) if l >= f => (l - f).as_secs_f64() * 1e3,
            (Some(f), _) => (now - f).as_secs_f64() * 1e3,
            _ => 0.0,
        };
        let reason = if s.planned_end {
            Reason::Switchover
        } else {
            Reason::PrimaryLost
        };
        tracing::warn!(
            primary = s.leader_name.as_deref().unwrap_or("?"),
            reason = reason.as_str(),
            "primary lost"
        );
        self.elect_or_take_over(now, reason, detection_ms);
    }

    pub(super) fn standby_tick(&mut self, now: Instant) {
        if let Role::Standby(s) = &self.role {
            if let Some(e) = &s.election {
                let acts = e.engine.on_tick();
                self.send_units(acts);
            }
        }
        if let Role::Standby(s) = &mut self.role {
            if s.rebase_to.is_some_and(|(_, until)| now >= until) {
                tracing::warn!("no announcement from the elected primary: syncing afresh");
                s.rebase_to = None;
                s.awaiting = None;
                s.resync = true;
                self.leader_lost(false, "no takeover announcement");
            }
        }
        self.standby_check(now);
    }

    /// A primary that the kernel fenced stops writing and follows the new
    /// one (it never promotes itself again on its own: that would fence
    /// the new primary in turn).
    pub(super) fn deposed(&mut self, owner: u64) {
        tracing::warn!(owner, "fenced by a newer primary: stepping down");
        self.become_standby("deposed");
    }
}
