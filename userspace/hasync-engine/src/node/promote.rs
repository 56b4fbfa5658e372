//! Becoming primary: read the kernel's owner epochs to choose ours, claim
//! every channel with it (fencing the old primary), read the registers,
//! ask the cookie log where our view and the kernel's disagree, plan,
//! publish, and replay only what is out of sync.
//!
//! Starting as primary is the same takeover from a standby that holds
//! nothing: every channel is relearned from the kernel's tables.

use std::collections::BTreeMap;

use crate::kernel::{KernelCmd, KernelReply};
use crate::report::Reason;
use crate::standby::Standby;
use crate::takeover::{Outcome, Takeover};
use crate::{ChannelId, Epoch, NodeId, Opid};

use super::lead::{Lead, ReplayWait};
use super::{ms, Micros, Node, Output, Role};

/// A takeover waiting for the owner epochs.
pub(super) struct Prepare {
    pub standby: Standby,
    pub reason: Reason,
    pub started: Micros,
    pub detection_ms: f64,
    pub previous_epoch: Epoch,
    pub followers: Vec<NodeId>,
}

/// A takeover in progress.
pub(super) struct Promote {
    pub engine: Takeover,
    reason: Reason,
    started: Micros,
    detection_ms: f64,
    previous_epoch: Epoch,
    /// The election's losers, who rebase onto our stream.
    followers: Vec<NodeId>,
}

/// The epoch after `base` for the unit whose byte is `unit`: the low byte
/// names the unit, so two units racing to take over never claim the same
/// epoch (the kernel accepts a claim at the current epoch, which would let
/// both write).
pub fn next_epoch(base: Epoch, unit: u8) -> Option<Epoch> {
    let e = ((base >> 8) + 1) << 8 | Epoch::from(unit);
    (e <= Epoch::from(u32::MAX)).then_some(e)
}

impl Node {
    /// `Primary` at start, or `Auto` with nobody else: take over from a
    /// standby that holds nothing.
    pub(super) fn start_as_primary(&mut self, now: Micros) {
        let (standby, _) = Standby::new(self.me, 0, 0, &self.cfg.channels, self.cfg.standby);
        self.takeover_from(now, standby, Reason::Start, 0.0, Vec::new());
    }

    /// A following standby takes over; `followers` (an election's losers)
    /// are announced the new stream and rebase onto it.
    pub(super) fn start_takeover(
        &mut self,
        now: Micros,
        reason: Reason,
        detection_ms: f64,
        followers: Vec<NodeId>,
    ) {
        let role = std::mem::replace(&mut self.role, Role::Stopped);
        let Role::Standby(s) = role else {
            self.role = role;
            return;
        };
        self.takeover_from(now, s.engine, reason, detection_ms, followers);
    }

    fn takeover_from(
        &mut self,
        now: Micros,
        mut standby: Standby,
        reason: Reason,
        detection_ms: f64,
        followers: Vec<NodeId>,
    ) {
        if self.cfg.full_replay {
            for c in standby.channels.values_mut() {
                c.dirty = c.table.section_count().all_mask();
            }
        }
        let previous_epoch = standby.epoch;
        self.role = Role::Preparing(Prepare {
            standby,
            reason,
            started: now,
            detection_ms,
            previous_epoch,
            followers,
        });
        // Resent every tick until answered.
        self.emit(Output::Kernel(KernelCmd::Registers));
    }

    /// The owner epochs are in: claim with the next epoch of ours.
    pub(super) fn prepared(&mut self, now: Micros, reply: KernelReply) {
        let KernelReply::Registers(reads) = reply else {
            return;
        };
        let Role::Preparing(p) = &self.role else {
            return;
        };
        let owners = reads.iter().map(|r| r.owner).max().unwrap_or(0);
        let Some(epoch) = next_epoch(owners.max(p.previous_epoch), self.cfg.unit_byte) else {
            tracing::error!(owners, "epoch space exhausted: cannot take over");
            self.stop();
            return;
        };
        let Role::Preparing(p) = std::mem::replace(&mut self.role, Role::Stopped) else {
            return;
        };
        tracing::info!(
            epoch,
            previous_epoch = p.previous_epoch,
            reason = p.reason.as_str(),
            "claiming every channel"
        );
        let (engine, acts) = Takeover::start(
            p.standby,
            epoch,
            self.cfg.policy,
            self.cfg.primary,
            p.followers.clone(),
        );
        self.role = Role::TakingOver(Promote {
            engine,
            reason: p.reason,
            started: p.started,
            detection_ms: p.detection_ms,
            previous_epoch: p.previous_epoch,
            followers: p.followers,
        });
        self.run(now, acts);
    }

    /// Finish a takeover whose answers are all in.
    pub(super) fn poll_takeover(&mut self, now: Micros) {
        let Role::TakingOver(t) = &mut self.role else {
            return;
        };
        let (outcome, acts) = t.engine.poll();
        match outcome {
            Outcome::Pending => self.run(now, acts),
            Outcome::Fenced(owner) => {
                tracing::warn!(owner, "another unit took over first");
                self.become_standby(now, "lost the takeover race");
            }
            Outcome::Primary(primary, plan) => {
                let Role::TakingOver(t) = std::mem::replace(&mut self.role, Role::Stopped) else {
                    return;
                };
                let mut r = crate::report::build(
                    &self.cfg.name,
                    t.reason,
                    t.previous_epoch,
                    &plan,
                    &primary,
                    t.detection_ms,
                );
                let targets: BTreeMap<ChannelId, Opid> = plan
                    .channels
                    .iter()
                    .filter(|p| p.replays())
                    .filter_map(|p| {
                        primary
                            .channels
                            .get(&p.channel)
                            .map(|c| (p.channel, c.last))
                    })
                    .collect();
                let mut l = Lead::new(*primary, now, self.cfg.audit_period);
                // A follower whose unit went down meanwhile is not waited for.
                let mut acts = acts;
                for f in t.followers {
                    if self.units_up.contains(&f) {
                        l.expect_follower(f, now);
                    } else {
                        acts.extend(l.engine.peer_down(f));
                    }
                }
                tracing::info!(epoch = plan.epoch, "primary: services published");
                self.tcp_restore(t.reason == crate::report::Reason::Switchover);
                self.emit(Output::Publish);
                self.emit(Output::LeaveAcks);
                if targets.is_empty() {
                    r.total_ms = took(now, t.started);
                    self.emit(Output::Report(Box::new(r.clone())));
                } else {
                    l.replay = Some(ReplayWait {
                        targets,
                        started: t.started,
                    });
                }
                if r.reason != crate::report::Reason::Start.as_str() {
                    self.takeovers += 1;
                }
                self.report = Some(r);
                self.role = Role::Primary(l);
                self.run(now, acts);
            }
        }
    }

    /// Complete the report once the replay is ACKed.
    pub(super) fn check_replay_done(&mut self, now: Micros) {
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        let Some(w) = &l.replay else { return };
        let done = w
            .targets
            .iter()
            .all(|(c, &t)| l.engine.channels.get(c).map_or(true, |ch| ch.kacked >= t));
        if done {
            let took = took(now, w.started);
            l.replay = None;
            if let Some(r) = &mut self.report {
                r.total_ms = took;
                let r = Box::new(r.clone());
                self.emit(Output::Report(r));
            }
        }
    }
}

/// A finished takeover's duration in milliseconds: at least a microsecond,
/// since 0 says "still replaying" and a clock as coarse as the test VM's
/// (jiffies, 4 ms) can read the same before and after a fast takeover.
fn took(now: Micros, started: Micros) -> f64 {
    ms(now.saturating_sub(started).max(1))
}

#[cfg(test)]
mod tests {
    use super::{next_epoch, took};

    #[test]
    fn a_finished_takeover_never_reads_as_running() {
        assert!(took(7, 7) > 0.0, "same clock reading before and after");
        assert_eq!(took(1_000, 0), 1.0);
    }

    #[test]
    fn epochs_grow_and_differ_by_unit() {
        let a = next_epoch(0, 0x11).expect("fits");
        let b = next_epoch(0, 0x22).expect("fits");
        assert_ne!(a, b);
        assert!(a > 0 && b > 0);
        let c = next_epoch(a.max(b), 0x11).expect("fits");
        assert!(c > a && c > b);
        assert_eq!(c & 0xff, 0x11);
        assert_eq!(next_epoch(u64::from(u32::MAX), 1), None);
    }
}
