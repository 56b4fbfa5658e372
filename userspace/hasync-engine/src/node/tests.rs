//! The lifecycle's verdicts one at a time (the lifecycle simulator runs
//! them all together).

use super::*;
use crate::handshake::Side;
use crate::kernel::RegisterRead;
use crate::release::CommandSet;

pub(super) fn cfg(name: &str, start: StartRole) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        start,
        channels: vec![(0, SectionCount::ONE)],
        standby: StandbyConfig { max_pending: 64 },
        primary: PrimaryConfig::default(),
        policy: Policy::Replay,
        unit_byte: 1,
        units: Vec::new(),
        link_tolerance: 1500 * MS,
        audit_period: None,
        ack_path: AckPath::Forward,
        full_replay: false,
        lacking: Default::default(),
    }
}

fn outputs(n: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| n.poll_output()).collect()
}

fn asks_registers(out: &[Output]) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Kernel(KernelCmd::Registers)))
}

fn connects(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Connect))
}

/// The handshake of primary `name` of this release, epoch 0x101.
pub(super) fn welcome(name: &str) -> Handshake {
    Handshake {
        side: Side::Primary,
        node: node_id(name),
        epoch: 0x101,
        name: name.into(),
        set: CommandSet::ours(),
    }
}

/// A standby following primary `p1` (published as publisher 1).
fn following(now: Micros) -> Node {
    let mut n = Node::new(cfg("b", StartRole::Standby), now);
    n.handle(now, Event::PrimaryUp(1));
    assert!(connects(&outputs(&mut n)));
    n.handle(now, Event::Connected);
    n.handle(now, Event::LeaderFrame(&welcome("a").encode()));
    outputs(&mut n);
    assert_eq!(n.leader(), Some(("a", true)));
    assert_eq!(n.phase(), Phase::Syncing);
    // A primary of this release validated its updates: no check here.
    assert!(n.standby().is_some_and(|s| !s.check_applies));
    n
}

#[test]
fn a_broken_connection_to_a_published_primary_reconnects() {
    let mut n = following(0);
    n.handle(
        MS,
        Event::LeaderClosed {
            planned: false,
            why: "reset",
        },
    );
    assert!(!connects(&outputs(&mut n)), "waits for the verdict first");
    n.handle_timeout(200 * MS);
    assert!(outputs(&mut n).is_empty());
    n.handle_timeout(400 * MS);
    let out = outputs(&mut n);
    assert!(connects(&out), "still published: reconnect");
    assert!(!asks_registers(&out), "no takeover");
    assert_eq!(n.role(), RoleName::Standby);
}

#[test]
fn a_withdrawn_primary_is_taken_over() {
    let mut n = following(0);
    n.handle(MS, Event::PrimaryDown(1));
    let out = outputs(&mut n);
    assert!(out.iter().any(|o| matches!(o, Output::CloseLeader)));
    assert!(asks_registers(&out), "reads the owner epochs");
    assert_eq!(n.phase(), Phase::Preparing);
    // The claim uses the next epoch of this unit over the newest owner.
    n.handle(
        2 * MS,
        Event::Kernel(vec![KernelReply::Registers(vec![RegisterRead {
            channel: 0,
            register: 0,
            register_epoch: 0,
            owner: 0x305,
        }])]),
    );
    let claims: Vec<Epoch> = outputs(&mut n)
        .iter()
        .filter_map(|o| match o {
            Output::Kernel(KernelCmd::Claim { epoch, .. }) => Some(*epoch),
            _ => None,
        })
        .collect();
    assert_eq!(claims, vec![0x401]);
    assert_eq!(n.phase(), Phase::Claiming);
}

#[test]
fn other_standbys_up_means_an_election_first() {
    let mut n = following(0);
    n.handle(0, Event::UnitUp(node_id("c")));
    n.handle(MS, Event::PrimaryDown(1));
    let out = outputs(&mut n);
    assert!(!asks_registers(&out));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send {
            to: Dest::Unit(_),
            frame: Frame::Msg(Message::Candidacy { ask: true, .. })
        }
    )));
    assert_eq!(n.phase(), Phase::Electing);
    // A silent unit does not hold it up past the window.
    n.handle_timeout(1100 * MS);
    assert!(asks_registers(&outputs(&mut n)));
}

#[test]
fn auto_becomes_primary_only_after_the_link_tolerance() {
    let mut n = Node::new(cfg("a", StartRole::Auto), 0);
    n.handle_timeout(1000 * MS);
    assert!(!asks_registers(&outputs(&mut n)));
    n.handle_timeout(1600 * MS);
    assert!(asks_registers(&outputs(&mut n)));
}

#[test]
fn requests_to_a_standby_are_refused_naming_the_primary() {
    let mut n = following(0);
    n.handle(MS, Event::Switchover { request: 7 });
    let out = outputs(&mut n);
    let [Output::Refused {
        request: 7,
        refusal,
    }] = &out[..]
    else {
        panic!("{out:?}");
    };
    assert_eq!(refusal.kind, RefusalKind::NotPrimary);
    assert_eq!(refusal.primary.as_deref(), Some("a"));
}
