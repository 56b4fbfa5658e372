//! Standby → primary: fence, read registers, ask the cookie log where
//! needed, plan, learn from the kernel what it is the witness of, and start
//! the replay.
//!
//! In two rounds of kernel questions:
//!
//! 1. Claim every channel with the new epoch (fencing the old primary) and
//!    read the registers; ask the cookie log where the standby's view and
//!    the register disagree; dump the channels the standby does not hold.
//! 2. Plan ([`crate::planner`]), then dump the sections the plan learns:
//!    where the kernel applied updates this standby never saw, their
//!    primary may have confirmed them, so their sections are taken from the
//!    kernel, not from the standby's older view.
//!
//! The replay itself is ordinary updates through the new [`Primary`]'s
//! pipeline: trailing updates keep their opids (the register is just
//! before them), section replays are `ReplaceSection` updates. So the
//! replay is ACKed, forwarded to followers, logged in the kernel's cookie
//! log, and an interrupted replay is finished by whoever plans next.

use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::{CookieEntry, KernelCmd, KernelError, KernelReply};
use crate::planner::{self, ChannelView, Plan, Policy, Register};
use crate::primary::{section_ops, PChannel, Primary, PrimaryConfig};
use crate::standby::{Mode, Standby};
use crate::table::{IfRecord, Op, Table, MAX_OPS};
use crate::wire::{Message, Rebase};
use crate::{Action, ChannelId, Epoch, NodeId, Opid};

/// Where a takeover stands.
#[derive(Debug)]
pub enum Outcome {
    /// Still waiting for kernel replies.
    Pending,
    /// Done: the new primary and the plan it is executing.
    Primary(Box<Primary>, Plan),
    /// The kernel reported a newer owner: someone else took over.
    Fenced(Epoch),
}

/// An in-progress takeover.
#[derive(Debug)]
pub struct Takeover {
    standby: Standby,
    epoch: Epoch,
    policy: Policy,
    cfg: PrimaryConfig,
    followers: Vec<NodeId>,
    registers: BTreeMap<ChannelId, Register>,
    cookies: BTreeMap<ChannelId, Option<Vec<CookieEntry>>>,
    /// Dumped records per channel (whole channels in round 1, learned
    /// sections in round 2).
    dumps: BTreeMap<ChannelId, (Opid, Vec<IfRecord>)>,
    asked: BTreeMap<ChannelId, KernelCmd>,
    fenced: Option<Epoch>,
    /// The plan, once round 1 is answered.
    plan: Option<Plan>,
    done: bool,
}

impl Takeover {
    /// Begin: claim every channel with `epoch` (must exceed every epoch
    /// used before: hasyncd's `next_epoch` names the unit in its low byte).
    pub fn start(
        standby: Standby,
        epoch: Epoch,
        policy: Policy,
        cfg: PrimaryConfig,
        followers: Vec<NodeId>,
    ) -> (Self, Vec<Action>) {
        let asked: BTreeMap<ChannelId, KernelCmd> = standby
            .channels
            .keys()
            .map(|&channel| (channel, KernelCmd::Claim { channel, epoch }))
            .collect();
        let out = asked.values().cloned().map(Action::Kernel).collect();
        let t = Takeover {
            standby,
            epoch,
            policy,
            cfg,
            followers,
            registers: BTreeMap::new(),
            cookies: BTreeMap::new(),
            dumps: BTreeMap::new(),
            asked,
            fenced: None,
            plan: None,
            done: false,
        };
        (t, out)
    }

    /// The epoch being claimed.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The candidacy this unit stood with (answered to a standby that
    /// elects late, so that it decides on the same set).
    pub fn candidacy(&self) -> crate::election::Candidacy {
        self.standby.candidacy()
    }

    /// Resend unanswered kernel commands (replies can be lost).
    pub fn on_tick(&self) -> Vec<Action> {
        self.asked.values().cloned().map(Action::Kernel).collect()
    }

    /// A kernel reply; returns commands to send next.
    pub fn on_kernel(&mut self, reply: KernelReply) -> Vec<Action> {
        let mut out = Vec::new();
        match reply {
            KernelReply::Claimed {
                channel,
                epoch,
                register,
                register_epoch,
            } if epoch == self.epoch
                && matches!(self.asked.get(&channel), Some(KernelCmd::Claim { .. })) =>
            {
                self.registers.insert(
                    channel,
                    Register {
                        opid: register,
                        epoch: register_epoch,
                    },
                );
                let next = self.next_question(channel, register, register_epoch);
                match next {
                    Some(cmd) => {
                        out.push(Action::Kernel(cmd.clone()));
                        self.asked.insert(channel, cmd);
                    }
                    None => {
                        self.asked.remove(&channel);
                    }
                }
            }
            KernelReply::Cookies {
                channel, entries, ..
            } if matches!(self.asked.get(&channel), Some(KernelCmd::Cookies { .. })) => {
                self.cookies.insert(channel, entries);
                self.asked.remove(&channel);
            }
            KernelReply::Dump {
                channel,
                sections,
                register,
                records,
                ..
            } if matches!(self.asked.get(&channel), Some(KernelCmd::Dump { sections: s, .. }) if *s == sections) =>
            {
                self.dumps.insert(channel, (register, records));
                self.asked.remove(&channel);
            }
            KernelReply::Reject {
                error: KernelError::Fenced { owner },
                ..
            } if owner > self.epoch => self.fenced = Some(owner),
            _ => {}
        }
        out
    }

    fn next_question(
        &self,
        channel: ChannelId,
        register: Opid,
        register_epoch: Epoch,
    ) -> Option<KernelCmd> {
        let c = self.standby.channels.get(&channel)?;
        if c.mode != Mode::Hot {
            return Some(KernelCmd::Dump {
                channel,
                sections: u64::MAX,
            });
        }
        let v = view(channel, c);
        let reg = Register {
            opid: register,
            epoch: register_epoch,
        };
        planner::cookie_query(&v, reg).map(|after| KernelCmd::Cookies { channel, after })
    }

    /// Poll: once round 1 is answered, plan and ask round 2; once that is
    /// answered, build the new primary. Returns the outcome and the actions
    /// to carry out (round 2's questions, or the start of the replay).
    pub fn poll(&mut self) -> (Outcome, Vec<Action>) {
        if let Some(owner) = self.fenced {
            return (Outcome::Fenced(owner), Vec::new());
        }
        if !self.asked.is_empty() || self.done {
            return (Outcome::Pending, Vec::new());
        }
        let Some(plan) = &self.plan else {
            let views: Vec<ChannelView<'_>> = self
                .standby
                .channels
                .iter()
                .map(|(&id, c)| view(id, c))
                .collect();
            let plan = planner::plan(
                self.epoch,
                &views,
                &self.registers,
                &self.cookies,
                self.policy,
            );
            let mut out = Vec::new();
            for p in plan.channels.iter().filter(|p| p.learn_sections != 0) {
                let cmd = KernelCmd::Dump {
                    channel: p.channel,
                    sections: p.learn_sections,
                };
                out.push(Action::Kernel(cmd.clone()));
                self.asked.insert(p.channel, cmd);
            }
            self.plan = Some(plan);
            if !out.is_empty() {
                return (Outcome::Pending, out);
            }
            return self.poll();
        };
        let plan = plan.clone();
        self.done = true;
        let (primary, out) = self.build(&plan);
        (Outcome::Primary(Box::new(primary), plan), out)
    }

    fn build(&mut self, plan: &Plan) -> (Primary, Vec<Action>) {
        let mut channels = BTreeMap::new();
        let mut rebases = Vec::new();
        let by_channel: BTreeMap<ChannelId, &planner::ChannelPlan> =
            plan.channels.iter().map(|p| (p.channel, p)).collect();
        for (&id, c) in &self.standby.channels {
            let reg = self.registers.get(&id).map_or(c.applied, |r| r.opid);
            let sc = c.table.section_count();
            let (table, base, dirty) = match by_channel.get(&id) {
                Some(p) if p.relearn => {
                    let (register, records) =
                        self.dumps.get(&id).cloned().unwrap_or((reg, Vec::new()));
                    let mut t = Table::new(sc);
                    let ops: Vec<Op> = records.into_iter().map(Op::Set).collect();
                    t.apply_trusted(&ops);
                    channels.insert(id, PChannel::new(t, register));
                    // Followers cannot rebase onto a relearned table: make
                    // them bulk sync it (base beyond anything they hold).
                    rebases.push(Rebase {
                        channel: id,
                        base: Opid::MAX,
                        register,
                        dirty: sc.all_mask(),
                    });
                    continue;
                }
                Some(p) => {
                    let mut t = c.table.clone();
                    for o in &p.applied_ops {
                        if let Some(u) = c.pending.get(o) {
                            t.apply_trusted(&u.ops);
                        }
                    }
                    if p.learn_sections != 0 {
                        learn(&mut t, p.learn_sections, self.dumps.get(&id));
                    }
                    (t, p.apply_to, p.replay_sections)
                }
                None => (c.table.clone(), c.applied, 0),
            };
            channels.insert(id, PChannel::new(table, reg));
            rebases.push(Rebase {
                channel: id,
                base,
                register: reg,
                dirty,
            });
        }
        let mut primary = Primary::with_channels(self.standby.node, self.epoch, channels, self.cfg);
        let mut out = Vec::new();
        let announce = Message::NewPrimary {
            node: self.standby.node,
            epoch: self.epoch,
            prev_epoch: self.standby.epoch,
            channels: rebases,
        };
        for &f in &self.followers {
            primary.attach_follower(f);
            out.push(Action::Send {
                to: f,
                msg: announce.clone(),
            });
        }
        primary.set_announcement(announce, self.followers.clone());
        for p in &plan.channels {
            if p.relearn {
                continue;
            }
            if p.replay_sections != 0 {
                if let Some(c) = primary.channels.get(&p.channel) {
                    let ops = section_ops(&c.table, p.replay_sections);
                    for chunk in ops.chunks(MAX_OPS) {
                        out.extend(primary.submit_internal(p.channel, chunk.to_vec()));
                    }
                }
            }
            if let Some(c) = self.standby.channels.get(&p.channel) {
                for o in &p.replay_ops {
                    if let Some(u) = c.pending.get(o) {
                        out.extend(primary.submit_internal(p.channel, u.ops.clone()));
                    }
                }
            }
        }
        (primary, out)
    }

    /// Channels asked about but not answered yet (for diagnostics).
    pub fn waiting(&self) -> BTreeSet<ChannelId> {
        self.asked.keys().copied().collect()
    }
}

/// Replace `sections` of `t` with the kernel's records of them.
fn learn(t: &mut Table, sections: u64, dump: Option<&(Opid, Vec<IfRecord>)>) {
    let sc = t.section_count();
    let records = dump.map_or(&[][..], |(_, r)| r.as_slice());
    let ops: Vec<Op> = (0..sc.get())
        .filter(|s| sections & (1u64 << s) != 0)
        .map(|s| {
            let mut in_section: Vec<IfRecord> = records
                .iter()
                .filter(|r| sc.section_of(&r.name) == s)
                .cloned()
                .collect();
            in_section.sort_by(|a, b| a.name.cmp(&b.name));
            Op::ReplaceSection {
                section: s,
                records: in_section,
            }
        })
        .collect();
    t.apply_trusted(&ops);
}

fn view(channel: ChannelId, c: &crate::standby::SChannel) -> ChannelView<'_> {
    ChannelView {
        channel,
        hot: c.mode == Mode::Hot,
        applied: c.applied,
        pending: &c.pending,
        dirty: c.dirty,
        all_sections: c.table.section_count().all_mask(),
    }
}
