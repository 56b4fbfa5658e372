//! The daemon's event stream (`hasync monitor daemon`): what changed
//! between two looks at a [`Node`].
//!
//! The daemon takes a [`Snapshot`] after each round of its loop while
//! someone follows; [`changes`] turns two snapshots into events, and the
//! first look, compared with nothing, gives the state a follower starts
//! from. Deriving events from state rather than from log lines means a
//! follower sees every change whichever code path made it, and never two
//! events for one change.

use std::collections::BTreeMap;

use hasync_engine::node::Node;

use crate::proto::DaemonEvent;
use crate::TakeoverReport;

/// What the events are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    role: String,
    phase: String,
    epoch: u64,
    /// Peer name → state (hot, syncing, primary).
    peers: BTreeMap<String, String>,
    /// The last takeover's report, once final (its replay done).
    takeover: Option<TakeoverReport>,
    fenced: Option<u64>,
    mismatches: u64,
    repaired: u64,
    refused_standbys: u64,
    refused_control: u64,
}

impl Snapshot {
    /// `node` now; `refused_control` is the daemon's own count.
    pub fn of(node: &Node, refused_control: u64) -> Self {
        let mut peers = BTreeMap::new();
        if node.primary().is_some() {
            for (name, _, hot) in node.attached() {
                peers.insert(name, if hot { "hot" } else { "syncing" }.to_owned());
            }
        } else if let Some((name, true)) = node.leader() {
            peers.insert(name.to_owned(), "primary".to_owned());
        }
        let phase = node.phase();
        Snapshot {
            role: node.role().as_str().to_owned(),
            phase: phase.as_str().to_owned(),
            epoch: node.epoch(),
            peers,
            // A report is rewritten when its replay ends: told once, final.
            takeover: node.report().filter(|r| r.total_ms > 0.0).cloned(),
            fenced: node.primary().and_then(|p| p.deposed),
            mismatches: node.audit_mismatches(),
            repaired: node.primary().map_or(0, |p| p.stats.repaired_sections),
            refused_standbys: node.refused_standbys(),
            refused_control,
        }
    }
}

/// The events that lead from `old` to `new`, in a fixed order: role,
/// peers, takeover, fencing, audit, refusals.
pub fn changes(old: &Snapshot, new: &Snapshot) -> Vec<DaemonEvent> {
    let mut out = Vec::new();
    if (&old.role, &old.phase, old.epoch) != (&new.role, &new.phase, new.epoch) {
        out.push(DaemonEvent::Role {
            role: new.role.clone(),
            phase: new.phase.clone(),
            epoch: new.epoch,
        });
    }
    for (peer, state) in &new.peers {
        match old.peers.get(peer) {
            None => out.push(DaemonEvent::PeerUp {
                peer: peer.clone(),
                state: state.clone(),
            }),
            Some(was) if was != state => out.push(DaemonEvent::PeerState {
                peer: peer.clone(),
                state: state.clone(),
            }),
            Some(_) => {}
        }
    }
    for peer in old.peers.keys().filter(|p| !new.peers.contains_key(*p)) {
        out.push(DaemonEvent::PeerDown { peer: peer.clone() });
    }
    if let Some(r) = &new.takeover {
        if old.takeover.as_ref() != Some(r) {
            out.push(DaemonEvent::Takeover {
                report: Box::new(r.clone().capped(crate::REPORT_CHANNELS_MAX)),
            });
        }
    }
    if let Some(epoch) = new.fenced {
        if old.fenced != Some(epoch) {
            out.push(DaemonEvent::Fenced { epoch });
        }
    }
    if (new.mismatches, new.repaired) != (old.mismatches, old.repaired)
        && (new.mismatches > old.mismatches || new.repaired > old.repaired)
    {
        out.push(DaemonEvent::AuditRepair {
            mismatches: new.mismatches,
            repaired: new.repaired,
        });
    }
    for (what, was, now) in [
        ("standby", old.refused_standbys, new.refused_standbys),
        ("control", old.refused_control, new.refused_control),
    ] {
        if now > was {
            out.push(DaemonEvent::Refused {
                what: what.to_owned(),
                total: now,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(role: &str, phase: &str, peers: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            role: role.into(),
            phase: phase.into(),
            epoch: 7,
            peers: peers
                .iter()
                .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn nothing_changed_nothing_said() {
        let s = snap("primary", "primary", &[("b", "hot")]);
        assert!(changes(&s, &s).is_empty());
    }

    #[test]
    fn the_first_look_is_the_state() {
        let s = snap("primary", "primary", &[("b", "hot")]);
        assert_eq!(
            changes(&Snapshot::default(), &s),
            [
                DaemonEvent::Role {
                    role: "primary".into(),
                    phase: "primary".into(),
                    epoch: 7
                },
                DaemonEvent::PeerUp {
                    peer: "b".into(),
                    state: "hot".into()
                },
            ]
        );
    }

    #[test]
    fn peers_come_change_and_go() {
        let a = snap("primary", "primary", &[("b", "syncing"), ("c", "hot")]);
        let b = snap("primary", "primary", &[("b", "hot"), ("d", "syncing")]);
        assert_eq!(
            changes(&a, &b),
            [
                DaemonEvent::PeerState {
                    peer: "b".into(),
                    state: "hot".into()
                },
                DaemonEvent::PeerUp {
                    peer: "d".into(),
                    state: "syncing".into()
                },
                DaemonEvent::PeerDown { peer: "c".into() },
            ]
        );
    }

    #[test]
    fn a_takeover_a_fence_an_audit_and_refusals_each_once() {
        let a = snap("standby", "standby, hot", &[("a", "primary")]);
        let mut b = snap("primary", "primary", &[]);
        b.epoch = 9;
        b.takeover = Some(TakeoverReport {
            epoch: 9,
            reason: "primary-lost".into(),
            ..TakeoverReport::default()
        });
        b.fenced = Some(12);
        b.mismatches = 2;
        b.refused_control = 1;
        let ev = changes(&a, &b);
        let kinds: Vec<String> = ev
            .iter()
            .map(|e| {
                serde_json::to_value(e).expect("serializes")["kind"]
                    .as_str()
                    .expect("tagged")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "role",
                "peer-down",
                "takeover",
                "fenced",
                "audit-repair",
                "refused"
            ]
        );
        assert!(changes(&b, &b).is_empty());
    }
}
