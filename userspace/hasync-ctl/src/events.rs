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

use hasync_engine::node::{Node, Phase, RoleName};

use crate::proto::DaemonEvent;
use crate::TakeoverReport;

/// What the events are computed from: cheap to take each round of the
/// loop (the takeover report itself is read only when it changed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Role, phase and epoch (none before the first look).
    role: Option<(RoleName, Phase, u64)>,
    /// Peer name → state (hot, syncing, primary).
    peers: BTreeMap<String, String>,
    /// The last takeover, once its report is final (its replay done): its
    /// epoch and total time, which tell one report from the next.
    takeover: Option<(u64, u64)>,
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
        Snapshot {
            role: Some((node.role(), node.phase(), node.epoch())),
            peers,
            takeover: final_report(node).map(|r| (r.epoch, r.total_ms.to_bits())),
            fenced: node.primary().and_then(|p| p.deposed),
            mismatches: node.audit_mismatches(),
            repaired: node.primary().map_or(0, |p| p.stats.repaired_sections),
            refused_standbys: node.refused_standbys(),
            refused_control,
        }
    }
}

/// The node's last takeover report once final: it is rewritten when its
/// replay ends, and told once.
pub fn final_report(node: &Node) -> Option<&TakeoverReport> {
    node.report().filter(|r| r.total_ms > 0.0)
}

/// The events that lead from `old` to `new`, in a fixed order: role,
/// peers, takeover, fencing, audit, refusals. `report` is the report
/// `new` was taken with ([`final_report`]).
pub fn changes(
    old: &Snapshot,
    new: &Snapshot,
    report: Option<&TakeoverReport>,
) -> Vec<DaemonEvent> {
    let mut out = Vec::new();
    if let Some((role, phase, epoch)) = new.role.filter(|r| old.role != Some(*r)) {
        out.push(DaemonEvent::Role {
            role: role.as_str().to_owned(),
            phase: phase.as_str().to_owned(),
            epoch,
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
    if let (Some(r), true) = (
        report,
        new.takeover.is_some() && old.takeover != new.takeover,
    ) {
        out.push(DaemonEvent::Takeover {
            report: Box::new(r.clone().capped(crate::REPORT_CHANNELS_MAX)),
        });
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

    fn snap(role: RoleName, phase: Phase, peers: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            role: Some((role, phase, 7)),
            peers: peers
                .iter()
                .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn nothing_changed_nothing_said() {
        let s = snap(RoleName::Primary, Phase::Primary, &[("b", "hot")]);
        assert!(changes(&s, &s, None).is_empty());
    }

    #[test]
    fn the_first_look_is_the_state() {
        let s = snap(RoleName::Primary, Phase::Primary, &[("b", "hot")]);
        assert_eq!(
            changes(&Snapshot::default(), &s, None),
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
        let a = snap(
            RoleName::Primary,
            Phase::Primary,
            &[("b", "syncing"), ("c", "hot")],
        );
        let b = snap(
            RoleName::Primary,
            Phase::Primary,
            &[("b", "hot"), ("d", "syncing")],
        );
        assert_eq!(
            changes(&a, &b, None),
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
        let a = snap(RoleName::Standby, Phase::Hot, &[("a", "primary")]);
        let mut b = snap(RoleName::Primary, Phase::Primary, &[]);
        b.role = Some((RoleName::Primary, Phase::Primary, 9));
        let report = TakeoverReport {
            epoch: 9,
            reason: "primary lost".into(),
            total_ms: 12.5,
            ..TakeoverReport::default()
        };
        b.takeover = Some((9, report.total_ms.to_bits()));
        b.fenced = Some(12);
        b.mismatches = 2;
        b.refused_control = 1;
        let ev = changes(&a, &b, Some(&report));
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
        assert!(changes(&b, &b, Some(&report)).is_empty());
    }
}
