//! Carrying out the node's outputs.
//!
//! One round: frames are sent as they come, kernel commands are gathered
//! and run as one batch at the end (the adapter pipelines runs of
//! updates), then the replies go back into the node, whose new outputs make
//! the next round. Sending to the standbys before the kernel means a
//! standby usually holds an update before the kernel applies it, the cheap
//! side of the failover plan (trailing updates, not unknown ones).
//!
//! The fault-injection points sit between these steps.

use std::time::Duration;

use hasync_ctl::{AuditReply, Confirmed, Response, ResponseFrame, SwitchoverReply};
use hasync_engine::kernel::{KernelCmd, KernelReply};
use hasync_engine::node::{Dest, Event, Frame, Output, RoleName};
use hasync_engine::wire::Message;
use hasync_nl as nl;
use hasync_tipc::{Scope, SeqPacketListener, SeqPacketStream, TipcSocket};

use super::Daemon;
use crate::conn::Conn;
use crate::fault::Point;

/// Blocking connect limit (the primary answers in one round trip).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);

impl Daemon {
    /// Carry out everything the node asks, until it asks nothing more.
    pub(super) fn drive(&mut self) {
        loop {
            let outputs: Vec<Output> = std::iter::from_fn(|| self.node.poll_output()).collect();
            if outputs.is_empty() {
                self.send_replies();
                return;
            }
            let primary = self.node.role() == RoleName::Primary;
            let kernel_first = self.faults.armed(Point::AfterKernelSend);
            let mut cmds = Vec::new();
            let mut held = Vec::new();
            for o in outputs {
                match o {
                    Output::Kernel(c) => cmds.push(c),
                    Output::Send { to, frame } if kernel_first => held.push((to, frame)),
                    o => self.carry_out(o),
                }
            }
            let updates = cmds
                .iter()
                .filter(|c| matches!(c, KernelCmd::Update(_)))
                .count() as u64;
            if !kernel_first && primary {
                self.faults.hit_times(Point::AfterStandbySend, updates);
            }
            if cmds.is_empty() {
                for (to, frame) in held {
                    self.send(to, &frame);
                }
                continue;
            }
            if primary {
                self.faults.diverge(&mut cmds);
            }
            let outcomes = if self.node.replaying() && self.faults.armed(Point::MidReplay) {
                // Part of the replay reaches the kernel, then we die.
                let mut o = self.kernel.execute(&cmds[..1]);
                self.faults.hit(Point::MidReplay);
                o.extend(self.kernel.execute(&cmds[1..]));
                o
            } else {
                self.kernel.execute(&cmds)
            };
            if primary {
                self.faults.hit_times(Point::AfterKernelSend, updates);
            }
            for (to, frame) in held {
                self.send(to, &frame);
            }
            let mut replies: Vec<KernelReply> = Vec::new();
            for o in outcomes {
                match o {
                    Ok(r) => replies.push(r),
                    Err(f) => {
                        tracing::warn!(error = %f, "kernel command failed; retried on the next tick")
                    }
                }
            }
            // The kernel ACKed; the node has not forwarded the ACK yet (on
            // the direct path it never will: the standbys read it from the
            // kernel's group).
            if primary {
                let acks = replies
                    .iter()
                    .filter(|r| matches!(r, KernelReply::Ack(_)))
                    .count() as u64;
                self.faults.hit_times(Point::BeforeAckForward, acks);
            }
            self.feed(Event::Kernel(replies));
        }
    }

    fn carry_out(&mut self, o: Output) {
        match o {
            Output::Kernel(_) => {}
            Output::Send { to, frame } => self.send(to, &frame),
            Output::Connect => {
                self.leader_connects += 1;
                self.connect()
            }
            Output::CloseLeader => self.leader = None,
            Output::ClosePeer { conn, orderly } => {
                if let Some(mut c) = self.peers.remove(&conn) {
                    self.peer_drops += 1;
                    if orderly {
                        c.shutdown();
                    }
                }
            }
            Output::Publish => {
                self.want_published = true;
                if !self.cut {
                    self.publish();
                }
            }
            Output::Withdraw => {
                self.want_published = false;
                self.published = None;
                self.tcp_down();
            }
            Output::JoinAcks => self.join_acks(),
            Output::LeaveAcks => self.acks = None,
            Output::Confirmed {
                request,
                channel,
                opid,
            } => self.answer(request, Response::Confirmed(Confirmed { channel, opid })),
            Output::Refused { request, refusal } => {
                self.answer(request, Response::Error(refusal.into()))
            }
            Output::SwitchedOver { request, to } => {
                let tok = self.waiting.get(&request).map(|w| w.0);
                self.answer(request, Response::Switchover(SwitchoverReply { to }));
                // Out before the withdrawal that follows.
                self.send_replies();
                if let Some(c) = tok.and_then(|t| self.ctl.get_mut(&t)) {
                    let _ = c.flush();
                }
            }
            Output::Audited { request, channels } => {
                self.answer(request, Response::Audit(AuditReply { channels }))
            }
            Output::AbandonRequests => self.drop_control_waiters(),
            Output::Report(r) => crate::report::log(&r),
            Output::Exit => self.exit = true,
            Output::TcpCommitted {
                round,
                holders,
                late,
            } => self.tcp_committed(round, holders, late),
            Output::RestoreTcp { conns, switchover } => {
                if let Some(tcp) = &mut self.tcp {
                    tcp.restore = conns;
                    tcp.restore_switchover = switchover;
                }
            }
        }
    }

    fn send(&mut self, to: Dest, frame: &Frame) {
        let bytes = frame.encode();
        match to {
            Dest::Leader => {
                let Some(c) = &mut self.leader else { return };
                if let Err(e) = c.send(bytes) {
                    tracing::warn!(error = %e, "connection to the primary failed");
                    self.leader = None;
                    self.feed(Event::LeaderClosed {
                        planned: false,
                        why: &e,
                    });
                }
            }
            Dest::Peer(t) => {
                let Some(c) = self.peers.get_mut(&t) else {
                    return;
                };
                if let Err(e) = c.send(bytes) {
                    tracing::warn!(error = %e, "dropping standby connection");
                    self.peers.remove(&t);
                    self.peer_drops += 1;
                    self.feed(Event::PeerClosed(t, &e));
                    return;
                }
                if matches!(frame, Frame::Msg(Message::Checkpoint { .. })) {
                    self.faults.hit(Point::MidBulkSync);
                }
                // Greeted: the engine trusts this standby (any release), so
                // control clients on its node are trusted too.
                if matches!(frame, Frame::Hello(_)) {
                    if let Some(&node) = self.peer_nodes.get(&t) {
                        self.trusted_nodes.insert(node);
                    }
                }
            }
            Dest::Unit(n) => {
                let addr = self.services.unit(n);
                let Some(sock) = &self.unit_sock else { return };
                if let Err(e) = sock.send_to(&bytes, addr) {
                    tracing::debug!(%addr, error = %e, "candidacy not sent");
                }
            }
        }
    }

    fn connect(&mut self) {
        if self.cut {
            return self.feed(Event::ConnectFailed);
        }
        let service = self.services.replication();
        let conn = SeqPacketStream::connect_timeout(service, CONNECT_TIMEOUT)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                let node = s.peer_addr().map(|a| a.node).ok();
                Ok((Conn::new(s).map_err(|e| e.to_string())?, node))
            });
        match conn {
            Ok((c, node)) => {
                tracing::info!(%service, "connected to the primary");
                self.leader = Some(c);
                self.leader_node = node;
                self.feed(Event::Connected);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot connect to the primary yet");
                self.feed(Event::ConnectFailed);
            }
        }
    }

    pub(super) fn publish(&mut self) {
        let bind = |s| -> Result<SeqPacketListener, hasync_tipc::Error> {
            let l = SeqPacketListener::bind(s, Scope::Cluster)?;
            l.set_nonblocking(true)?;
            Ok(l)
        };
        match bind(self.services.replication())
            .and_then(|r| Ok((r, bind(self.services.control())?)))
        {
            Ok(p) => {
                self.published = Some(p);
                self.tcp_up();
            }
            Err(e) => {
                // Without our services nobody can reach us: let another
                // unit take over instead.
                tracing::error!(error = %e, "cannot publish the primary services; exiting");
                self.exit = true;
            }
        }
    }

    /// Join the kernel's ACK multicast group.
    fn join_acks(&mut self) {
        if self.acks.is_some() {
            return;
        }
        match nl::Monitor::open(nl::Groups {
            acks: true,
            monitor: false,
        }) {
            Ok(m) => self.acks = Some(m),
            Err(e) => {
                tracing::error!(error = %e, "cannot join the kernel's acks group; relying on forwarded ACKs")
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
}
