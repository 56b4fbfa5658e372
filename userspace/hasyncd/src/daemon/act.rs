//! Carrying out the engine's actions.
//!
//! One round: peer messages are queued and flushed, then the kernel
//! commands run as one batch (the adapter pipelines runs of updates), then
//! the replies go back into the engine, whose new actions make the next
//! round. Sending to the standby before the kernel means a standby usually
//! holds an update before the kernel applies it, the cheap side of the
//! failover plan (trailing updates, not unknown ones).
//!
//! The fault-injection points sit between these steps.

use std::collections::VecDeque;

use hasync_ctl::{Confirmed, ErrorKind, Response, ResponseFrame};
use hasync_engine::kernel::{KernelCmd, KernelReply};
use hasync_engine::wire::Message;
use hasync_engine::{Action, NodeId, SubmitError};

use super::{Daemon, Role};
use crate::config::AckPath;
use crate::fault::Point;

impl Daemon {
    /// Carry out `actions` and everything they lead to.
    pub(super) fn act(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while !queue.is_empty() {
            let mut cmds = Vec::new();
            let mut sends = Vec::new();
            while let Some(a) = queue.pop_front() {
                match a {
                    Action::Kernel(c) => cmds.push(c),
                    Action::Send { to, msg } => sends.push((to, msg)),
                    Action::Confirm {
                        request,
                        channel,
                        opid,
                    } => self.answer(request, Response::Confirmed(Confirmed { channel, opid })),
                    Action::Refuse { request, error } => self.refuse(request, &error),
                    Action::Deposed { owner } => {
                        self.deposed(owner);
                        return;
                    }
                }
            }
            let kernel_first = self.faults.armed(Point::AfterKernelSend);
            if !kernel_first {
                self.send_all(sends);
                sends = Vec::new();
                if has_update(&cmds) && self.is_primary() {
                    self.faults.hit(Point::AfterStandbySend);
                }
            }
            if cmds.is_empty() {
                self.send_all(sends);
                break;
            }
            let outcomes = if self.replaying() && self.faults.armed(Point::MidReplay) {
                // Part of the replay reaches the kernel, then we die.
                let mut o = self.kernel.execute(&cmds[..1]);
                self.faults.hit(Point::MidReplay);
                o.extend(self.kernel.execute(&cmds[1..]));
                o
            } else {
                self.kernel.execute(&cmds)
            };
            if has_update(&cmds) && self.is_primary() {
                self.faults.hit(Point::AfterKernelSend);
            }
            self.send_all(sends);
            let mut next = Vec::new();
            for o in outcomes {
                match o {
                    Ok(reply) => next.extend(self.on_kernel(reply)),
                    Err(f) => {
                        tracing::warn!(error = %f, "kernel command failed; retried on the next tick")
                    }
                }
            }
            if next.iter().any(|a| {
                matches!(
                    a,
                    Action::Send {
                        msg: Message::Ack(_),
                        ..
                    }
                )
            }) {
                self.faults.hit(Point::BeforeAckForward);
            }
            queue.extend(next);
            queue.extend(self.after_kernel());
        }
    }

    fn on_kernel(&mut self, reply: KernelReply) -> Vec<Action> {
        match &mut self.role {
            Role::Primary(p) => p.engine.on_kernel(reply),
            Role::TakingOver(t) => t.engine.on_kernel(reply),
            Role::Standby(s) => s.engine.on_kernel(reply),
            Role::Stopping => Vec::new(),
        }
    }

    fn is_primary(&self) -> bool {
        matches!(self.role, Role::Primary(_))
    }

    fn send_all(&mut self, sends: Vec<(NodeId, Message)>) {
        let direct = self.cfg.ack_path == AckPath::Direct;
        for (to, msg) in sends {
            if direct && matches!(msg, Message::Ack(_)) {
                continue;
            }
            let checkpoint = matches!(msg, Message::Checkpoint { .. });
            let frame = msg.encode();
            match &mut self.role {
                Role::Primary(p) => {
                    if let Some(t) = p.token_of(to) {
                        if let Some(peer) = p.peers.get_mut(&t) {
                            if let Err(e) = peer.conn.send(frame) {
                                tracing::warn!(peer = %peer.name, error = %e, "dropping standby connection");
                                self.drop_peer(t);
                                continue;
                            }
                        }
                        if checkpoint {
                            self.faults.hit(Point::MidBulkSync);
                        }
                    }
                }
                Role::Standby(s) => {
                    if let Some(c) = &mut s.conn {
                        if let Err(e) = c.send(frame) {
                            tracing::warn!(error = %e, "connection to the primary failed");
                            self.leader_lost(false, &e);
                        }
                    }
                }
                Role::TakingOver(_) | Role::Stopping => {}
            }
        }
    }

    /// Answer a requester (if it is still connected).
    pub(super) fn answer(&mut self, request: u64, body: Response) {
        let Some((token, id)) = self.waiting.remove(&request) else {
            return;
        };
        self.reply(token, ResponseFrame { id, body });
    }

    fn refuse(&mut self, request: u64, error: &SubmitError) {
        let kind = match error {
            SubmitError::Busy => ErrorKind::Busy,
            SubmitError::Invalid(_) => ErrorKind::Invalid,
            SubmitError::Deposed => ErrorKind::Deposed,
            SubmitError::NoChannel => ErrorKind::NotFound,
        };
        let Some((token, id)) = self.waiting.remove(&request) else {
            return;
        };
        self.reply(token, ResponseFrame::error(id, kind, error.to_string()));
    }
}

fn has_update(cmds: &[KernelCmd]) -> bool {
    cmds.iter().any(|c| matches!(c, KernelCmd::Update(_)))
}
