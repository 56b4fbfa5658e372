//! Becoming primary: claim every channel with a new
//! epoch (fencing the old primary), read the registers, ask the cookie log
//! where the standby's view and the kernel's disagree, plan, publish, and
//! replay only what is out of sync.
//!
//! Starting as primary is the same takeover from a standby that holds
//! nothing: every channel is relearned from the kernel's tables.

use std::collections::BTreeMap;
use std::time::Instant;

use hasync_engine::standby::Standby;
use hasync_engine::takeover::{Outcome, Takeover};
use hasync_engine::{Action, ChannelId, Epoch, NodeId, Opid};

use super::{Daemon, PrimaryRole, Role};
use crate::report;
use hasync_engine::report::Reason;

/// A takeover in progress.
pub struct TakeoverRole {
    /// The engine.
    pub engine: Takeover,
    reason: Reason,
    started: Instant,
    detection_ms: f64,
    previous_epoch: Epoch,
    /// The election's losers, who rebase onto our stream.
    followers: Vec<NodeId>,
}

/// Replay still in flight after a takeover: done when the kernel ACKed
/// every channel's last replayed opid.
pub struct ReplayWait {
    /// Channel → last opid of its replay.
    pub targets: BTreeMap<ChannelId, Opid>,
    /// When the takeover started.
    pub started: Instant,
}

/// The epoch after `base` for the unit whose byte is `unit`
/// ([`crate::config::Config::unit_byte`]): the low byte names the unit, so
/// two daemons racing to take over never claim the same epoch (the kernel
/// accepts a claim at the current epoch, which would let both write).
pub fn next_epoch(base: Epoch, unit: u8) -> Option<Epoch> {
    let e = ((base >> 8) + 1) << 8 | Epoch::from(unit);
    (e <= Epoch::from(u32::MAX)).then_some(e)
}

impl Daemon {
    /// `role = primary`, or `auto` with nobody else: take over from a
    /// standby that holds nothing.
    pub(super) fn start_as_primary(&mut self) {
        let (standby, _) = Standby::new(
            self.me,
            0,
            0,
            &self.cfg.channel_list(),
            self.cfg.limits.standby(),
        );
        self.takeover_from(standby, Reason::Start, 0.0, Vec::new());
    }

    /// A following standby takes over; `followers` (an election's losers)
    /// are announced the new stream and rebase onto it.
    pub(super) fn start_takeover(
        &mut self,
        reason: Reason,
        detection_ms: f64,
        followers: Vec<NodeId>,
    ) {
        let role = std::mem::replace(&mut self.role, Role::Stopping);
        let Role::Standby(s) = role else {
            self.role = role;
            return;
        };
        self.takeover_from(s.engine, reason, detection_ms, followers);
    }

    fn takeover_from(
        &mut self,
        mut standby: Standby,
        reason: Reason,
        detection_ms: f64,
        followers: Vec<NodeId>,
    ) {
        let started = Instant::now();
        if self.opts.full_replay {
            for c in standby.channels.values_mut() {
                c.dirty = c.table.section_count().all_mask();
            }
        }
        let previous_epoch = standby.epoch;
        let owners = self
            .kernel
            .port_mut()
            .channels()
            .map(|cs| cs.iter().map(|c| Epoch::from(c.epoch)).max().unwrap_or(0))
            .unwrap_or(0);
        let Some(epoch) = next_epoch(owners.max(previous_epoch), self.cfg.unit_byte()) else {
            tracing::error!(owners, "epoch space exhausted: cannot take over");
            self.exit = true;
            return;
        };
        tracing::info!(
            epoch,
            previous_epoch,
            reason = reason.as_str(),
            "claiming every channel"
        );
        let (engine, acts) = Takeover::start(
            standby,
            epoch,
            self.cfg.trailing.policy(),
            self.cfg.limits.primary(),
            followers.clone(),
        );
        self.role = Role::TakingOver(TakeoverRole {
            engine,
            reason,
            started,
            detection_ms,
            previous_epoch,
            followers,
        });
        self.act(acts);
    }

    /// After kernel replies: finish a takeover whose answers are all in,
    /// and complete the report once the replay is ACKed.
    pub(super) fn after_kernel(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if let Role::TakingOver(t) = &mut self.role {
            let (outcome, acts) = t.engine.poll();
            match outcome {
                Outcome::Pending => out.extend(acts),
                Outcome::Fenced(owner) => {
                    tracing::warn!(owner, "another daemon took over first");
                    self.become_standby("lost the takeover race");
                }
                Outcome::Primary(primary, plan) => {
                    let (reason, started, detection_ms, prev) =
                        (t.reason, t.started, t.detection_ms, t.previous_epoch);
                    let mut r = hasync_engine::report::build(
                        &self.cfg.node,
                        reason,
                        prev,
                        &plan,
                        &primary,
                        detection_ms,
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
                    let followers = std::mem::take(&mut t.followers);
                    match PrimaryRole::new(*primary, &self.services) {
                        Ok(mut p) => {
                            // A follower whose unit went down meanwhile is
                            // not waited for.
                            let (up, gone): (Vec<NodeId>, Vec<NodeId>) =
                                followers.iter().partition(|f| self.units_up.contains(f));
                            p.expect_followers(&up, Instant::now());
                            for f in gone {
                                let acts = p.engine.peer_down(f);
                                out.extend(acts);
                            }
                            tracing::info!(epoch = plan.epoch, "primary: services published");
                            self.role = Role::Primary(p);
                            self.acks = None;
                            if self.cfg.audit_period > 0 {
                                self.next_audit = Some(
                                    Instant::now()
                                        + std::time::Duration::from_secs(u64::from(
                                            self.cfg.audit_period,
                                        )),
                                );
                            }
                            if targets.is_empty() {
                                r.total_ms = started.elapsed().as_secs_f64() * 1e3;
                                report::log(&r);
                            } else if let Role::Primary(p) = &mut self.role {
                                p.replay = Some(ReplayWait { targets, started });
                            }
                            self.report = Some(r);
                            out.extend(acts);
                        }
                        Err(e) => {
                            // Without our services nobody can reach us: let
                            // another daemon take over instead.
                            tracing::error!(error = %e, "cannot publish the primary services; exiting");
                            self.exit = true;
                        }
                    }
                }
            }
        }
        self.check_replay_done();
        out
    }

    /// True while a takeover replay is in flight.
    pub(super) fn replaying(&self) -> bool {
        matches!(&self.role, Role::Primary(p) if p.replay.is_some())
    }

    fn check_replay_done(&mut self) {
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        let Some(w) = &p.replay else { return };
        let done = w
            .targets
            .iter()
            .all(|(c, &t)| p.engine.channels.get(c).map_or(true, |ch| ch.kacked >= t));
        if done {
            let ms = w.started.elapsed().as_secs_f64() * 1e3;
            p.replay = None;
            if let Some(r) = &mut self.report {
                r.total_ms = ms;
                report::log(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_epoch;

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
