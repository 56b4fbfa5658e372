//! Print the selective/full replay ratio.
//!
//! `cargo run -p hasync-engine --release --example replay_ratio -- [channels] [records] [in_flight_per_mille] [seed]`
//! (defaults: 1000 100 10 1).

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let get = |i: usize, d: u64| args.get(i).copied().unwrap_or(d);
    let r = hasync_engine::sim::ratio::measure(
        u32::try_from(get(0, 1000)).unwrap_or(1000),
        u32::try_from(get(1, 100)).unwrap_or(100),
        get(2, 10),
        get(3, 1),
    );
    println!("{r:#?}");
    println!("ratio selective/full = {:.5}", r.ratio());
}
