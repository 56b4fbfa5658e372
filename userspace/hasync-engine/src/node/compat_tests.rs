//! Peers of another release, one verdict at a time: the handshake's
//! fallback, the primary's answer, and what it sends an older standby.

use super::tests::cfg;
use super::*;
use crate::handshake::{Side, FALLBACK_EPOCH};
use crate::kernel::ModelKernel;
use crate::release::{CommandSet, Handling, RELEASE};
use crate::table::{Op, Table};

/// Outputs, with every kernel command answered by `k`.
fn drain(n: &mut Node, k: &mut ModelKernel, now: Micros) -> Vec<Output> {
    let mut all = Vec::new();
    loop {
        let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
        if out.is_empty() {
            return all;
        }
        let replies: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::Kernel(c) => Some(k.handle(c).reply),
                _ => None,
            })
            .collect();
        all.extend(out);
        if !replies.is_empty() {
            n.handle(now, Event::Kernel(replies));
        }
    }
}

fn hello_frames(out: &[Output]) -> Vec<Handshake> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                frame: Frame::Hello(h),
                ..
            } => Some(h.clone()),
            _ => None,
        })
        .collect()
}

fn updates_to_peer(out: &[Output]) -> Vec<crate::wire::Update> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to: Dest::Peer(_),
                frame: Frame::Msg(Message::Update(u)),
            } => Some(u.clone()),
            _ => None,
        })
        .collect()
}

/// A primary with one standby attached on connection 1, greeted with
/// `hello` (node "b").
fn primary_with(hello: Handshake, pc: PrimaryConfig) -> (Node, ModelKernel, Vec<Output>) {
    let (mut n, mut k) = primary(pc);
    let out = attach(&mut n, &mut k, hello);
    (n, k, out)
}

fn primary(pc: PrimaryConfig) -> (Node, ModelKernel) {
    primary_under(pc, crate::release::LackingPolicy::default())
}

fn primary_under(pc: PrimaryConfig, lacking: crate::release::LackingPolicy) -> (Node, ModelKernel) {
    let mut c = cfg("a", StartRole::Primary);
    c.primary = pc;
    c.lacking = lacking;
    let mut k = ModelKernel::new(&c.channels, 64);
    let mut n = Node::new(c, 0);
    drain(&mut n, &mut k, 0);
    assert_eq!(n.role(), RoleName::Primary);
    (n, k)
}

fn attach(n: &mut Node, k: &mut ModelKernel, hello: Handshake) -> Vec<Output> {
    n.handle(MS, Event::PeerAccepted(1, "b-addr".into()));
    n.handle(MS, Event::PeerFrame(1, &hello.encode()));
    let mut out = drain(n, k, MS);
    // What a standby sends first once greeted: the engine's hello.
    let h = Message::Hello { node: node_id("b") };
    n.handle(MS, Event::PeerFrame(1, &h.encode()));
    out.extend(drain(n, k, MS));
    out
}

fn hello(set: CommandSet, epoch: Epoch) -> Handshake {
    Handshake {
        side: Side::Standby,
        node: node_id("b"),
        epoch,
        name: "b".into(),
        set,
    }
}

fn name(s: &str) -> IfName {
    IfName::new(s.as_bytes()).expect("name")
}

/// `change` as request `request`, and what it led to.
fn submit(
    n: &mut Node,
    k: &mut ModelKernel,
    request: RequestId,
    change: RecordChange,
) -> Vec<Output> {
    n.handle(
        2 * MS,
        Event::Set {
            request,
            channel: None,
            change,
        },
    );
    drain(n, k, 2 * MS)
}

fn set_mtu(n: &mut Node, k: &mut ModelKernel, request: RequestId, dev: &str) -> Vec<Output> {
    let mut change = RecordChange::new(name(dev));
    change.mtu = Some(9000);
    submit(n, k, request, change)
}

/// `iface set dev DEV` with `speed` and `description`.
fn set_fields(
    n: &mut Node,
    k: &mut ModelKernel,
    request: RequestId,
    dev: &str,
    speed: u32,
    description: &[u8],
) -> Vec<Output> {
    let mut change = RecordChange::new(name(dev));
    change.speed = Some(speed);
    change.description = Some(description.to_vec());
    submit(n, k, request, change)
}

fn confirmed(out: &[Output], req: RequestId) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Confirmed { request, .. } if *request == req))
}

fn rename(
    n: &mut Node,
    k: &mut ModelKernel,
    request: RequestId,
    from: &str,
    to: &str,
) -> Vec<Output> {
    n.handle(
        3 * MS,
        Event::Rename {
            request,
            channel: None,
            from: name(from),
            to: name(to),
        },
    );
    drain(n, k, 3 * MS)
}

#[test]
fn a_standby_whose_handshake_is_refused_greets_as_release_1_next() {
    let mut n = Node::new(cfg("b", StartRole::Standby), 0);
    n.handle(0, Event::PrimaryUp(1));
    n.handle(0, Event::Connected);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    let first = hello_frames(&out);
    assert_eq!(first[0].set.release, RELEASE);
    assert_eq!(first[0].encode()[4], 2);
    // A first-release primary closes on it.
    n.handle(
        MS,
        Event::LeaderClosed {
            planned: false,
            why: "reset",
        },
    );
    n.handle_timeout(400 * MS);
    n.handle(400 * MS, Event::Connected);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    let second = &hello_frames(&out)[0];
    assert_eq!(second.encode()[4], 1, "version 1 frame");
    assert_eq!(second.epoch, FALLBACK_EPOCH);
    // It answers in version 1: the primary is of release 1.
    let welcome = Handshake {
        side: Side::Primary,
        node: node_id("a"),
        epoch: 0x101,
        name: "a".into(),
        set: CommandSet::of(1),
    };
    n.handle(401 * MS, Event::LeaderFrame(&welcome.encode()));
    // Its updates reach the engine upgraded: each is checked before it
    // applies.
    assert!(n.standby().is_some_and(|s| s.check_applies));
    let peers = n.peer_releases();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].set.release, 1);
    assert!(peers[0]
        .diff
        .peer_lacks
        .contains(&("op.rename".to_string(), Handling::Unused)));
    // A frame release 1 cannot send is refused: the connection drops.
    let part = Message::CheckpointPart {
        channel: 0,
        sync_id: 1,
        seq: 0,
        base: 0,
        opid: 0,
        section: 0,
        after: None,
        upto: Some(name("m")),
        records: Vec::new(),
    };
    n.handle(402 * MS, Event::LeaderFrame(&part.encode()));
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, Output::CloseLeader)));
    // A newly published primary is greeted with this release again.
    n.handle(500 * MS, Event::PrimaryUp(2));
    n.handle_timeout(900 * MS);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(o, Output::Connect)));
    n.handle(900 * MS, Event::Connected);
    let out: Vec<Output> = std::iter::from_fn(|| n.poll_output()).collect();
    assert_eq!(hello_frames(&out)[0].encode()[4], 2);
}

#[test]
fn a_fallen_back_standby_of_a_later_release_gets_version_2() {
    let (n, _, out) = primary_with(
        hello(CommandSet::of(1), FALLBACK_EPOCH),
        PrimaryConfig::default(),
    );
    let w = &hello_frames(&out)[0];
    assert_eq!(w.encode()[4], 2);
    assert_eq!(w.set, CommandSet::ours());
    assert_eq!(n.peer_releases()[0].set.release, RELEASE);
}

#[test]
fn a_release_1_standby_gets_renames_as_delete_and_set() {
    let (mut n, mut k, out) = primary_with(hello(CommandSet::of(1), 0), PrimaryConfig::default());
    let w = &hello_frames(&out)[0];
    assert_eq!(w.encode()[4], 1, "answered in version 1");
    assert_eq!(n.peer_releases()[0].set.release, 1);
    set_mtu(&mut n, &mut k, 1, "eth0");
    let u = updates_to_peer(&rename(&mut n, &mut k, 2, "eth0", "lan0"));
    assert_eq!(u.len(), 1);
    assert!(
        matches!(&u[0].ops[..], [Op::Del(a), Op::Set(r)] if *a == name("eth0") && r.name == name("lan0") && r.mtu == 9000)
    );
    assert_eq!(Message::Update(u[0].clone()).format(), 1);
    assert_eq!(n.compat_stats().transformed, 1);
    // The kernel applied the same: lan0 with eth0's fields, no eth0.
    let t = &k.channels[&0].table;
    assert!(t.get(&name("eth0")).is_none());
    assert_eq!(t.get(&name("lan0")).map(|r| r.mtu), Some(9000));
}

#[test]
fn a_release_2_standby_gets_the_rename_itself() {
    let (mut n, mut k, _) = primary_with(hello(CommandSet::ours(), 0), PrimaryConfig::default());
    set_mtu(&mut n, &mut k, 1, "eth0");
    let u = updates_to_peer(&rename(&mut n, &mut k, 2, "eth0", "lan0"));
    assert!(
        matches!(&u[0].ops[..], [Op::Rename { from, record }] if *from == name("eth0") && record.name == name("lan0"))
    );
    assert_eq!(n.compat_stats().transformed, 0);
}

#[test]
fn renames_are_refused_onto_a_held_name_or_from_a_missing_one() {
    let (mut n, mut k, _) = primary_with(hello(CommandSet::ours(), 0), PrimaryConfig::default());
    set_mtu(&mut n, &mut k, 1, "eth0");
    set_mtu(&mut n, &mut k, 2, "eth1");
    for (req, from, to) in [(3, "eth0", "eth1"), (4, "nope", "eth9")] {
        let out = rename(&mut n, &mut k, req, from, to);
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Refused { request, .. } if *request == req)),
            "{from} -> {to}: {out:?}"
        );
        assert!(updates_to_peer(&out).is_empty());
    }
}

#[test]
fn a_section_in_parts_leaves_a_release_1_standby_cold_there() {
    // Chunks of 64 bytes: a section of a dozen records (some 20 bytes each) does not
    // fit one, so it goes in parts, which release 1 cannot take.
    let pc = PrimaryConfig {
        chunk_bytes: 64,
        ..PrimaryConfig::default()
    };
    let (mut n, mut k) = primary(pc);
    for i in 0..12 {
        set_mtu(&mut n, &mut k, i, &format!("eth{i}"));
    }
    let out = attach(&mut n, &mut k, hello(CommandSet::of(1), 0));
    assert!(!out.iter().any(|o| matches!(
        o,
        Output::Send {
            frame: Frame::Msg(Message::CheckpointPart { .. }),
            ..
        }
    )));
    assert_eq!(n.peer_releases()[0].cold, vec![0]);
    // Changes on that channel are confirmed without it, and it is sent
    // none of them.
    let out = set_mtu(&mut n, &mut k, 100, "eth100");
    assert!(updates_to_peer(&out).is_empty());
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Confirmed { request: 100, .. })));
    // Its next request for a sync there is ignored.
    n.handle(
        5 * MS,
        Event::PeerFrame(1, &Message::SyncRequest { channel: 0 }.encode()),
    );
    assert!(drain(&mut n, &mut k, 5 * MS).iter().all(|o| !matches!(
        o,
        Output::Send {
            frame: Frame::Msg(Message::Checkpoint { .. }),
            ..
        }
    )));
}

#[test]
fn a_release_1_standby_gets_records_without_their_speed_and_audits_that_view() {
    let (mut n, mut k, _) = primary_with(hello(CommandSet::of(1), 0), PrimaryConfig::default());
    let out = set_fields(&mut n, &mut k, 1, "wan0", 10_000, b"uplink");
    let u = updates_to_peer(&out);
    assert_eq!(u.len(), 1);
    let Op::Set(sent) = &u[0].ops[0] else {
        panic!("{:?}", u[0].ops);
    };
    assert_eq!((sent.speed, &sent.description[..]), (0, &b"uplink"[..]));
    assert_eq!(Message::Update(u[0].clone()).format(), 1);
    let s = n.compat_stats();
    assert_eq!((s.dropped, s.not_synced, s.transformed), (1, 0, 1));
    // The kernel holds the speed; the standby holds the record without.
    let t = k.channels[&0].table.clone();
    assert_eq!(t.get(&name("wan0")).map(|r| r.speed), Some(10_000));
    let mut theirs = Table::new(t.section_count());
    theirs.apply_trusted(&u[0].ops);
    assert_ne!(t.digests(), theirs.digests());
    // The audit's digests it is sent are of the records as it holds them,
    // so it finds no difference to repair.
    let digests = Message::Digests {
        channel: 0,
        opid: 1,
        digests: t.digests(),
    };
    assert_eq!(
        n.downgrade_for(node_id("b"), 1, digests.clone()),
        Some(Message::Digests {
            channel: 0,
            opid: 1,
            digests: theirs.digests(),
        })
    );
    assert_eq!(
        n.downgrade_for(node_id("b"), RELEASE, digests.clone()),
        Some(digests)
    );
    // A record without a speed goes as it is.
    let out = set_fields(&mut n, &mut k, 2, "wan1", 0, b"");
    assert_eq!(updates_to_peer(&out).len(), 1);
    assert_eq!(n.compat_stats().dropped, 1);
}

#[test]
fn a_description_release_1_cannot_hold_leaves_its_channel_cold() {
    let (mut n, mut k, _) = primary_with(hello(CommandSet::of(1), 0), PrimaryConfig::default());
    let out = set_fields(&mut n, &mut k, 1, "wan0", 0, &[b'd'; 65]);
    assert!(confirmed(&out, 1));
    assert!(updates_to_peer(&out).is_empty());
    assert_eq!(n.peer_releases()[0].cold, vec![0]);
    // A release 2 standby gets it whole, in a format 2 frame.
    let (mut n, mut k, _) = primary_with(hello(CommandSet::ours(), 0), PrimaryConfig::default());
    let u = updates_to_peer(&set_fields(&mut n, &mut k, 1, "wan0", 100, &[b'd'; 255]));
    assert_eq!(Message::Update(u[0].clone()).format(), 2);
    assert!(matches!(&u[0].ops[0], Op::Set(r) if r.speed == 100 && r.description.len() == 255));
}

#[test]
fn the_operator_chooses_what_a_speed_costs_a_release_1_standby() {
    let under = |how: &str| {
        let mut p = crate::release::LackingPolicy::default();
        p.choose("field.speed", how).expect("a choice");
        let (mut n, mut k) = primary_under(PrimaryConfig::default(), p);
        attach(&mut n, &mut k, hello(CommandSet::of(1), 0));
        let out = set_fields(&mut n, &mut k, 1, "wan0", 40_000, b"");
        (n, out)
    };
    let (n, out) = under("dont-care");
    assert_eq!(updates_to_peer(&out).len(), 1);
    let s = n.compat_stats();
    assert_eq!((s.dropped, s.not_synced), (0, 1));
    let (n, out) = under("cold");
    assert!(updates_to_peer(&out).is_empty());
    // Not waited for where it is cold.
    assert!(confirmed(&out, 1));
    assert_eq!(n.peer_releases()[0].cold, vec![0]);
    assert!(n.peer_releases()[0]
        .diff
        .peer_lacks
        .contains(&("field.speed".to_string(), Handling::Cold)));
}

/// A release 1 standby, played by this build's standby engine behind the
/// transforms (what it is sent and what it answers in release 1's form),
/// synced to hot by the primary unit, then audited.
struct Release1Standby {
    engine: crate::standby::Standby,
}

impl Release1Standby {
    /// Deliver the primary's frames to it and its answers back, until
    /// nothing moves; `out` are the primary's outputs so far. Returns what
    /// it answered.
    fn exchange(
        &mut self,
        n: &mut Node,
        k: &mut ModelKernel,
        out: Vec<Output>,
        now: Micros,
    ) -> Vec<Message> {
        let mut out = out;
        let mut answers = Vec::new();
        for _ in 0..1000 {
            let frames: Vec<Message> = out
                .iter()
                .filter_map(|o| match o {
                    Output::Send {
                        to: Dest::Peer(1),
                        frame: Frame::Msg(m),
                    } => Some(m.clone()),
                    _ => None,
                })
                .collect();
            if frames.is_empty() {
                return answers;
            }
            out = Vec::new();
            for m in frames {
                // What went on the wire: release 1's form, decoded.
                let m = Message::decode_exact(&m.encode()).expect("a frame release 1 reads");
                assert_eq!(m.format(), 1, "{m:?}");
                for a in self.engine.handle(m) {
                    if let crate::Action::Send { msg, .. } = a {
                        let (msg, _) = crate::transform::down(msg, 1).expect("release 1 form");
                        n.handle(now, Event::PeerFrame(1, &msg.encode()));
                        answers.push(msg);
                        out.extend(drain(n, k, now));
                    }
                }
            }
        }
        panic!("no end to the exchange");
    }
}

#[test]
fn a_release_1_standby_audited_over_its_view_finds_nothing_to_repair() {
    let (mut n, mut k) = primary(PrimaryConfig::default());
    set_fields(&mut n, &mut k, 1, "wan0", 10_000, b"uplink");
    set_fields(&mut n, &mut k, 2, "wan1", 0, b"");
    let out = attach(&mut n, &mut k, hello(CommandSet::of(1), 0));
    let (engine, _) = crate::standby::Standby::new(
        node_id("b"),
        node_id("a"),
        n.epoch(),
        &n.cfg.channels.clone(),
        crate::standby::StandbyConfig::default(),
    );
    let mut b = Release1Standby { engine };
    b.exchange(&mut n, &mut k, out, 4 * MS);
    assert!(b.engine.is_hot(), "{:?}", n.attached());
    assert!(n.attached().iter().all(|(_, _, hot)| *hot));
    // Its copy lacks the speed: its digests are not the primary's.
    let theirs = b.engine.channels[&0].table.digests();
    assert_ne!(theirs, k.channels[&0].table.digests());
    n.handle(
        5 * MS,
        Event::Audit {
            request: 9,
            channel: Some(0),
        },
    );
    let out = drain(&mut n, &mut k, 5 * MS);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send {
            frame: Frame::Msg(Message::Digests { .. }),
            ..
        }
    )));
    let repaired = |n: &Node| n.primary().map_or(0, |p| p.stats.repaired_sections);
    let answers = b.exchange(&mut n, &mut k, out, 5 * MS);
    assert!(
        answers
            .iter()
            .any(|m| matches!(m, Message::DigestReport { mismatch: 0, .. })),
        "{answers:?}"
    );
    assert_eq!(repaired(&n), 0, "the release 1 view agrees");
}

/// Only listed units may follow: a stranger's handshake (an unlisted name,
/// or a listed name with another's id) is refused and counted, a listed
/// unit attaches.
#[test]
fn a_primary_refuses_standbys_that_are_not_listed_units() {
    let mut c = cfg("a", StartRole::Primary);
    c.units = vec!["a".into(), "b".into()];
    let mut k = ModelKernel::new(&c.channels, 64);
    let mut n = Node::new(c, 0);
    drain(&mut n, &mut k, 0);
    let greeted = |out: &[Output]| {
        out.iter().any(|o| {
            matches!(
                o,
                Output::Send {
                    frame: Frame::Hello(_),
                    ..
                }
            )
        })
    };
    let stranger = Handshake {
        name: "x".into(),
        node: node_id("x"),
        ..hello(CommandSet::ours(), 0)
    };
    for (conn, h) in [
        (1, stranger.clone()),
        (2, stranger.clone()),
        (
            3,
            Handshake {
                node: node_id("b"),
                ..stranger
            },
        ),
    ] {
        n.handle(MS, Event::PeerAccepted(conn, "x-addr".into()));
        n.handle(MS, Event::PeerFrame(conn, &h.encode()));
        let out = drain(&mut n, &mut k, MS);
        assert!(!greeted(&out), "{h:?} greeted");
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::ClosePeer { conn: c, .. } if *c == conn)),
            "{out:?}"
        );
    }
    assert_eq!(n.refused_standbys(), 3);
    assert!(n.attached().is_empty());
    let out = attach(&mut n, &mut k, hello(CommandSet::ours(), 0));
    assert!(greeted(&out));
    assert_eq!(n.attached().len(), 1);
    assert_eq!(n.refused_standbys(), 3);
}

/// Detection is the time from the loss being noticed to the verdict: an
/// idle stream's last frame, seconds before, does not count.
#[test]
fn detection_counts_from_the_loss_not_from_an_idle_streams_last_frame() {
    let c = cfg("b", StartRole::Standby);
    let mut k = ModelKernel::new(&c.channels, 64);
    let mut n = Node::new(c, 0);
    n.handle(0, Event::PrimaryUp(1));
    n.handle(0, Event::Connected);
    n.handle(0, Event::LeaderFrame(&super::tests::welcome("a").encode()));
    drain(&mut n, &mut k, 0);
    // Idle for 5 s; then the connection ends and, 100 ms later, the
    // primary's service is withdrawn.
    let t = 5_000 * MS;
    n.handle(
        t,
        Event::LeaderClosed {
            planned: false,
            why: "reset",
        },
    );
    drain(&mut n, &mut k, t);
    n.handle(t + 100 * MS, Event::PrimaryDown(1));
    drain(&mut n, &mut k, t + 100 * MS);
    let r = n.report().expect("took over");
    assert_eq!(r.reason, "primary lost");
    assert!(
        (r.detection_ms - 100.0).abs() < 1e-6,
        "detection {} ms",
        r.detection_ms
    );
}
