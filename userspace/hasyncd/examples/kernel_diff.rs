//! The engine's kernel model against hasync.ko: one random stream of kernel
//! commands (updates in and out of order, duplicates, stale epochs, section
//! replays, claims, cookie, dump, register and digest reads) runs through
//! `ModelKernel` and, through hasyncd's adapter, through the module; every
//! reply must be the same. The simulator proves the protocol against the
//! model; this proves the model is the module.
//!
//! ```text
//! kernel_diff --seed S [--steps N] [--channels C] [--cookie-log L]
//! ```
//!
//! Needs the module loaded with no channels and `cookie_log_len=L`.
//! Prints one KTAP-style diagnostic per difference and exits 1 on the
//! first one, 0 when every reply agreed, 2 on a setup error.

use std::process::ExitCode;

use hasync_engine::kernel::{KernelCmd, KernelError, KernelReply, ModelKernel};
use hasync_engine::table::{cookie_of, IfName, IfRecord, Op, Prefix, SectionCount, TableError};
use hasync_engine::wire::Update;
use hasync_engine::{ChannelId, Epoch};
use hasync_nl as nl;
use hasyncd::kernel::{Fault, KernelAdapter};

/// xorshift64*: deterministic from the seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

struct Args {
    seed: u64,
    steps: u32,
    channels: u32,
    cookie_log: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        seed: 1,
        steps: 2000,
        channels: 4,
        cookie_log: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let n: u64 = v
            .parse()
            .map_err(|_| format!("{k}: \"{v}\" is not a number"))?;
        match k.as_str() {
            "--seed" => a.seed = n,
            "--steps" => a.steps = u32::try_from(n).map_err(|_| "--steps too large")?,
            "--channels" => a.channels = u32::try_from(n).map_err(|_| "--channels too large")?,
            "--cookie-log" => a.cookie_log = usize::try_from(n).map_err(|_| "too large")?,
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.channels == 0 || a.channels > 64 {
        return Err("--channels is 1 to 64".into());
    }
    Ok(a)
}

/// What the generator knows of a channel (from the model, the reference).
struct Gen {
    rng: Rng,
    /// The epoch updates are sent with, per channel.
    writer: Vec<Epoch>,
}

fn record(rng: &mut Rng) -> IfRecord {
    let name = format!("if{}", rng.below(24));
    let mut r = IfRecord::new(IfName::new(name.as_bytes()).unwrap_or_else(|_| unreachable()));
    r.admin_up = rng.chance(500);
    r.mtu = 1280 + rng.below(8000) as u32;
    if rng.chance(300) {
        r.vlan = rng.below(4094) as u16 + 1;
    }
    if rng.chance(400) {
        let a = Prefix::new(
            std::net::Ipv4Addr::new(10, 0, rng.below(4) as u8, 1 + rng.below(200) as u8).into(),
            24,
        );
        if let Ok(p) = a {
            r.addrs = vec![p];
        }
    }
    r.description = format!("d{}", rng.below(1000)).into_bytes();
    r
}

fn unreachable() -> ! {
    eprintln!("internal: generated an invalid interface name");
    std::process::exit(2)
}

impl Gen {
    fn command(&mut self, k: &ModelKernel, channels: u32) -> KernelCmd {
        let ch = self.rng.below(u64::from(channels)) as ChannelId + 1;
        let Some(kc) = k.channels.get(&ch) else {
            return KernelCmd::Registers;
        };
        let w = &mut self.writer[ch as usize - 1];
        let roll = self.rng.below(100);
        match roll {
            0..=54 => {
                // An update: mostly the next opid from the current writer.
                let opid = match self.rng.below(20) {
                    0 => kc.register.saturating_sub(self.rng.below(12)),
                    1 => kc.register + 2,
                    _ => kc.register + 1,
                };
                let epoch = if self.rng.chance(50) {
                    kc.owner.saturating_sub(1)
                } else {
                    *w
                };
                let n = 1 + self.rng.below(3);
                let mut ops = Vec::new();
                for _ in 0..n {
                    if self.rng.chance(250) {
                        let r = record(&mut self.rng);
                        ops.push(Op::Del(r.name));
                    } else {
                        ops.push(Op::Set(record(&mut self.rng)));
                    }
                }
                // The sections the ops touch, as the engine sends; now and
                // then a wrong one, which both must refuse.
                let mut cookie = cookie_of(&ops, kc.table.section_count());
                if self.rng.chance(30) {
                    cookie ^= 1 << self.rng.below(8);
                }
                KernelCmd::Update(Update {
                    channel: ch,
                    epoch,
                    opid,
                    cookie,
                    ops,
                })
            }
            55..=59 => {
                // A section replay from the current writer.
                let sc = kc.table.section_count();
                let section = self.rng.below(u64::from(sc.get())) as u32;
                let records: Vec<IfRecord> = (0..self.rng.below(6))
                    .map(|_| record(&mut self.rng))
                    .filter(|r| sc.section_of(&r.name) == section)
                    .collect();
                let mut records = records;
                records.sort_by(|a, b| a.name.cmp(&b.name));
                records.dedup_by(|a, b| a.name == b.name);
                KernelCmd::Update(Update {
                    channel: ch,
                    epoch: *w,
                    opid: kc.register + 1,
                    cookie: 0,
                    ops: vec![Op::ReplaceSection { section, records }],
                })
            }
            60..=69 => {
                // A claim: same, next, newer unit, or stale.
                let epoch = match self.rng.below(4) {
                    0 => kc.owner,
                    1 => kc.owner + 1,
                    2 => ((kc.owner >> 8) + 1) << 8 | self.rng.below(4),
                    _ => kc.owner.saturating_sub(1),
                };
                if epoch >= kc.owner {
                    *w = epoch;
                }
                KernelCmd::Claim { channel: ch, epoch }
            }
            70..=79 => KernelCmd::Cookies {
                channel: ch,
                after: self.rng.below(kc.register + 3),
            },
            80..=87 => KernelCmd::Dump {
                channel: ch,
                sections: if self.rng.chance(300) {
                    u64::MAX
                } else {
                    self.rng.next() & kc.table.section_count().all_mask()
                },
            },
            88..=93 => KernelCmd::Digests { channel: ch },
            _ => KernelCmd::Registers,
        }
    }
}

/// What both sides say to an update they find invalid: the model a
/// [`KernelError::Invalid`], [`KernelError::BadCookie`] or
/// [`KernelError::ZeroOpid`], the module `EINVAL` or `ERANGE` (its
/// policy), which the adapter leaves a fault (the engine validates before
/// sending, so it has no reply for it).
fn invalid(channel: ChannelId, opid: u64) -> KernelReply {
    KernelReply::Reject {
        channel,
        opid,
        error: KernelError::Invalid(TableError::BadFlags),
    }
}

/// Replies made comparable: dumps sorted; an invalid update by kind (each
/// side words the rule its own way); a dump's section mask as the sections
/// that exist.
fn normal(r: KernelReply, sections: &[(ChannelId, SectionCount)]) -> KernelReply {
    match r {
        KernelReply::Dump {
            channel,
            sections: s,
            register,
            register_epoch,
            mut records,
        } => {
            records.sort_by(|a, b| a.name.cmp(&b.name));
            let all = sections
                .iter()
                .find(|(c, _)| *c == channel)
                .map_or(u64::MAX, |(_, sc)| sc.all_mask());
            KernelReply::Dump {
                channel,
                sections: s & all,
                register,
                register_epoch,
                records,
            }
        }
        KernelReply::Reject {
            channel,
            opid,
            error: KernelError::Invalid(_) | KernelError::BadCookie { .. } | KernelError::ZeroOpid,
        } => invalid(channel, opid),
        KernelReply::Registers(mut r) => {
            r.sort_by_key(|x| x.channel);
            KernelReply::Registers(r)
        }
        r => r,
    }
}

fn run(a: &Args) -> Result<u32, String> {
    let mut client = nl::Client::connect().map_err(|e| format!("hasync.ko: {e}"))?;
    let sections: Vec<(ChannelId, SectionCount)> = (1..=a.channels)
        .map(|id| {
            let n = 1u32 << (id % 4);
            (id, SectionCount::new(n).unwrap_or(SectionCount::ONE))
        })
        .collect();
    for &(id, sc) in &sections {
        let req = nl::NewChannel {
            id,
            name: None,
            sections: Some(sc.get()),
        };
        client
            .channel_new(&req)
            .map_err(|e| format!("channel add {id}: {e}"))?;
    }
    let mut model = ModelKernel::new(&sections, a.cookie_log);
    let mut module = KernelAdapter::new(client, 64);
    let mut g = Gen {
        rng: Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
        writer: vec![1; a.channels as usize],
    };
    let mut kinds = std::collections::BTreeMap::<&str, u32>::new();
    for step in 0..a.steps {
        let cmd = g.command(&model, a.channels);
        let want = normal(model.handle(&cmd).reply, &sections);
        let got = module.execute(std::slice::from_ref(&cmd)).pop();
        let got = match got {
            Some(Ok(r)) => normal(r, &sections),
            Some(Err(Fault::Kernel { channel, error, .. }))
                if matches!(error.errno, libc::EINVAL | libc::ERANGE) =>
            {
                let opid = match &cmd {
                    KernelCmd::Update(u) => u.opid,
                    _ => 0,
                };
                invalid(channel, opid)
            }
            Some(Err(f)) => {
                return Err(format!(
                    "step {step}: {cmd:?}\n  model:  {want:?}\n  module: fault {f}"
                ))
            }
            None => return Err(format!("step {step}: {cmd:?}: no outcome")),
        };
        if got != want {
            return Err(format!(
                "step {step}: {cmd:?}\n  model:  {want:?}\n  module: {got:?}"
            ));
        }
        *kinds.entry(kind(&want)).or_default() += 1;
    }
    let summary: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "# seed {}: {} replies agree ({})",
        a.seed,
        a.steps,
        summary.join(", ")
    );
    Ok(a.steps)
}

fn kind(r: &KernelReply) -> &'static str {
    match r {
        KernelReply::Ack(_) => "ack",
        KernelReply::Reject {
            error: KernelError::Fenced { .. },
            ..
        } => "fenced",
        KernelReply::Reject {
            error: KernelError::OutOfOrder { .. },
            ..
        } => "out-of-order",
        KernelReply::Reject { .. } => "refused",
        KernelReply::Claimed { .. } => "claimed",
        KernelReply::Cookies { entries: None, .. } => "log-short",
        KernelReply::Cookies { .. } => "cookies",
        KernelReply::Dump { .. } => "dump",
        KernelReply::Registers(_) => "registers",
        KernelReply::Digests { .. } => "digests",
    }
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kernel_diff: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            for l in e.lines() {
                println!("# {l}");
            }
            ExitCode::FAILURE
        }
    }
}
