//! Whole control units ([`hasync_engine::node::Node`], the code hasyncd
//! runs) under random kills, cuts, splits, switchovers and timer jitter.
//!
//! `cargo test` runs `DEFAULT_SEEDS` seeds; `LIFECYCLE_SEEDS=N` runs N,
//! `LIFECYCLE_SEED=S` replays one with its event log (`replay`).

use hasync_engine::sim::lifecycle::{run_seed, Fault};

const DEFAULT_SEEDS: u64 = if cfg!(debug_assertions) { 500 } else { 10_000 };

#[test]
fn lifecycle_many_seeds() {
    let n = std::env::var("LIFECYCLE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    let (mut takeovers, mut confirmed, mut refused, mut grouped) = (0, 0, 0, 0u64);
    let mut faults = std::collections::BTreeMap::new();
    let mut units = [0u64; 6];
    let mut phases = std::collections::BTreeMap::new();
    for seed in 0..n {
        match run_seed(seed) {
            Ok(c) => {
                takeovers += c.takeovers;
                refused += c.refused;
                confirmed += c
                    .requests
                    .values()
                    .filter(|r| r.confirmed.is_some())
                    .count();
                // Requests confirmed by an update that carried others too.
                let mut per_update = std::collections::BTreeMap::new();
                for r in c.requests.values() {
                    if let Some(opid) = r.confirmed {
                        *per_update.entry((r.channel, opid)).or_insert(0u64) += 1;
                    }
                }
                grouped += per_update.values().filter(|&&k| k > 1).sum::<u64>();
                for f in &c.faults_done {
                    *faults.entry(format!("{f:?}")).or_insert(0u64) += 1;
                }
                units[c.sc.units] += 1;
                for p in &c.phase_kills {
                    *phases.entry(format!("{p:?}")).or_insert(0u64) += 1;
                }
            }
            Err(e) => {
                if failures.is_empty() {
                    eprintln!("{e}");
                }
                failures.push(seed);
            }
        }
    }
    eprintln!(
        "lifecycle: {n} seeds in {:.1} s, {} failed; units 2/3/4/5: {}/{}/{}/{}; faults {faults:?}; \
         kills in phase {phases:?}; takeovers {takeovers}, confirmed {confirmed} \
         ({grouped} sharing an update), refused {refused}",
        start.elapsed().as_secs_f64(),
        failures.len(),
        units[2],
        units[3],
        units[4],
        units[5]
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    // The runs must reach what they are for.
    for f in [
        Fault::KillPrimary,
        Fault::KillStandby,
        Fault::IsolatePrimary,
        Fault::Split,
        Fault::Switchover,
    ] {
        assert!(
            faults.get(&format!("{f:?}")).copied().unwrap_or(0) > n / 20,
            "too few {f:?} faults: {faults:?}"
        );
    }
    for p in [
        "Syncing",
        "Electing",
        "Rebasing",
        "Preparing",
        "Claiming",
        "Replaying",
        "HandingOver",
    ] {
        assert!(
            phases.get(p).copied().unwrap_or(0) > n / 200,
            "too few kills in phase {p}: {phases:?}"
        );
    }
    assert!(takeovers as u64 > n, "too few takeovers: {takeovers}");
    assert!(
        confirmed as u64 > n * 10,
        "too few confirmed changes: {confirmed}"
    );
    assert!(
        grouped > n / 2,
        "too few requests shared an update (group commit): {grouped}"
    );
}

#[test]
fn replay() {
    let Some(seed) = std::env::var("LIFECYCLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    else {
        return;
    };
    match run_seed(seed) {
        Ok(c) => eprintln!("seed {seed} passed: {:?}, {} takeovers", c.sc, c.takeovers),
        Err(e) => panic!("{e}"),
    }
}
