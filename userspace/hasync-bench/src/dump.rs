//! `hasync-bench dump`: fill a channel with `--records` records, then time
//! full `entry-get` dumps of it (records/s and bytes). The fill is a
//! measurement too (a replay of every section, or pipelined updates).

use std::time::Instant;

use clap::ValueEnum;
use hasync_model::{IfName, IfRecord, Op, Prefix, SectionCount};
use hasync_nl::{Client, EntryFilter, ReplayBegin, Update};

use crate::report::Line;
use crate::setup;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Fill {
    /// One replay of all sections.
    Replay,
    /// One update per record, pipelined.
    Updates,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records to fill the channel with (at most the module's max_entries).
    #[arg(long, default_value_t = 1000)]
    records: u32,
    /// How to fill it.
    #[arg(long, value_enum, default_value_t = Fill::Replay)]
    fill: Fill,
    /// Updates per sendmsg when filling with updates.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Addresses per record.
    #[arg(long, default_value_t = 1)]
    addrs: u8,
    /// Dumps to time.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Channel id to use.
    #[arg(long, default_value_t = 1000)]
    channel: u32,
    /// Leave the channel behind.
    #[arg(long)]
    keep: bool,
}

const SECTIONS: u32 = 64;

fn record(name: IfName, i: u32, addrs: u8) -> IfRecord {
    let [_, b, c, d] = i.to_be_bytes();
    let mut r = IfRecord {
        admin_up: true,
        mtu: 9000,
        vlan: (i % 4094 + 1) as u16,
        addrs: (0..addrs)
            .map(|k| Prefix::V4([10, b.wrapping_add(k), c, d], 24))
            .collect(),
        description: format!("bench record {i}").into_bytes(),
        ..IfRecord::new(name)
    };
    r.canonicalize();
    r
}

fn fill(a: &Args, client: &mut Client, records: Vec<IfRecord>) -> Result<(), String> {
    match a.fill {
        Fill::Replay => {
            let begin = ReplayBegin {
                channel: a.channel,
                epoch: 1,
                opid: 1,
                sections: u64::MAX,
            };
            client.replay(&begin, &records).map_err(|e| e.to_string())?;
        }
        Fill::Updates => {
            let updates: Vec<_> = (1u64..)
                .zip(records)
                .map(|(opid, r)| {
                    Update::new(a.channel, 1, opid, vec![Op::Set(r)], SectionCount::MAX)
                })
                .collect();
            for chunk in updates.chunks(a.batch.max(1)) {
                for (u, ack) in chunk
                    .iter()
                    .zip(client.update_batch(chunk).map_err(|e| e.to_string())?)
                {
                    ack.map_err(|e| format!("opid {}: {e}", u.opid))?;
                }
            }
        }
    }
    Ok(())
}

pub fn run(a: Args) -> Result<(), String> {
    let mut client = Client::connect().map_err(|e| e.to_string())?;
    setup::fresh(&mut client, a.channel, SECTIONS).map_err(|e| e.to_string())?;
    let result = measure(&a, &mut client);
    if !a.keep {
        let _ = setup::remove(&mut client, a.channel);
    }
    result
}

fn measure(a: &Args, client: &mut Client) -> Result<(), String> {
    let records: Vec<_> = setup::names(a.records)
        .into_iter()
        .zip(0..)
        .map(|(n, i)| record(n, i, a.addrs))
        .take(a.records as usize)
        .collect();
    let n = records.len() as u64;
    let t0 = Instant::now();
    fill(a, client, records)?;
    let line = Line::new("fill")
        .kv(
            "method",
            format_args!("{:?}", a.fill).to_string().to_lowercase(),
        )
        .kv("records", n)
        .timed(t0.elapsed(), "records_per_s", n);
    println!("{line}");

    let filter = EntryFilter {
        channel: Some(a.channel),
        section: None,
    };
    for run in 1..=a.repeat.max(1) {
        let rx0 = client.rx_bytes();
        let t0 = Instant::now();
        let got = client
            .entries_each(&filter, |_| {})
            .map_err(|e| e.to_string())?;
        let elapsed = t0.elapsed();
        let bytes = client.rx_bytes() - rx0;
        if got != n {
            return Err(format!("dump returned {got} records, expected {n}"));
        }
        let line = Line::new("dump")
            .kv("run", run)
            .kv("records", got)
            .kv("addrs", a.addrs)
            .kv("bytes", bytes)
            .kv("bytes_per_record", bytes / got.max(1))
            .timed(elapsed, "records_per_s", got);
        println!("{line}");
    }
    Ok(())
}
