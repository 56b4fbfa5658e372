//! Deterministic failover simulation over many seeds.
//!
//! `cargo test` runs `DEFAULT_SEEDS` seeds (10 000 release, 1000 debug: debug
//! builds are several times slower; `tests/lifecycle.rs` runs 10 000 seeds of
//! whole nodes besides); `SIM_SEEDS=N` runs N seeds, `SIM_SEED=S` replays one seed
//! with its event log (`sim_replay`).

use hasync_engine::sim::{run_seed, KillPoint};

const DEFAULT_SEEDS: u64 = if cfg!(debug_assertions) { 1000 } else { 10_000 };

fn seeds() -> u64 {
    std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS)
}

#[test]
fn sim_many_seeds() {
    let n = seeds();
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    // Coverage counters: show the runs exercise the paths that matter.
    let (
        mut takeovers,
        mut second,
        mut applied,
        mut trailing,
        mut sections,
        mut whole,
        mut relearn,
    ) = (0, 0, 0, 0, 0, 0, 0);
    let (mut confirmed, mut fenced, mut isolated) = (0, 0, 0);
    let (mut contested, mut not_lowest) = (0, 0);
    let mut ack_paths = std::collections::BTreeMap::new();
    for seed in 0..n {
        match run_seed(seed) {
            Ok(sim) => {
                takeovers += sim.takeovers.len();
                second += usize::from(sim.takeovers.len() > 1);
                for cp in sim.takeovers.iter().flat_map(|t| &t.plan.channels) {
                    applied += usize::from(!cp.applied_ops.is_empty());
                    trailing += usize::from(!cp.replay_ops.is_empty());
                    sections += usize::from(cp.replay_sections != 0 && !cp.whole_channel);
                    whole += usize::from(cp.whole_channel);
                    relearn += usize::from(cp.relearn);
                }
                confirmed += sim
                    .requests
                    .values()
                    .filter(|r| r.confirmed.is_some())
                    .count();
                fenced += usize::from(sim.zombie_fenced);
                isolated +=
                    usize::from(sim.sc.kill == KillPoint::Isolated && !sim.takeovers.is_empty());
                *ack_paths
                    .entry(format!("{:?}", sim.sc.ack_path))
                    .or_insert(0) += 1;
                for &(candidates, winner) in &sim.elections {
                    contested += usize::from(candidates > 1);
                    // With nodes 1 and 2 standing, 2 wins only on rank.
                    not_lowest += usize::from(candidates > 1 && winner == 2);
                }
            }
            Err(e) => {
                failures.push(e);
                if failures.len() >= 3 {
                    break;
                }
            }
        }
    }
    println!("sim: {n} seeds in {:?}", start.elapsed());
    println!(
        "sim coverage: {takeovers} takeovers ({second} runs with a second failover); channel plans: \
         {applied} applied lost-ACK ops, {trailing} replayed trailing ops, {sections} selective \
         section replays, {whole} whole-channel (log too short), {relearn} relearned; \
         {confirmed} confirmed requests checked; {fenced} zombies fenced; \
         {isolated} takeovers from a primary that confirmed alone; \
         {contested} elections among several standbys ({not_lowest} not won by the lowest id); \
         runs per ACK path {ack_paths:?}"
    );
    if failures.is_empty() && n >= 1000 {
        // The scenario mix must reach the paths the issue lists.
        assert!(contested > 0 && not_lowest > 0, "elections not exercised");
        assert!(second > 0 && fenced > 0 && sections > 0 && applied > 0 && isolated > 0);
        assert_eq!(ack_paths.len(), 3, "{ack_paths:?}");
    }
    if !failures.is_empty() {
        let seed = failures[0]
            .strip_prefix("seed ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("S");
        panic!(
            "{} failing seed(s); first:\n{}\nreplay it with its event log:\n  \
             SIM_SEED={seed} cargo test -p hasync-engine --release --test sim sim_replay -- --nocapture",
            failures.len(),
            failures[0]
        );
    }
}

#[test]
fn sim_replay() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) else {
        return;
    };
    match run_seed(seed) {
        Ok(sim) => println!(
            "seed {seed} ok: {:?}\ntakeovers: {:#?}",
            sim.sc,
            sim.takeovers.iter().map(|t| &t.plan).collect::<Vec<_>>()
        ),
        Err(e) => panic!("{e}"),
    }
}
