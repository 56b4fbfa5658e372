//! The selective/full replay ratio for 1 000 channels x 100 records with 1%
//! of channels in flight at the kill. Prints the measured figure (run with
//! `--nocapture`); asserts only consistency and that selective replay sends
//! less than a full replay would.

use hasync_engine::sim::ratio::measure;

#[test]
fn replay_ratio_1000x100_1pct() {
    let mut total_sel = 0u64;
    let mut total_full = 0u64;
    for seed in 1..=5 {
        let r = measure(1000, 100, 10, seed);
        assert!(r.consistent, "kernel != new primary after replay: {r:?}");
        assert!(r.replayed_channels <= r.in_flight, "{r:?}");
        println!(
            "seed {seed}: {} channels in flight, {} replayed, {} sections, {} / {} entries, ratio {:.5}",
            r.in_flight,
            r.replayed_channels,
            r.replayed_sections,
            r.selective_entries,
            r.full_entries,
            r.ratio()
        );
        total_sel += r.selective_entries;
        total_full += r.full_entries;
    }
    let ratio = total_sel as f64 / total_full as f64;
    println!("replay ratio (selective / full), 5 seeds: {ratio:.5}");
    assert!(
        ratio < 0.01,
        "selective replay should send far less than 1% here, got {ratio}"
    );
}
