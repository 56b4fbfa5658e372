//! Standby → primary: fence, read registers, ask the cookie log where
//! needed, plan, and start the replay (seed 001 FIG. 6 steps 2–6).
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
    dumps: BTreeMap<ChannelId, (Opid, Vec<IfRecord>)>,
    asked: BTreeMap<ChannelId, KernelCmd>,
    fenced: Option<Epoch>,
    planned: bool,
}

impl Takeover {
    /// Begin: claim every channel with `epoch` (must exceed every epoch
    /// used before; the caller derives it, e.g. old epoch + 1).
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
            planned: false,
        };
        (t, out)
    }

    /// The epoch being claimed.
    pub fn epoch(&self) -> Epoch {
        self.epoch
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
                register,
                records,
                ..
            } if matches!(self.asked.get(&channel), Some(KernelCmd::Dump { .. })) => {
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
            return Some(KernelCmd::Dump { channel });
        }
        let v = view(channel, c);
        let reg = Register {
            opid: register,
            epoch: register_epoch,
        };
        planner::cookie_query(&v, reg).map(|after| KernelCmd::Cookies { channel, after })
    }

    /// Poll: once every answer is in, build the plan and the new primary.
    /// Returns the outcome and the actions that start the replay.
    pub fn poll(&mut self) -> (Outcome, Vec<Action>) {
        if let Some(owner) = self.fenced {
            return (Outcome::Fenced(owner), Vec::new());
        }
        if !self.asked.is_empty() || self.planned {
            return (Outcome::Pending, Vec::new());
        }
        self.planned = true;
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
        (Outcome::Primary(Box::new(primary), plan), out)
    }

    /// Channels asked about but not answered yet (for diagnostics).
    pub fn waiting(&self) -> BTreeSet<ChannelId> {
        self.asked.keys().copied().collect()
    }
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
