//! Choosing one new primary when several standbys lose theirs.
//!
//! Every unit has an election service (a datagram address per unit id) and
//! the caller reports which units are up. A standby that loses its primary
//! and sees other standbys up freezes its candidacy and sends it to each of
//! them; they answer with theirs; once every unit still up has answered
//! (or [`ELECTION_WINDOW`] has passed), all of them run the same ranking
//! over the same set and name the same winner: the best-synced standby,
//! not the fastest claimer. The winner takes over with the others as
//! followers: its takeover announcement tells them where its stream
//! starts, and they rebase onto it keeping every channel their stream
//! allows, instead of a full bulk sync. They wait for it to publish the
//! replication service ([`AWAIT_WINNER`] bounds the wait: a winner that
//! never publishes is elected away) and for the announcement once
//! connected ([`super::follow::REBASE_WAIT`]: without it they sync afresh).
//!
//! A unit asked while it is not electing answers with what it would stand
//! with: a standby its current candidacy (and it starts its own election
//! when it too sees no primary), a unit taking over the candidacy it won
//! with, a primary its own (newest epoch, every channel Hot), so a late
//! election names the unit already in charge. With `units` configured,
//! only the listed units take part.

use crate::election::{Candidacy, Election};
use crate::report::Reason;
use crate::wire::Message;
use crate::{Action, NodeId};

use super::{Dest, Frame, Micros, Node, Output, Role, MS};

/// How long an election waits for a unit that is up but silent.
pub const ELECTION_WINDOW: Micros = 1000 * MS;
/// How long the losers wait for the winner's replication service.
pub const AWAIT_WINNER: Micros = 10_000 * MS;

/// An election in progress.
pub(super) struct Electing {
    pub engine: Election,
    /// Decide with what is in by then.
    pub deadline: Micros,
    /// Why the primary was lost (for the winner's report).
    pub reason: Reason,
    /// Detection time (for the winner's report).
    pub detection_ms: f64,
}

impl Node {
    /// The units that take part in an election after losing `leader`.
    fn election_peers(&self, leader: NodeId) -> Vec<NodeId> {
        self.units_up
            .iter()
            .copied()
            .filter(|&n| n != self.me && n != leader)
            .filter(|n| self.listed.is_empty() || self.listed.contains(n))
            .collect()
    }

    /// The primary is gone and other standbys may be up: elect, or take
    /// over at once when nobody else is.
    pub(super) fn elect_or_take_over(&mut self, now: Micros, reason: Reason, detection_ms: f64) {
        let Role::Standby(s) = &self.role else {
            return;
        };
        if s.election.is_some() {
            return;
        }
        let peers = self.election_peers(s.engine.leader);
        if peers.is_empty() {
            self.start_takeover(now, reason, detection_ms, Vec::new());
            return;
        }
        let Role::Standby(s) = &mut self.role else {
            return;
        };
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
    pub(super) fn election_check(&mut self, now: Micros) {
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
            self.start_takeover(now, e.reason, e.detection_ms, followers);
        } else {
            // Its takeover announces its stream to us: we keep ours and
            // rebase onto it, so the next handshake must not sync afresh,
            // even after a reconnection.
            s.awaiting = Some((winner, now + AWAIT_WINNER));
            s.resync = false;
            tracing::info!(winner = %self.name_of(winner),
                "elected another standby: following it once it publishes");
        }
    }

    /// A datagram on the election service: a candidacy.
    pub(super) fn on_unit(&mut self, now: Micros, d: &[u8]) {
        match Message::decode_exact(d) {
            Ok(Message::Candidacy { ask, candidacy }) => self.on_candidacy(now, ask, candidacy),
            Ok(_) => tracing::warn!("a message other than a candidacy on the unit socket; ignored"),
            Err(e) => tracing::warn!(error = %e, "malformed datagram on the unit socket; ignored"),
        }
        self.election_check(now);
    }

    fn on_candidacy(&mut self, now: Micros, ask: bool, candidacy: Candidacy) {
        let from = candidacy.node;
        if from == self.me {
            return;
        }
        if !self.listed.is_empty() && !self.listed.contains(&from) {
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
            Role::Preparing(p) => p.standby.candidacy(),
            Role::TakingOver(t) => t.engine.candidacy(),
            Role::Primary(l) => l.engine.candidacy(),
            Role::Stopped => return,
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
                if s.following && !s.conn && s.awaiting.is_none() {
                    let reason = if s.planned_end {
                        Reason::Switchover
                    } else {
                        Reason::PrimaryLost
                    };
                    self.elect_or_take_over(now, reason, 0.0);
                }
            }
        }
    }

    /// Election messages to their units.
    pub(super) fn send_units(&mut self, acts: Vec<Action>) {
        for a in acts {
            if let Action::Send { to, msg } = a {
                self.emit(Output::Send {
                    to: Dest::Unit(to),
                    frame: Frame::Msg(msg),
                });
            }
        }
    }

    /// A unit's election service went away: an election no longer waits
    /// for it, nor a primary for it to follow.
    pub(super) fn unit_down(&mut self, now: Micros, node: NodeId) {
        match &mut self.role {
            Role::Standby(s) => {
                if let Some(e) = &mut s.election {
                    e.engine.peer_down(node);
                }
                // The winner we wait for is gone: elect again now.
                if let Some((w, until)) = &mut s.awaiting {
                    if *w == node {
                        *until = now;
                    }
                }
            }
            Role::Primary(_) => self.forget_follower(
                now,
                node,
                "an elected follower went down before it attached",
            ),
            _ => {}
        }
        self.election_check(now);
    }
}
