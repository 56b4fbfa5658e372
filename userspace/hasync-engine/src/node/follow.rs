//! Following a primary.
//!
//! A standby connects to whoever publishes the replication service, sends
//! its handshake, learns the primary's name and epoch from the answer and
//! then asks for a bulk sync of every channel (Cold channels do so on each
//! tick) until it is Hot.
//!
//! When the connection ends, what happens next depends on the publication,
//! not on the connection alone: if the primary's replication service is
//! withdrawn (process death: milliseconds; node loss: the link tolerance),
//! the standby takes over with the state it holds (electing first when
//! other standbys are up); if it is still published, the connection was
//! dropped for another reason and the standby reconnects.
//!
//! The verdict can lag the connection: when a node falls silent, TIPC
//! resets its connections as soon as the link fails but withdraws its
//! publications only when it gives up on the node. So a standby that
//! reconnects keeps the stream it holds (and with it the right to take
//! over) until the new connection's handshake starts a new stream.

use crate::handshake::{Handshake, Side, FALLBACK_EPOCH};
use crate::release::{CommandSet, RELEASE};
use crate::report::Reason;
use crate::standby::Standby;
use crate::transform;
use crate::wire::Message;
use crate::{Epoch, NodeId};

use super::elect::Electing;
use super::{ms, Dest, Frame, Micros, Node, NodeConfig, Output, Role, StartRole, MS};

/// How long a lost connection waits for the publication's verdict before
/// reconnecting to a still-published primary.
pub const RECONNECT_GRACE: Micros = 300 * MS;
/// How long an election loser connected to the winner waits for its
/// takeover announcement before syncing afresh (it is resent every tick).
pub const REBASE_WAIT: Micros = 3000 * MS;

/// The standby side.
pub(super) struct Follow {
    pub engine: Standby,
    /// Connected to the primary.
    pub conn: bool,
    /// [`Output::Connect`] issued, not answered yet.
    pub connecting: bool,
    /// The primary answered our handshake.
    pub handshaken: bool,
    /// Greet as the first release: the primary closed the connection
    /// before answering this build's handshake (a first-release primary
    /// refuses it). Reset when a new primary is published.
    pub hello_v1: bool,
    pub leader_name: Option<String>,
    /// The primary's release and command set, from its answer.
    pub leader_set: Option<CommandSet>,
    /// We followed a primary and hold its stream: we take over if it goes.
    pub following: bool,
    /// Reconnecting after losing a primary that is still published: the
    /// next handshake replaces the stream held so far with a fresh sync.
    pub resync: bool,
    /// The connection ended in order (planned handover).
    pub planned_end: bool,
    pub last_frame: Option<Micros>,
    pub lost_at: Option<Micros>,
    pub retry_at: Micros,
    /// `Auto` at start: become primary if none shows up by then.
    pub auto_deadline: Option<Micros>,
    pub election: Option<Electing>,
    /// Another standby won the election: it, and until when to wait for
    /// its replication service before electing again.
    pub awaiting: Option<(NodeId, Micros)>,
    /// Connected to the elected primary: its epoch, and until when to wait
    /// for the announcement that rebases our stream onto its.
    pub rebase_to: Option<(Epoch, Micros)>,
}

impl Follow {
    /// A standby holding nothing yet.
    pub fn new(cfg: &NodeConfig, me: NodeId, now: Micros, auto: bool) -> Self {
        let (engine, _hello) = Standby::new(me, 0, 0, &cfg.channels, cfg.standby);
        Follow {
            engine,
            conn: false,
            connecting: false,
            handshaken: false,
            hello_v1: false,
            leader_name: None,
            leader_set: None,
            following: false,
            resync: false,
            planned_end: false,
            last_frame: None,
            lost_at: None,
            retry_at: now,
            auto_deadline: (auto && cfg.start == StartRole::Auto)
                .then_some(now + cfg.link_tolerance),
            election: None,
            awaiting: None,
            rebase_to: None,
        }
    }
}

impl Node {
    pub(super) fn connected(&mut self, now: Micros) {
        let Role::Standby(f) = &mut self.role else {
            self.emit(Output::CloseLeader);
            return;
        };
        let hello = Handshake {
            side: Side::Standby,
            node: self.me,
            epoch: if f.hello_v1 { FALLBACK_EPOCH } else { 0 },
            name: self.cfg.name.clone(),
            set: if f.hello_v1 {
                CommandSet::of(1)
            } else {
                CommandSet::ours()
            },
        };
        if !f.connecting {
            return;
        }
        f.connecting = false;
        f.conn = true;
        f.handshaken = false;
        f.retry_at = now + RECONNECT_GRACE;
        tracing::info!("connected to the primary; waiting for its handshake");
        self.emit(Output::Send {
            to: Dest::Leader,
            frame: Frame::Hello(hello),
        });
        self.join_acks();
    }

    /// The attempt may have taken long (the caller's connect blocks until
    /// its timeout): the next one waits its grace from now.
    pub(super) fn connect_failed(&mut self, now: Micros) {
        if let Role::Standby(f) = &mut self.role {
            f.connecting = false;
            f.retry_at = now + RECONNECT_GRACE;
        }
    }

    pub(super) fn kernel_acks(&mut self, now: Micros, acks: Vec<crate::wire::Ack>) {
        let Role::Standby(f) = &mut self.role else {
            return;
        };
        if !f.handshaken {
            return;
        }
        let mut acts = Vec::new();
        for a in acks {
            acts.extend(f.engine.on_kernel_ack(a));
        }
        self.run(now, acts);
    }

    pub(super) fn kernel_acks_lost(&mut self) {
        if let Role::Standby(f) = &self.role {
            if f.handshaken {
                tracing::warn!("acks group overran; reading the registers");
                let a = f.engine.read_registers();
                if let crate::Action::Kernel(c) = a {
                    self.emit(Output::Kernel(c));
                }
            }
        }
    }

    /// One frame from the primary.
    pub(super) fn leader_frame(&mut self, now: Micros, f: &[u8]) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if !s.conn {
            return;
        }
        s.last_frame = Some(now);
        if s.handshaken {
            let from = s.leader_set.as_ref().map_or(RELEASE, |x| x.release);
            let msg = match Message::decode_exact(f) {
                Ok(msg) => transform::up(msg, from).map_err(|c| c.why),
                Err(e) => Err(e.to_string()),
            };
            let Role::Standby(s) = &mut self.role else {
                return;
            };
            match msg {
                Ok(Message::TcpConns { round, conns }) => self.tcp_hold(round, conns),
                // Only a standby sends these.
                Ok(Message::TcpConnsAck { .. }) => {}
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
                    self.run(now, acts);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "malformed frame from the primary; dropping the connection");
                    self.leader_lost(now, false, "malformed frame");
                }
            }
            return;
        }
        let h = match Handshake::decode(f) {
            Ok(h) if h.side == Side::Primary => h,
            Ok(_) => return self.leader_lost(now, false, "the peer answered as a standby"),
            Err(e) => return self.leader_lost(now, false, &format!("bad handshake: {e}")),
        };
        // The primary we elected, of a newer epoch than ours: keep our
        // stream for its announcement to rebase.
        let elected = s.awaiting.is_some_and(|(w, _)| w == h.node) && h.epoch > s.engine.epoch;
        if !elected && (s.resync || s.awaiting.is_some()) {
            tracing::info!("primary answered again: syncing afresh");
            *s = Follow::new(&self.cfg, self.me, now, false);
            s.conn = true;
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
        s.leader_set = Some(h.set.clone());
        // What a previous primary sent is not this one's: it sends its own.
        self.tcp.forget_held();
        // What an older primary sends reaches the engine upgraded: check
        // that each update applies before applying it.
        s.engine.check_applies = h.set.release < RELEASE;
        if h.set.release >= 2 {
            s.hello_v1 = false;
        }
        super::compat::log_diff(&self.cfg.lacking, false, &h.name, &h.set);
        s.handshaken = true;
        s.following = true;
        let rebasing = s.rebase_to.is_some();
        self.names.insert(h.node, h.name);
        // Until the announcement rebases us, our engine speaks the old
        // stream: no Have or SyncRequest yet (the primary would take one for
        // the announcement's answer).
        if !rebasing {
            if let Role::Standby(s) = &mut self.role {
                let acts = s.engine.on_tick();
                self.run(now, acts);
            }
        }
    }

    /// The connection to the primary ended.
    pub(super) fn leader_lost(&mut self, now: Micros, planned: bool, why: &str) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if !s.conn {
            return;
        }
        s.conn = false;
        tracing::info!(why, planned, "connection to the primary ended");
        if !s.handshaken && !s.hello_v1 {
            // A first-release primary closes on this build's handshake:
            // greet it as the first release next time (a later one answers
            // that in version 2, see `handshake`).
            s.hello_v1 = true;
            tracing::info!("the primary closed before answering this release's handshake; the next attempt greets it as release 1");
        }
        s.planned_end = planned;
        s.handshaken = false;
        // A failed reconnection does not move the moment the primary was
        // first lost.
        if !(s.resync && s.lost_at.is_some()) {
            s.lost_at = Some(now);
        }
        s.retry_at = now + RECONNECT_GRACE;
        self.emit(Output::CloseLeader);
        self.standby_check(now);
    }

    /// Connect, take over, or wait; see the module docs.
    pub(super) fn standby_check(&mut self, now: Micros) {
        let published = !self.primaries.is_empty();
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if s.conn {
            if !published && s.handshaken {
                // The primary is gone (the caller delivered what it sent
                // last before the withdrawal): take over.
                s.conn = false;
                s.lost_at = Some(now);
                self.emit(Output::CloseLeader);
                self.leader_gone(now);
            }
            return;
        }
        if s.connecting {
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
                self.start_as_primary(now);
            }
            return;
        }
        if now < s.retry_at {
            return;
        }
        s.auto_deadline = None;
        if s.following && !s.resync && s.awaiting.is_none() {
            // Either the primary is alive and only the connection broke, or
            // its node is gone and its name is not withdrawn yet: reconnect,
            // holding on to the stream until a primary answers.
            tracing::info!("primary still published: reconnecting");
            s.resync = true;
        }
        s.retry_at = now + RECONNECT_GRACE;
        s.connecting = true;
        self.emit(Output::Connect);
    }

    /// The primary is gone for good: take over with what we hold.
    fn leader_gone(&mut self, now: Micros) {
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        // Detection is the time spent making sure: from the loss being
        // noticed (the connection ending, or the service withdrawn) to this
        // verdict. An idle stream's last frame says nothing about when the
        // primary died, and a handover is no loss at all.
        let detection_ms = match s.lost_at {
            _ if s.planned_end => 0.0,
            Some(l) => ms(now.saturating_sub(l)),
            None => 0.0,
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

    pub(super) fn standby_tick(&mut self, now: Micros) {
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
                self.leader_lost(now, false, "no takeover announcement");
            }
        }
    }
}
