//! The TCP face's connections across units: the primary's commit rounds
//! and the standby's copy.
//!
//! The primary hands the node the state of every connection
//! ([`super::Event::TcpCommit`]) and holds back what its kernel would send the
//! clients meanwhile (the daemon's output commit). The node sends the set
//! to every hot standby that can take it over and says when all of them
//! hold it ([`Output::TcpCommitted`]); only then may the held output go,
//! so a client never sees an acknowledgement or a reply that the unit
//! taking over would not know of. With no such standby a round commits
//! at once: nobody could take the connections over anyway.
//!
//! A standby keeps the last set it was sent and answers each round. When
//! it becomes primary it hands the set back ([`Output::RestoreTcp`])
//! before it publishes, so the daemon rebuilds the connections before the
//! service address is taken.

use std::collections::BTreeSet;

use super::{Node, Output, Role};
use crate::release::Release;
use crate::wire::{Message, TcpConn};
use crate::NodeId;

use super::{Micros, MS};

/// A round no standby may hold up longer: one that has not answered by
/// then (stopped, its link still up) stops counting for it, so the
/// primary's output is never held without bound.
const ROUND_TIMEOUT: Micros = 2_000 * MS;

/// The oldest release that takes TCP face connections over.
const TCP_CONNS_SINCE: Release = 2;

/// One unit's side of the TCP face's replication.
#[derive(Debug, Default)]
pub(super) struct TcpRepl {
    /// The last round started (primary).
    round: u64,
    /// Standbys the open round waits for.
    waiting: BTreeSet<NodeId>,
    /// How many standbys the open round went to.
    holders: usize,
    /// When the open round started.
    started: Micros,
    /// Standbys the open round stopped waiting for at its timeout.
    late: usize,
    /// The set last received, with its round (standby).
    held: Option<(u64, Vec<TcpConn>)>,
}

impl TcpRepl {
    /// Following a primary afresh: what the previous one sent is not this
    /// one's (it sends its own rounds).
    pub(super) fn forget_held(&mut self) {
        self.held = None;
    }
}

impl Node {
    /// Standby: the last round received from the primary and its
    /// connections (what a takeover would rebuild).
    pub fn tcp_held(&self) -> Option<(u64, &[TcpConn])> {
        self.tcp.held.as_ref().map(|(r, c)| (*r, c.as_slice()))
    }

    /// [`super::Event::TcpCommit`]: a new round, to every hot standby of a release
    /// that takes connections over.
    pub(super) fn tcp_commit(&mut self, conns: Vec<TcpConn>) {
        let Role::Primary(l) = &self.role else {
            return;
        };
        let targets: BTreeSet<NodeId> = l
            .peers
            .values()
            .filter(|p| p.set.as_ref().is_some_and(|s| s.release >= TCP_CONNS_SINCE))
            .filter_map(|p| p.node)
            .filter(|&n| l.peer_hot(n))
            .collect();
        self.tcp.round += 1;
        self.tcp.started = self.now;
        self.tcp.late = 0;
        let round = self.tcp.round;
        self.tcp.holders = targets.len();
        self.tcp.waiting = targets.clone();
        for n in targets {
            self.send(
                n,
                Message::TcpConns {
                    round,
                    conns: conns.clone(),
                },
            );
        }
        self.tcp_check_round();
    }

    /// A standby holds `round`.
    pub(super) fn tcp_acked(&mut self, from: NodeId, round: u64) {
        if round == self.tcp.round && self.tcp.waiting.remove(&from) {
            self.tcp_check_round();
        }
    }

    /// A standby is gone (or no longer hot): the open round does not wait
    /// for it.
    pub(super) fn tcp_peer_gone(&mut self, node: NodeId) {
        if self.tcp.waiting.remove(&node) {
            self.tcp.holders = self.tcp.holders.saturating_sub(1);
            self.tcp_check_round();
        }
    }

    /// A round open too long commits without the standbys that did not
    /// answer (see [`ROUND_TIMEOUT`]).
    pub(super) fn tcp_round_timeout(&mut self, now: Micros) {
        if self.tcp.waiting.is_empty() || now.saturating_sub(self.tcp.started) < ROUND_TIMEOUT {
            return;
        }
        let late: Vec<NodeId> = std::mem::take(&mut self.tcp.waiting).into_iter().collect();
        tracing::warn!(round = self.tcp.round, standbys = ?late,
            "TCP face round not acknowledged in time; committed without them (they would not hold these connections)");
        self.tcp.holders = self.tcp.holders.saturating_sub(late.len());
        self.tcp.late = late.len();
        self.tcp_check_round();
    }

    fn tcp_check_round(&mut self) {
        if self.tcp.waiting.is_empty() && self.tcp.round > 0 {
            let round = self.tcp.round;
            self.emit(Output::TcpCommitted {
                round,
                holders: self.tcp.holders,
                late: self.tcp.late,
            });
            // Committed once.
            self.tcp.waiting.clear();
        }
    }

    /// A standby's copy of the primary's round, answered.
    pub(super) fn tcp_hold(&mut self, round: u64, conns: Vec<TcpConn>) {
        self.tcp.held = Some((round, conns));
        // A standby's sends all go to its leader, whatever the id.
        self.send(0, Message::TcpConnsAck { round });
    }

    /// Becoming primary: the connections to rebuild, before publishing.
    pub(super) fn tcp_restore(&mut self, switchover: bool) {
        if let Some((round, conns)) = self.tcp.held.take() {
            tracing::info!(
                round,
                connections = conns.len(),
                "taking over the TCP face's connections"
            );
            if !conns.is_empty() {
                self.emit(Output::RestoreTcp { conns, switchover });
            }
        }
        self.tcp.waiting.clear();
    }
}
