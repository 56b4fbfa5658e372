//! Audit end to end: after a simulated run settles, corrupt one section on a
//! standby and one on the kernel, audit, and check the digests found exactly
//! those sections and the section replay repaired everyone.

use hasync_engine::sim::{check, Node, Scenario, Sim};
use hasync_engine::table::{IfName, IfRecord, Op};

fn corrupt_record(tag: &str) -> Op {
    let mut r = IfRecord::new(IfName::new(b"corrupt0").expect("name"));
    r.description = tag.as_bytes().to_vec();
    Op::Set(r)
}

#[test]
fn audit_finds_and_repairs_divergence() {
    let mut checked = 0;
    for seed in 0..40 {
        let mut sim = Sim::new(Scenario::from_seed(seed), false);
        sim.run().expect("settles");
        check::check(&sim).expect("invariants");
        // Clean cluster: an audit repairs nothing.
        assert_eq!(sim.audit_and_settle(), Ok(0), "seed {seed}");
        // Corrupt channel 0 on a standby and channel 1 on the kernel.
        let standby = sim
            .nodes
            .iter()
            .position(|n| matches!(n, Node::Standby(s) if s.is_hot()));
        let Some(sb) = standby else { continue };
        if let Node::Standby(s) = &mut sim.nodes[sb] {
            if let Some(c) = s.channels.get_mut(&0) {
                c.table.apply_trusted(&[corrupt_record("standby")]);
            }
        }
        if let Some(k) = sim.kernel.channels.get_mut(&1) {
            k.table.apply_trusted(&[corrupt_record("kernel")]);
        }
        let repaired = sim.audit_and_settle().expect("settles after repair");
        assert_eq!(repaired, 2, "seed {seed}: one section per corrupted copy");
        check::check(&sim).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        checked += 1;
    }
    assert!(checked > 20);
}

/// The same through whole units (handshake, frames, the node's routing):
/// a standby's corrupted copy is found by its report and repaired.
#[test]
fn units_audit_a_standby_over_their_connection() {
    let mut checked = 0;
    for seed in 0..20 {
        let sc = hasync_engine::sim::lifecycle::Scenario::from_seed(seed);
        let Ok(mut c) = hasync_engine::sim::lifecycle::run_scenario(sc) else {
            continue;
        };
        match c.audit_corrupted_standby() {
            Ok(n) => {
                assert_eq!(n, 1, "seed {seed}: one section repaired");
                checked += 1;
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    assert!(checked > 10, "{checked}");
}

/// The TCP face's connections through whole units: a round the primary
/// commits is held by its hot standbys, and the unit that takes over
/// after the primary dies hands the connections back before it publishes.
#[test]
fn tcp_connections_reach_the_unit_that_takes_over() {
    use hasync_engine::tcp_state::{TcpState, Window};
    use hasync_engine::wire::TcpConn;
    let conn = |id: u64| TcpConn {
        id,
        nonce: [id as u8; 16],
        next: 1,
        state: TcpState {
            local: "10.0.0.100:7700".parse().expect("addr"),
            remote: "10.0.0.10:4000".parse().expect("addr"),
            rcv_nxt: 1,
            write_seq: 1,
            mss: 1460,
            snd_wscale: 0,
            rcv_wscale: 0,
            options: 0,
            timestamp: 0,
            window: Window::default(),
            unsent: 0,
            inq: Vec::new(),
            outq: Vec::new(),
        },
    };
    let mut checked = 0;
    for seed in 0..20 {
        let sc = hasync_engine::sim::lifecycle::Scenario::from_seed(seed);
        let Ok(mut c) = hasync_engine::sim::lifecycle::run_scenario(sc) else {
            continue;
        };
        match c.tcp_conns_survive_takeover(vec![conn(7), conn(9)]) {
            Ok(holders) => {
                assert!(holders >= 1, "seed {seed}: a hot standby held the round");
                checked += 1;
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    assert!(checked > 10, "{checked}");
}
