//! `hasync-bench apply`: the module's update rate. One channel and one
//! socket per sender; each streams `--updates` updates of one `set` op,
//! `--batch` per `sendmsg`, waiting only for each batch's replies.
//!
//! The updates are encoded before the clock starts, as the `nlctrl`
//! baseline's requests are: the figure is the module's (and netlink's),
//! not the client's encoder. A batch is answered by one cumulative ACK
//! (the `more` flag), or with `--ack-each` by one ACK per update.

use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use hasync_model::{IfName, IfRecord, Op, SectionCount};
use hasync_nl::{Client, EncodedUpdates, Update};

use crate::report::Line;
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Updates per sendmsg (1 = lockstep).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Concurrent senders, each with its own channel and socket.
    #[arg(long, default_value_t = 1)]
    senders: u32,
    /// Updates per sender.
    #[arg(long, default_value_t = 100_000)]
    updates: u64,
    /// Distinct record names the updates cycle over.
    #[arg(long, default_value_t = 1024)]
    names: u32,
    /// Section count of the channels.
    #[arg(long, default_value_t = 64)]
    sections: u32,
    /// Id of the first sender's channel; the others follow.
    #[arg(long, default_value_t = 1000)]
    channel_base: u32,
    /// Leave the channels behind.
    #[arg(long)]
    keep: bool,
    /// One ACK per update, instead of one per batch (the `more` flag).
    #[arg(long)]
    ack_each: bool,
}

/// One sender's updates, encoded in batches of `a.batch`.
fn encode(
    a: &Args,
    client: &mut Client,
    channel: u32,
    names: &[IfName],
) -> Result<Vec<EncodedUpdates>, String> {
    let sections = SectionCount::new(a.sections).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut opid = 0u64;
    while opid < a.updates {
        let mut batch = Vec::with_capacity(a.batch.max(1));
        while batch.len() < a.batch.max(1) && opid < a.updates {
            opid += 1;
            let name = &names[(opid % names.len() as u64) as usize];
            let record = IfRecord {
                admin_up: true,
                mtu: 1280 + (opid % 1000) as u32,
                ..IfRecord::new(name.clone())
            };
            batch.push(Update::new(
                channel,
                1,
                opid,
                vec![Op::Set(record)],
                sections,
            ));
        }
        out.push(client.encode_updates(&batch).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// One sender's stream; returns the updates applied.
fn send(a: &Args, channel: u32, names: &[IfName], start: &Barrier) -> Result<u64, String> {
    let prepared = Client::connect()
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.coalesce_acks(!a.ack_each);
            Ok((encode(a, &mut c, channel, names)?, c))
        });
    // Every thread must reach the barrier, even one that failed.
    start.wait();
    let (batches, mut client) = prepared?;
    let mut applied = 0u64;
    for batch in &batches {
        let acks = client.send_encoded(batch).map_err(|e| e.to_string())?;
        for ack in acks {
            applied += 1;
            match ack {
                Ok(ack) if !ack.duplicate => {}
                Ok(ack) => return Err(format!("channel {channel} opid {}: duplicate", ack.opid)),
                Err(e) => return Err(format!("channel {channel} update {applied}: {e}")),
            }
        }
    }
    Ok(applied)
}

pub fn run(a: Args) -> Result<(), String> {
    let senders = a.senders.max(1);
    let channels: Vec<u32> = (0..senders).map(|i| a.channel_base + i).collect();
    let mut admin = Client::connect().map_err(|e| e.to_string())?;
    for &c in &channels {
        setup::fresh(&mut admin, c, a.sections).map_err(|e| format!("channel {c}: {e}"))?;
    }
    let names = setup::names(a.names);
    let start = Barrier::new(channels.len() + 1);
    let (elapsed, results) = thread::scope(|s| {
        let workers: Vec<_> = channels
            .iter()
            .map(|&c| {
                let (a, names, start) = (&a, &names, &start);
                s.spawn(move || send(a, c, names, start))
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        let results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("sender panicked".into())))
            .collect();
        (t0.elapsed(), results)
    });
    if !a.keep {
        for &c in &channels {
            let _ = setup::remove(&mut admin, c);
        }
    }
    let applied = results.into_iter().collect::<Result<Vec<u64>, _>>()?;
    let total: u64 = applied.iter().sum();
    let line = Line::new("apply")
        .kv("batch", a.batch.max(1))
        .kv("senders", senders)
        .kv("updates", a.updates)
        .kv("names", a.names)
        .kv("sections", a.sections)
        .kv("acks", if a.ack_each { "each" } else { "batch" })
        .kv("total", total)
        .timed(elapsed, "updates_per_s", total);
    println!("{line}");
    Ok(())
}
