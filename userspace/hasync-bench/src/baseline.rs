//! `hasync-bench baseline`: `nlctrl` GETFAMILY at the same batch size, the
//! in-run reference for the module's apply rate.

use std::time::Instant;

use hasync_nl::CtrlBaseline;

use crate::report::Line;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests per sendmsg.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Requests in all (rounded up to whole batches).
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Family to ask about.
    #[arg(long, default_value = "nlctrl")]
    family: String,
}

pub fn run(a: Args) -> Result<(), String> {
    let batch = a.batch.max(1);
    let mut b = CtrlBaseline::open(&a.family, batch).map_err(|e| e.to_string())?;
    let rounds = a.requests.div_ceil(batch as u64);
    let mut answered = 0u64;
    let t0 = Instant::now();
    for _ in 0..rounds {
        answered += b.run_batch().map_err(|e| e.to_string())? as u64;
    }
    let elapsed = t0.elapsed();
    let total = rounds * batch as u64;
    if answered != total {
        return Err(format!("{} of {total} requests failed", total - answered));
    }
    let line = Line::new("baseline")
        .kv("family", &a.family)
        .kv("batch", batch)
        .kv("requests", total)
        .kv("bytes", b.rx_bytes())
        .timed(elapsed, "requests_per_s", total);
    println!("{line}");
    Ok(())
}
