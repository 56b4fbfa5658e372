//! The failover planner: a pure function from
//! the standby's queues and the kernel's registers / cookie answers to a
//! per-channel plan.
//!
//! Per channel, with `a` = standby applied opid, `c` = end of the contiguous
//! run of pending updates after `a`, `r` = kernel register:
//!
//! * `r == a`, nothing pending: in sync, not in the plan.
//! * `a <= r <= c` and the op at `r` has the epoch the kernel reports: the
//!   pending updates `a+1..=r` were applied by the kernel (their ACKs were
//!   lost) → **apply**. Updates after `r` are **trailing**: replay, discard,
//!   or cut by budget. Anything after a gap is discarded.
//! * otherwise (`r > c`, or the kernel's op at an opid is from another epoch
//!   than ours, i.e. a later primary wrote it): the cookie log of
//!   `a+1..=r` tells which of our updates match the kernel's (same opid and
//!   epoch) → apply those, up to the first mismatch `m`; the ops `m..=r` are
//!   unknown to us: the sections they touched are **learned** from the
//!   kernel (read back and replayed through the new stream, so followers
//!   get them too). The kernel applied those ops and their primary may have
//!   confirmed them: the kernel is the witness, never overwritten by our
//!   older view. If the log no longer reaches `a+1`, the whole channel is
//!   learned.
//! * Sections left `dirty` by an interrupted replay of a previous primary
//!   are learned too.
//! * `r < a`: the kernel lost state we saw it apply (module reloaded): our
//!   whole table is **replayed** into it.
//!
//! Channels not Hot on the standby are **relearned** from a kernel dump: a
//! last resort, reported as such, used only when no standby holds them.

use std::collections::BTreeMap;

use crate::kernel::CookieEntry;
use crate::wire::Update;
use crate::{ChannelId, Epoch, Opid};

/// What to do with trailing updates (those after the register).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Send them to the kernel: most complete recovery.
    Replay,
    /// Drop them: fastest recovery; their requesters were never confirmed.
    Discard,
    /// Replay at most `max_ops` trailing updates over all channels. The
    /// budget is handed out round-robin across channels, oldest update
    /// first, so every channel gets a prefix of its queue (a cut
    /// point per queue, everything before applied, everything after
    /// dropped) and no single busy channel starves the others.
    Budget {
        /// Total trailing updates to replay.
        max_ops: usize,
    },
}

/// The standby's view of one channel, as planner input.
#[derive(Debug, Clone, Copy)]
pub struct ChannelView<'a> {
    /// Channel.
    pub channel: ChannelId,
    /// The channel is Hot on this standby.
    pub hot: bool,
    /// Applied opid.
    pub applied: Opid,
    /// Pending updates.
    pub pending: &'a BTreeMap<Opid, Update>,
    /// Sections that may differ from the kernel.
    pub dirty: u64,
    /// All-sections mask of the channel.
    pub all_sections: u64,
}

/// The kernel's register for a channel (from the claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// Register.
    pub opid: Opid,
    /// Epoch of the op at the register.
    pub epoch: Epoch,
}

/// The plan for one out-of-sync channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPlan {
    /// Channel.
    pub channel: ChannelId,
    /// Kernel register at takeover.
    pub register: Opid,
    /// Apply pending updates up to here (from `applied+1`).
    pub apply_to: Opid,
    /// Pending opids applied.
    pub applied_ops: Vec<Opid>,
    /// Trailing opids replayed to the kernel (same opids, new epoch).
    pub replay_ops: Vec<Opid>,
    /// Pending opids discarded.
    pub discard_ops: Vec<Opid>,
    /// Sections sent through the new primary's stream as whole-section
    /// replacements (kernel and followers both get them).
    pub replay_sections: u64,
    /// Of those, the sections whose content is first read from the kernel:
    /// where the kernel applied updates this standby never saw, it is the
    /// witness of what may have been confirmed, so its content wins over
    /// the standby's older view. Only when the kernel is behind the
    /// standby (it lost state) is the standby's own content replayed.
    pub learn_sections: u64,
    /// The cookie log was too short: every section is replayed.
    pub whole_channel: bool,
    /// No standby held the channel: adopt the kernel's table.
    pub relearn: bool,
}

impl ChannelPlan {
    /// True if anything is sent to the kernel for this channel.
    pub fn replays(&self) -> bool {
        !self.replay_ops.is_empty() || self.replay_sections != 0
    }
}

/// A failover plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The new primary's epoch (fencing).
    pub epoch: Epoch,
    /// Out-of-sync channels only, by channel id.
    pub channels: Vec<ChannelPlan>,
}

/// Highest `h` such that `pending` holds every opid in `from+1..=h`.
pub fn contiguous(pending: &BTreeMap<Opid, Update>, from: Opid) -> Opid {
    let mut h = from;
    for &k in pending.range(from + 1..).map(|(k, _)| k) {
        if k != h + 1 {
            break;
        }
        h = k;
    }
    h
}

/// Does this channel need the kernel's cookie log? `Some(after)` = ask
/// for the entries after `after`.
pub fn cookie_query(v: &ChannelView<'_>, reg: Register) -> Option<Opid> {
    if !v.hot || reg.opid <= v.applied {
        return None;
    }
    let c = contiguous(v.pending, v.applied);
    let ours = v.pending.get(&reg.opid).map(|u| u.epoch);
    if reg.opid <= c && ours == Some(reg.epoch) {
        None
    } else {
        Some(v.applied)
    }
}

/// Build the plan. `cookies[channel]` must hold the answer for every channel
/// [`cookie_query`] asked about (`None` = log too short); a missing answer
/// is treated as "too short", the safe side.
pub fn plan(
    epoch: Epoch,
    views: &[ChannelView<'_>],
    registers: &BTreeMap<ChannelId, Register>,
    cookies: &BTreeMap<ChannelId, Option<Vec<CookieEntry>>>,
    policy: Policy,
) -> Plan {
    let mut plans = Vec::new();
    // Trailing runs eligible for replay, per plan index.
    let mut trailing: Vec<(usize, Vec<Opid>)> = Vec::new();
    for v in views {
        let reg = registers.get(&v.channel).copied().unwrap_or(Register {
            opid: v.applied,
            epoch: 0,
        });
        let mut p = ChannelPlan {
            channel: v.channel,
            register: reg.opid,
            apply_to: v.applied,
            ..ChannelPlan::default()
        };
        if !v.hot {
            p.relearn = true;
            plans.push(p);
            continue;
        }
        let c = contiguous(v.pending, v.applied);
        let mut tail = Vec::new();
        let mut kernel_behind = false;
        if reg.opid < v.applied {
            // The kernel lost state we saw it ACK (e.g. module reloaded):
            // nothing we hold can be trusted to match, send everything.
            p.whole_channel = true;
            kernel_behind = true;
        } else if cookie_query(v, reg).is_none() {
            p.apply_to = reg.opid;
            // (BTreeMap::range panics on an empty inclusive range: guard it.)
            if c > reg.opid {
                tail = v.pending.range(reg.opid + 1..=c).map(|(&k, _)| k).collect();
            }
        } else {
            match cookies.get(&v.channel).cloned().flatten() {
                Some(log) => {
                    let mut upto = v.applied;
                    let mut unknown = 0u64;
                    let mut matching = true;
                    for e in log
                        .iter()
                        .filter(|e| e.opid > v.applied && e.opid <= reg.opid)
                    {
                        let same = v.pending.get(&e.opid).map(|u| u.epoch) == Some(e.epoch);
                        if matching && same && e.opid == upto + 1 {
                            upto = e.opid;
                        } else {
                            matching = false;
                            unknown |= e.cookie;
                        }
                    }
                    p.apply_to = upto;
                    p.replay_sections = unknown;
                }
                None => {
                    // Confirmed updates are held by every standby, so apply
                    // what we hold up to the register before the full replay.
                    p.apply_to = c.min(reg.opid);
                    p.whole_channel = true;
                }
            }
        }
        if p.whole_channel {
            p.replay_sections = v.all_sections;
        }
        p.replay_sections |= v.dirty;
        if !kernel_behind {
            p.learn_sections = p.replay_sections;
        }
        p.applied_ops = ((v.applied + 1)..=p.apply_to).collect();
        let kept: Vec<Opid> = tail.clone();
        p.discard_ops = v
            .pending
            .keys()
            .copied()
            .filter(|&k| k > p.apply_to && !kept.contains(&k))
            .collect();
        let in_sync = p.applied_ops.is_empty()
            && tail.is_empty()
            && p.discard_ops.is_empty()
            && p.replay_sections == 0;
        if in_sync {
            continue;
        }
        if !tail.is_empty() {
            trailing.push((plans.len(), tail));
        }
        plans.push(p);
    }
    // Decide the trailing updates per policy.
    let mut budget = match policy {
        Policy::Replay => usize::MAX,
        Policy::Discard => 0,
        Policy::Budget { max_ops } => max_ops,
    };
    let mut cut: Vec<usize> = vec![0; trailing.len()];
    let mut progressed = true;
    while budget > 0 && progressed {
        progressed = false;
        for (i, (_, tail)) in trailing.iter().enumerate() {
            if budget > 0 && cut[i] < tail.len() {
                cut[i] += 1;
                budget -= 1;
                progressed = true;
            }
        }
        if matches!(policy, Policy::Replay) {
            for (i, (_, tail)) in trailing.iter().enumerate() {
                cut[i] = tail.len();
            }
            break;
        }
    }
    for (i, (idx, tail)) in trailing.into_iter().enumerate() {
        let p = &mut plans[idx];
        p.replay_ops = tail[..cut[i]].to_vec();
        p.discard_ops.extend_from_slice(&tail[cut[i]..]);
        p.discard_ops.sort_unstable();
    }
    Plan {
        epoch,
        channels: plans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{IfName, IfRecord, Op};

    fn upd(epoch: Epoch, opid: Opid) -> Update {
        let r = IfRecord::new(IfName::new(format!("i{opid}").as_bytes()).expect("name"));
        Update {
            channel: 1,
            epoch,
            opid,
            cookie: 1,
            ops: vec![Op::Set(r)],
        }
    }

    fn pend(e: Epoch, opids: &[Opid]) -> BTreeMap<Opid, Update> {
        opids.iter().map(|&o| (o, upd(e, o))).collect()
    }

    fn one(
        pending: &BTreeMap<Opid, Update>,
        applied: Opid,
        reg: Register,
        log: Option<Option<Vec<CookieEntry>>>,
        policy: Policy,
    ) -> Plan {
        let v = ChannelView {
            channel: 1,
            hot: true,
            applied,
            pending,
            dirty: 0,
            all_sections: 0xff,
        };
        let regs = BTreeMap::from([(1, reg)]);
        let cookies = log.map(|l| BTreeMap::from([(1, l)])).unwrap_or_default();
        plan(9, &[v], &regs, &cookies, policy)
    }

    #[test]
    fn in_sync_channel_is_not_in_plan() {
        let p = one(
            &BTreeMap::new(),
            5,
            Register { opid: 5, epoch: 1 },
            None,
            Policy::Replay,
        );
        assert!(p.channels.is_empty());
        assert_eq!(p.epoch, 9);
    }

    #[test]
    fn lost_acks_applied_trailing_by_policy() {
        let q = pend(1, &[6, 7, 8, 9, 11]);
        let reg = Register { opid: 7, epoch: 1 };
        let p = one(&q, 5, reg, None, Policy::Replay);
        let c = &p.channels[0];
        assert_eq!(
            (c.applied_ops.clone(), c.replay_ops.clone()),
            (vec![6, 7], vec![8, 9])
        );
        assert_eq!(c.discard_ops, vec![11]);
        let p = one(&q, 5, reg, None, Policy::Discard);
        assert_eq!(p.channels[0].discard_ops, vec![8, 9, 11]);
        let p = one(&q, 5, reg, None, Policy::Budget { max_ops: 1 });
        assert_eq!(p.channels[0].replay_ops, vec![8]);
        assert_eq!(p.channels[0].discard_ops, vec![9, 11]);
    }

    #[test]
    fn unknown_kernel_ops_replay_their_sections() {
        let q = pend(1, &[6]);
        let reg = Register { opid: 8, epoch: 1 };
        let v = ChannelView {
            channel: 1,
            hot: true,
            applied: 5,
            pending: &q,
            dirty: 0,
            all_sections: 0xff,
        };
        assert_eq!(cookie_query(&v, reg), Some(5));
        let log = vec![
            CookieEntry {
                opid: 6,
                epoch: 1,
                cookie: 0b1,
            },
            CookieEntry {
                opid: 7,
                epoch: 1,
                cookie: 0b100,
            },
            CookieEntry {
                opid: 8,
                epoch: 1,
                cookie: 0b1000,
            },
        ];
        let p = one(&q, 5, reg, Some(Some(log)), Policy::Replay);
        let c = &p.channels[0];
        assert_eq!(
            (c.apply_to, c.replay_sections, c.whole_channel),
            (6, 0b1100, false)
        );
        assert_eq!(c.learn_sections, 0b1100, "the kernel's content wins");
        let p = one(&q, 5, reg, Some(None), Policy::Replay);
        assert!(p.channels[0].whole_channel);
        assert_eq!(p.channels[0].replay_sections, 0xff);
        assert_eq!(p.channels[0].learn_sections, 0xff);
        // The kernel behind us (it lost state): ours is replayed into it.
        let p = one(&q, 5, Register { opid: 3, epoch: 1 }, None, Policy::Replay);
        let c = &p.channels[0];
        assert!(c.whole_channel);
        assert_eq!((c.replay_sections, c.learn_sections), (0xff, 0));
    }

    #[test]
    fn other_epoch_at_same_opid_is_not_ours() {
        // A later primary wrote opid 7 with epoch 2; ours is epoch 1.
        let q = pend(1, &[6, 7]);
        let reg = Register { opid: 7, epoch: 2 };
        let log = vec![
            CookieEntry {
                opid: 6,
                epoch: 1,
                cookie: 0b1,
            },
            CookieEntry {
                opid: 7,
                epoch: 2,
                cookie: 0b10,
            },
        ];
        let p = one(&q, 5, reg, Some(Some(log)), Policy::Replay);
        let c = &p.channels[0];
        assert_eq!((c.apply_to, c.replay_sections), (6, 0b10));
        assert_eq!(c.discard_ops, vec![7]);
    }

    #[test]
    fn budget_is_shared_round_robin_oldest_first() {
        // Two channels, each with lost ACKs up to 6 and trailing 7, 8, 9.
        let q = pend(1, &[6, 7, 8, 9]);
        let views: Vec<ChannelView<'_>> = [1, 2]
            .iter()
            .map(|&channel| ChannelView {
                channel,
                hot: true,
                applied: 5,
                pending: &q,
                dirty: 0,
                all_sections: 0xff,
            })
            .collect();
        let reg = Register { opid: 6, epoch: 1 };
        let regs = BTreeMap::from([(1, reg), (2, reg)]);
        let run = |policy| plan(9, &views, &regs, &BTreeMap::new(), policy);
        let cut = |p: &Plan| -> Vec<(Vec<Opid>, Vec<Opid>)> {
            p.channels
                .iter()
                .map(|c| {
                    assert_eq!(c.applied_ops, vec![6], "lost ACKs always applied");
                    (c.replay_ops.clone(), c.discard_ops.clone())
                })
                .collect()
        };
        // 3 ops: channel 1 gets 7 and 8, channel 2 gets 7; each channel
        // replays a prefix and drops the rest (a cut point per queue).
        assert_eq!(
            cut(&run(Policy::Budget { max_ops: 3 })),
            vec![(vec![7, 8], vec![9]), (vec![7], vec![8, 9])]
        );
        // A zero budget is Discard; a budget covering all is Replay.
        assert_eq!(
            cut(&run(Policy::Budget { max_ops: 0 })),
            cut(&run(Policy::Discard))
        );
        assert_eq!(
            cut(&run(Policy::Budget { max_ops: 6 })),
            cut(&run(Policy::Replay))
        );
        assert_eq!(
            cut(&run(Policy::Budget { max_ops: 100 })),
            vec![(vec![7, 8, 9], vec![]), (vec![7, 8, 9], vec![])]
        );
    }
}
