//! Choosing one new primary when several standbys lose theirs: the
//! engine's [`Election`] over real TIPC.
//!
//! Every daemon binds a `SOCK_RDM` socket to its unit service
//! `{type+3, node id}` (cluster scope) and watches the whole range, so the
//! topology server tells each one which units are up. A standby that
//! loses its primary and sees other standbys up freezes its candidacy and
//! sends it to each of them; they answer with theirs; once every unit
//! still up has answered (or [`ELECTION_WINDOW`] has passed), all of them
//! run the same ranking over the same set and name the same winner: the
//! best-synced standby, not the fastest claimer. The winner takes over
//! with the others as followers: its takeover announcement (the engine's
//! `NewPrimary`) tells them where its stream starts, and they rebase onto
//! it keeping every channel their stream allows, instead of a full bulk
//! sync. They wait for it to publish the replication service
//! ([`AWAIT_WINNER`] bounds the wait: a winner that never publishes is
//! elected away) and for the announcement once connected
//! ([`super::standby::REBASE_WAIT`]: without it they sync afresh).
//!
//! A unit asked while it is not electing answers with what it would
//! stand with: a standby its current candidacy (and it starts its own
//! election when it too sees no primary), a unit taking over the
//! candidacy it won with, a primary its own (newest epoch, every channel
//! Hot), so a late election names the unit already in charge.
//! With `units` in the configuration, only the listed units take part.

use std::time::{Duration, Instant};

use hasync_engine::election::Election;
use hasync_engine::report::Reason;
use hasync_engine::wire::Message;
use hasync_engine::{Action, NodeId};

use super::{Daemon, Role};
use hasync_engine::handshake::node_id;

/// How long an election waits for a unit that is up but silent.
pub const ELECTION_WINDOW: Duration = Duration::from_millis(1000);
/// How long the losers wait for the winner's replication service.
pub const AWAIT_WINNER: Duration = Duration::from_secs(10);

/// An election in progress.
pub struct Electing {
    /// The engine's exchange.
    pub engine: Election,
    /// Decide with what is in by then.
    pub deadline: Instant,
    /// Why the primary was lost (for the winner's report).
    pub reason: Reason,
    /// Detection time (for the winner's report).
    pub detection_ms: f64,
}

impl Daemon {
    /// The units that take part in an election after losing `leader`:
    /// every unit up (listed in `units`, when that is set) but this one
    /// and the lost primary.
    pub(super) fn election_peers(&self, leader: NodeId) -> Vec<NodeId> {
        let listed: Vec<NodeId> = self.cfg.units.iter().map(|u| node_id(u)).collect();
        self.units_up
            .iter()
            .copied()
            .filter(|&n| n != self.me && n != leader)
            .filter(|n| listed.is_empty() || listed.contains(n))
            .collect()
    }

    /// The primary is gone and other standbys may be up: elect, or take
    /// over at once when nobody else is.
    pub(super) fn elect_or_take_over(&mut self, now: Instant, reason: Reason, detection_ms: f64) {
        let Role::Standby(s) = &self.role else {
            return;
        };
        if s.election.is_some() {
            return;
        }
        let peers = self.election_peers(s.engine.leader);
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        if peers.is_empty() {
            self.start_takeover(reason, detection_ms, Vec::new());
            return;
        }
        tracing::info!(?peers, "primary lost: electing among the standbys up");
        let (engine, acts) = Election::start(s.engine.candidacy(), peers);
        s.election = Some(Electing {
            engine,
            deadline: now + ELECTION_WINDOW,
            reason,
            detection_ms,
        });
        self.send_units(acts);
        self.election_check(now);
    }

    /// Decide once every unit answered or the window closed.
    pub(super) fn election_check(&mut self, now: Instant) {
        let me = self.me;
        let Role::Standby(s) = &mut self.role else {
            return;
        };
        let Some(e) = &s.election else { return };
        let winner = match e.engine.outcome() {
            Some(w) => w,
            None if now >= e.deadline => {
                tracing::warn!(silent = ?e.engine.waiting(), "election window closed; deciding without them");
                match e.engine.decide_now() {
                    Some(w) => w,
                    None => return,
                }
            }
            None => return,
        };
        let Some(e) = s.election.take() else { return };
        if winner == me {
            let followers = e.engine.participants();
            tracing::info!(?followers, "elected: taking over");
            self.start_takeover(e.reason, e.detection_ms, followers);
        } else {
            let name = self
                .names
                .get(&winner)
                .cloned()
                .unwrap_or_else(|| winner.to_string());
            tracing::info!(winner = %name, "elected another standby: following it once it publishes");
            // Its takeover announces its stream to us: we keep ours and
            // rebase onto it (see `StandbyRole::rebase_to`), so the next
            // handshake must not sync afresh, even after a reconnection.
            s.awaiting = Some((winner, now + AWAIT_WINNER));
            s.resync = false;
        }
    }

    /// Datagrams on the unit socket: candidacies.
    pub(super) fn on_unit(&mut self) {
        loop {
            let (len, from) = match self.unit_sock.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.is_would_block() => break,
                Err(e) => {
                    tracing::warn!(error = %e, "unit socket receive failed");
                    break;
                }
            };
            match Message::decode_exact(&self.buf[..len]) {
                Ok(Message::Candidacy { ask, candidacy }) => self.on_candidacy(ask, candidacy),
                Ok(_) => {
                    tracing::warn!(%from, "a message other than a candidacy on the unit socket; ignored")
                }
                Err(e) => {
                    tracing::warn!(%from, error = %e, "malformed datagram on the unit socket; ignored")
                }
            }
        }
        self.election_check(Instant::now());
    }

    fn on_candidacy(&mut self, ask: bool, candidacy: hasync_engine::election::Candidacy) {
        let from = candidacy.node;
        if from == self.me {
            return;
        }
        let listed = self.cfg.units.is_empty() || self.cfg.units.iter().any(|u| node_id(u) == from);
        if !listed {
            tracing::warn!(unit = from, "candidacy from a unit not in `units`; ignored");
            return;
        }
        let published = !self.primaries.is_empty();
        let mine = match &mut self.role {
            Role::Standby(s) => {
                if let Some(e) = &mut s.election {
                    let acts = e.engine.on_candidacy(candidacy, ask);
                    self.send_units(acts);
                    return;
                }
                s.engine.candidacy()
            }
            Role::TakingOver(t) => t.engine.candidacy(),
            Role::Primary(p) => p.engine.candidacy(),
            Role::Stopping => return,
        };
        if ask {
            self.send_units(vec![Action::Send {
                to: from,
                msg: Message::Candidacy {
                    ask: false,
                    candidacy: mine,
                },
            }]);
        }
        // A standby asked before it noticed the loss itself: if it sees no
        // primary either, it joins now, so that both decide on one set.
        if !published {
            if let Role::Standby(s) = &self.role {
                if s.following && s.conn.is_none() && s.awaiting.is_none() {
                    let reason = if s.planned_end {
                        Reason::Switchover
                    } else {
                        Reason::PrimaryLost
                    };
                    self.elect_or_take_over(Instant::now(), reason, 0.0);
                }
            }
        }
    }

    /// Send election messages to their units.
    pub(super) fn send_units(&mut self, acts: Vec<Action>) {
        for a in acts {
            if let Action::Send { to, msg } = a {
                let addr = self.services.unit(to);
                if let Err(e) = self.unit_sock.send_to(&msg.encode(), addr) {
                    tracing::debug!(%addr, error = %e, "candidacy not sent");
                }
            }
        }
    }

    /// A unit's publication went away: an election no longer waits for
    /// it, nor a primary for it to follow.
    pub(super) fn unit_down(&mut self, node: NodeId) {
        match &mut self.role {
            Role::Standby(s) => {
                if let Some(e) = &mut s.election {
                    e.engine.peer_down(node);
                }
                // The winner we wait for is gone: elect again now.
                if let Some((w, until)) = &mut s.awaiting {
                    if *w == node {
                        *until = Instant::now();
                    }
                }
            }
            Role::Primary(p) => {
                if p.expected.remove(&node).is_some() {
                    tracing::warn!(
                        unit = node,
                        "an elected follower went down before it attached"
                    );
                    let acts = p.engine.peer_down(node);
                    self.act(acts);
                }
            }
            Role::TakingOver(_) | Role::Stopping => {}
        }
        self.election_check(Instant::now());
    }
}
