//! Measure selective replay against full replay.
//!
//! Builds `channels` channels of `records` records each, all in sync on the
//! kernel and the standby, then puts `in_flight_per_mille` of the channels
//! mid-stream at the primary's death: a few updates each, of which the
//! kernel applied a random prefix and the standby received a random prefix
//! (so some channels have lost ACKs, some trailing updates, some updates
//! only the kernel knows). The real [`Takeover`] then plans and replays
//! against the [`ModelKernel`], and we count the entries sent to the kernel:
//! records inside replayed sections plus ops inside replayed trailing
//! updates. A full replay would send every record of every channel.

use std::collections::BTreeMap;

use super::rng::Rng;
use crate::kernel::{KernelCmd, ModelKernel};
use crate::planner::Policy;
use crate::primary::PrimaryConfig;
use crate::standby::{Mode, Standby, StandbyConfig};
use crate::table::{cookie_of, IfName, IfRecord, Op, SectionCount};
use crate::takeover::{Outcome, Takeover};
use crate::wire::Update;
use crate::{Action, ChannelId};

/// Result of one measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RatioReport {
    /// Channels.
    pub channels: u32,
    /// Records per channel.
    pub records: u32,
    /// Channels with updates in flight at the kill.
    pub in_flight: u32,
    /// Channels the plan replayed anything to.
    pub replayed_channels: u32,
    /// Sections replayed.
    pub replayed_sections: u32,
    /// Entries sent by the selective replay.
    pub selective_entries: u64,
    /// Entries a full replay sends.
    pub full_entries: u64,
    /// Kernel equals the new primary afterwards, every channel.
    pub consistent: bool,
}

impl RatioReport {
    /// selective / full.
    pub fn ratio(&self) -> f64 {
        if self.full_entries == 0 {
            0.0
        } else {
            self.selective_entries as f64 / self.full_entries as f64
        }
    }
}

fn record(i: u32, version: u64) -> Option<IfRecord> {
    let mut r = IfRecord::new(IfName::new(format!("eth{i}").as_bytes()).ok()?);
    r.mtu = 1500 + (version % 7000) as u32;
    r.vlan = (i % 4000) as u16;
    r.admin_up = version % 2 == 0;
    r.description = format!("v{version}").into_bytes();
    Some(r)
}

/// Run one measurement (deterministic in `seed`).
pub fn measure(channels: u32, records: u32, in_flight_per_mille: u64, seed: u64) -> RatioReport {
    let sc = SectionCount::MAX;
    let list: Vec<(ChannelId, SectionCount)> = (0..channels).map(|c| (c, sc)).collect();
    let mut rng = Rng::new(seed);
    let mut kernel = ModelKernel::new(&list, 64);
    let (mut standby, _) = Standby::new(1, 0, 1, &list, StandbyConfig::default());
    let mut in_flight = 0;
    for ch in 0..channels {
        // Initial content, 16 records per update, applied everywhere.
        let mut opid = 0;
        let all: Vec<Op> = (0..records)
            .filter_map(|i| record(i, 0).map(Op::Set))
            .collect();
        let Some(sch) = standby.channels.get_mut(&ch) else {
            continue;
        };
        sch.mode = Mode::Hot;
        for chunk in all.chunks(16) {
            opid += 1;
            let u = Update {
                channel: ch,
                epoch: 1,
                opid,
                cookie: cookie_of(chunk, sc),
                ops: chunk.to_vec(),
            };
            kernel.handle(&KernelCmd::Update(u));
            sch.table.apply_trusted(chunk);
        }
        sch.applied = opid;
        sch.acked = opid;
        if !rng.chance(in_flight_per_mille) {
            continue;
        }
        in_flight += 1;
        // A few pipelined updates, 1-2 records each.
        let n = rng.range(1, 6);
        let mut ups = Vec::new();
        for _ in 0..n {
            opid += 1;
            let ops: Vec<Op> = (0..rng.range(1, 2))
                .filter_map(|_| record(rng.below(u64::from(records)) as u32, opid).map(Op::Set))
                .collect();
            ups.push(Update {
                channel: ch,
                epoch: 1,
                opid,
                cookie: cookie_of(&ops, sc),
                ops,
            });
        }
        let kernel_got = rng.below(n + 1) as usize;
        let standby_got = rng.below(n + 1) as usize;
        for u in &ups[..kernel_got] {
            kernel.handle(&KernelCmd::Update(u.clone()));
        }
        for u in &ups[..standby_got] {
            sch.pending.insert(u.opid, u.clone());
        }
    }
    let (mut t, mut todo) = Takeover::start(
        standby,
        2,
        Policy::Replay,
        PrimaryConfig {
            window: 1 << 20,
            ..PrimaryConfig::default()
        },
        Vec::new(),
    );
    let mut report = RatioReport {
        channels,
        records,
        in_flight,
        full_entries: u64::from(channels) * u64::from(records),
        ..RatioReport::default()
    };
    // Drive the takeover synchronously against the model kernel.
    let mut primary = None;
    for _ in 0..8 {
        for a in std::mem::take(&mut todo) {
            if let Action::Kernel(cmd) = a {
                let out = kernel.handle(&cmd);
                todo.extend(t.on_kernel(out.reply));
            }
        }
        let (outcome, acts) = t.poll();
        if let Outcome::Primary(p, plan) = outcome {
            for cp in &plan.channels {
                if cp.replays() {
                    report.replayed_channels += 1;
                    report.replayed_sections += cp.replay_sections.count_ones();
                }
            }
            primary = Some((p, acts));
            break;
        }
        todo.extend(acts);
    }
    let Some((mut p, acts)) = primary else {
        return report;
    };
    let mut queue = acts;
    while !queue.is_empty() {
        for a in std::mem::take(&mut queue) {
            if let Action::Kernel(KernelCmd::Update(u)) = &a {
                for op in &u.ops {
                    report.selective_entries += match op {
                        Op::ReplaceSection { records, .. } => records.len() as u64,
                        _ => 1,
                    };
                }
                let out = kernel.handle(&KernelCmd::Update(u.clone()));
                queue.extend(p.on_kernel(out.reply));
            }
        }
    }
    let tables: BTreeMap<ChannelId, bool> = p
        .channels
        .iter()
        .map(|(id, c)| {
            (
                *id,
                kernel.channels.get(id).is_some_and(|k| k.table == c.table),
            )
        })
        .collect();
    report.consistent = tables.values().all(|&ok| ok);
    report
}
