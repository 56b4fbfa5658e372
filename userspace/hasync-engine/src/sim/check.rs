//! Invariants checked after a simulated run has settled.
//!
//! 1. Kernel state == new primary's state, per channel, entry for entry (and
//!    every live standby's too).
//! 2. Every change confirmed to a requester is present: each key it set
//!    holds its value or a value from a later request; each key it deleted
//!    is absent or was set by a later request.
//! 3. No update applied twice, none out of order: the kernel's opids are
//!    1, 2, 3… per channel, its epochs never go back, and the request tags
//!    it applied are strictly increasing (each request at most once, in
//!    submission order).
//! 4. Only channels with something in flight at the takeover were
//!    replayed, and only sections flagged by the cookie log (or dirty from
//!    an interrupted replay) unless the log ran short.
//! 5. The old primary, if it came back, was fenced (when it came back as a
//!    zombie) and is now a Hot standby.

use std::collections::BTreeMap;

use super::{Node, RequestRec, Sim};
use crate::kernel::ModelKernel;
use crate::table::Op;
use crate::RequestId;

/// Request id a simulated op carries (description "r<id>"), if any.
pub fn tag(op: &Op) -> Option<RequestId> {
    match op {
        Op::Set(r) => std::str::from_utf8(r.description.strip_prefix(b"r")?)
            .ok()?
            .parse()
            .ok(),
        _ => None,
    }
}

/// Every change confirmed to a requester is present in the kernel: each
/// key it set holds its value or a value from a later request; each key it
/// deleted is absent or was set by a later request.
pub fn confirmed_present(
    requests: &BTreeMap<RequestId, RequestRec>,
    kernel: &ModelKernel,
) -> Result<(), String> {
    for (&rid, r) in requests {
        if r.confirmed.is_none() {
            continue;
        }
        let table = &kernel.channels[&r.channel].table;
        for op in &r.ops {
            let name = match op {
                Op::Set(rec) => &rec.name,
                Op::Del(n) => n,
                // Internal (replays, repairs), or never drawn by the
                // simulator's requests (renames).
                Op::ReplaceSection { .. } | Op::Rename { .. } => continue,
            };
            let later_del = || {
                requests.iter().any(|(&o, q)| {
                    o > rid
                        && q.channel == r.channel
                        && q.ops.iter().any(|op| matches!(op, Op::Del(n) if n == name))
                })
            };
            let ok = match table.get(name) {
                Some(cur) => match (op, tag(&Op::Set(cur.clone()))) {
                    (Op::Set(_), Some(t)) => t >= rid,
                    (Op::Del(_), Some(t)) => t > rid,
                    _ => false,
                },
                None => matches!(op, Op::Del(_)) || later_del(),
            };
            if !ok {
                return Err(format!(
                    "inv2: confirmed request r{rid} on channel {} lost key {} (now {:?})",
                    r.channel,
                    String::from_utf8_lossy(name.as_bytes()),
                    table
                        .get(name)
                        .map(|x| String::from_utf8_lossy(&x.description).into_owned())
                ));
            }
        }
    }
    Ok(())
}

/// The kernel applied opids 1, 2, 3… per channel, never an older epoch
/// after a newer one (one writer at a time), and each request at most
/// once, in submission order (`applied_tags`: request tags per channel in
/// the order the kernel applied them).
pub fn applied_in_order(
    kernel: &ModelKernel,
    applied_tags: &BTreeMap<u32, Vec<RequestId>>,
) -> Result<(), String> {
    let mut last: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for &(ch, epoch, opid) in &kernel.applied {
        let (o, e) = last.entry(ch).or_insert((0, 0));
        if opid != *o + 1 {
            return Err(format!(
                "inv3: channel {ch}: kernel applied opid {opid} after {o}"
            ));
        }
        if epoch < *e {
            return Err(format!(
                "inv3: channel {ch}: kernel applied epoch {epoch:#x} after {e:#x} (two writers)"
            ));
        }
        *o = opid;
        *e = epoch;
    }
    for (ch, tags) in applied_tags {
        for w in tags.windows(2) {
            if w[0] >= w[1] {
                return Err(format!(
                    "inv3: channel {ch}: request r{} applied after r{} (twice or out of order)",
                    w[1], w[0]
                ));
            }
        }
    }
    Ok(())
}

/// A primary with nothing in flight, the kernel's register at its last
/// opid on every channel.
pub fn idle(p: &crate::primary::Primary, kernel: &ModelKernel) -> bool {
    p.channels.iter().all(|(id, c)| {
        c.flight.is_empty()
            && c.backlog.is_empty()
            && kernel
                .channels
                .get(id)
                .is_some_and(|k| k.register == c.last)
    })
}

/// The kernel's tables and every standby's are the primary's, entry for
/// entry, and the kernel's incremental digests match a recomputation.
pub fn tables_equal(
    p: &crate::primary::Primary,
    kernel: &ModelKernel,
    standbys: &[(String, &crate::standby::Standby)],
) -> Result<(), String> {
    for (id, c) in &p.channels {
        let k = kernel
            .channels
            .get(id)
            .ok_or_else(|| format!("kernel lacks channel {id}"))?;
        if k.table != c.table {
            return Err(format!(
                "inv1: channel {id}: kernel != primary (sections differ: {:#x})",
                k.table.diff_sections(&c.table)
            ));
        }
        if k.table.digests() != k.table.recompute_digests() {
            return Err(format!("inv1: channel {id}: incremental digests drifted"));
        }
        for (name, s) in standbys {
            if let Some(sc) = s.channels.get(id) {
                if sc.table != c.table {
                    return Err(format!(
                        "inv1: channel {id}: standby {name} != primary (sections {:#x})",
                        sc.table.diff_sections(&c.table)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Check all invariants; Err names the first violation.
pub fn check(sim: &Sim) -> Result<(), String> {
    let Node::Primary(p) = &sim.nodes[sim.primary as usize] else {
        return Err("no primary at the end".into());
    };
    // 1.
    let standbys = sim
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(n, node)| match node {
            Node::Standby(s) => Some((format!("n{n}"), s)),
            _ => None,
        })
        .collect::<Vec<_>>();
    tables_equal(p, &sim.kernel, &standbys)?;
    // 2.
    confirmed_present(&sim.requests, &sim.kernel)?;
    // 3.
    applied_in_order(&sim.kernel, &sim.applied_tags)?;
    // 4.
    for t in &sim.takeovers {
        for cp in &t.plan.channels {
            if cp.relearn {
                continue;
            }
            let (applied, dirty, pending) = t.before.get(&cp.channel).copied().unwrap_or_default();
            let in_flight = applied != cp.register || pending > 0 || dirty != 0;
            if !in_flight {
                return Err(format!(
                    "inv4: takeover by n{}: channel {} in the plan (replays: {}) but was in sync",
                    t.node,
                    cp.channel,
                    cp.replays()
                ));
            }
            if cp.whole_channel {
                continue;
            }
            let flagged = t
                .history
                .get(&cp.channel)
                .map(|h| {
                    h.iter()
                        .filter(|(o, _)| *o > cp.apply_to && *o <= cp.register)
                        .fold(0u64, |m, (_, c)| m | c)
                })
                .unwrap_or(0)
                | dirty;
            if cp.replay_sections & !flagged != 0 {
                return Err(format!(
                    "inv4: takeover by n{}: channel {} replayed sections {:#x} beyond flagged {:#x}",
                    t.node, cp.channel, cp.replay_sections, flagged
                ));
            }
        }
    }
    // 5. Every killed primary came back (the run ends with a takeover done,
    // which schedules their return) and is a Hot standby, unless it was
    // elected again; a zombie's write never reached the kernel.
    for &k in &sim.killed {
        match &sim.nodes[k as usize] {
            Node::Standby(s) if s.is_hot() => {}
            _ if k == sim.primary => {}
            _ => {
                return Err(format!(
                    "inv5: old primary n{k} came back but is not a hot standby"
                ))
            }
        }
    }
    if sim.sc.zombie && !sim.killed.is_empty() && !sim.zombie_fenced {
        let returned = sim
            .killed
            .iter()
            .any(|&k| !matches!(sim.nodes[k as usize], Node::Dead));
        if returned {
            return Err("inv5: zombie returned but was never fenced".into());
        }
    }
    for (ch, k) in &sim.kernel.channels {
        if k.table
            .get(&crate::table::IfName::new(b"zombie").map_err(|e| e.to_string())?)
            .is_some()
        {
            return Err(format!(
                "inv5: channel {ch}: the kernel applied a zombie's write"
            ));
        }
    }
    Ok(())
}
