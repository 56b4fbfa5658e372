//! The control API (see `hasync-ctl`): change requests go through the
//! primary engine and are answered when it confirms them (kernel ACK +
//! every hot standby holds the update) or refuses them; status (paged:
//! `status`, then `channels` pages), switchover and audit are answered here.

use hasync_ctl::{
    AuditChannel, AuditReply, AuditRequest, CtlError, DelIface, ErrorKind, Request, RequestFrame,
    Response, ResponseFrame, SetIface,
};
use hasync_engine::kernel::{KernelCmd, KernelReply};
use hasync_engine::table::{IfName, Op};
use hasync_engine::{Action, ChannelId};
use nix::poll::PollFlags;

use super::{Daemon, Role};
use crate::conn::Read;

impl Daemon {
    pub(super) fn on_ctl(&mut self, t: u64, flags: PollFlags) {
        let Some(c) = self.ctl.get_mut(&t) else {
            return;
        };
        if flags.contains(PollFlags::POLLOUT) && c.conn.flush().is_err() {
            self.ctl.remove(&t);
            return;
        }
        let (frames, end) = match c.conn.read(&mut self.buf) {
            Read::Frames(f) => (f, false),
            Read::Closed(f) | Read::Broken(f, _) => (f, true),
        };
        for f in frames {
            match RequestFrame::decode(&f) {
                Ok(req) => self.request(t, req),
                Err(e) => {
                    tracing::warn!(error = %e, "malformed control request; closing the connection");
                    self.reply(t, ResponseFrame::error(0, ErrorKind::BadRequest, e));
                    if let Some(c) = self.ctl.get_mut(&t) {
                        c.conn.shutdown();
                    }
                    self.ctl.remove(&t);
                    return;
                }
            }
        }
        if end {
            self.ctl.remove(&t);
        }
    }

    /// Send a reply on control connection `t`.
    pub(super) fn reply(&mut self, t: u64, frame: ResponseFrame) {
        if let Some(c) = self.ctl.get_mut(&t) {
            if c.conn.send(frame.encode()).is_err() {
                self.ctl.remove(&t);
            }
        }
    }

    /// Requests waiting on a primary that is no more: refuse them.
    pub(super) fn drop_control_waiters(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for (_, (t, id)) in waiting {
            self.reply(
                t,
                ResponseFrame::error(
                    id,
                    ErrorKind::Deposed,
                    "this daemon stopped being primary before the change was confirmed; it may or may not be applied",
                ),
            );
        }
    }

    fn request(&mut self, t: u64, req: RequestFrame) {
        let id = req.id;
        // Status and its channel pages, on either service and in any role;
        // each reply holds as many channels as fit in one frame.
        match &req.body {
            Request::Status => {
                let frame = ResponseFrame::status_paged(id, self.status(), self.channels_from(0));
                self.reply(t, frame);
                return;
            }
            Request::Channels(c) => {
                let frame = ResponseFrame::channels_paged(id, self.channels_from(c.from));
                self.reply(t, frame);
                return;
            }
            _ => {}
        }
        let Role::Primary(p) = &mut self.role else {
            let primary = match &self.role {
                Role::Standby(s) => s.leader_name.clone(),
                _ => None,
            };
            let body = Response::Error(CtlError {
                kind: ErrorKind::NotPrimary,
                message: format!("{} is {}", self.cfg.node, self.role.name()),
                primary,
            });
            self.reply(t, ResponseFrame { id, body });
            return;
        };
        if p.handover.is_some() {
            self.reply(
                t,
                ResponseFrame::error(id, ErrorKind::ShuttingDown, "handing over to a standby"),
            );
            return;
        }
        match req.body {
            Request::Status | Request::Channels(_) => {}
            Request::Set(s) => self.submit(t, id, |d| d.set_ops(&s)),
            Request::Del(s) => self.submit(t, id, |d| d.del_ops(&s)),
            Request::Switchover => {
                let Some(to) = p.hot_peer() else {
                    self.reply(
                        t,
                        ResponseFrame::error(
                            id,
                            ErrorKind::NoStandby,
                            "no standby holds every channel yet",
                        ),
                    );
                    return;
                };
                p.start_handover(to, Some((t, id)), false);
            }
            Request::Audit(a) => {
                let reply = self.audit(&a);
                self.reply(t, ResponseFrame { id, body: reply });
            }
        }
    }

    fn submit(
        &mut self,
        t: u64,
        id: u64,
        build: impl FnOnce(&Daemon) -> Result<(ChannelId, Vec<Op>), CtlError>,
    ) {
        let (channel, ops) = match build(self) {
            Ok(x) => x,
            Err(e) => {
                self.reply(
                    t,
                    ResponseFrame {
                        id,
                        body: Response::Error(e),
                    },
                );
                return;
            }
        };
        let rid = self.next_request;
        self.next_request += 1;
        self.waiting.insert(rid, (t, id));
        let acts = match &mut self.role {
            Role::Primary(p) => p.engine.submit(rid, channel, ops),
            _ => Vec::new(),
        };
        self.act(acts);
    }

    /// The channel a request names, or the one holding `name`, or the
    /// lowest configured one.
    fn pick_channel(
        &self,
        want: Option<u32>,
        name: &IfName,
        must_exist: bool,
    ) -> Result<ChannelId, CtlError> {
        let Role::Primary(p) = &self.role else {
            return Err(err(ErrorKind::NotPrimary, "not primary"));
        };
        if let Some(c) = want {
            return match p.engine.channels.get(&c) {
                Some(ch) if must_exist && ch.table.get(name).is_none() => Err(err(
                    ErrorKind::NotFound,
                    format!("no interface {} in channel {c}", show(name)),
                )),
                Some(_) => Ok(c),
                None => Err(err(ErrorKind::NotFound, format!("no channel {c}"))),
            };
        }
        if let Some((&c, _)) = p
            .engine
            .channels
            .iter()
            .find(|(_, ch)| ch.table.get(name).is_some())
        {
            return Ok(c);
        }
        if must_exist {
            return Err(err(
                ErrorKind::NotFound,
                format!("no interface {}", show(name)),
            ));
        }
        p.engine
            .channels
            .keys()
            .next()
            .copied()
            .ok_or_else(|| err(ErrorKind::NotFound, "no channels configured"))
    }

    fn set_ops(&self, s: &SetIface) -> Result<(ChannelId, Vec<Op>), CtlError> {
        let change = s.change().map_err(|e| err(ErrorKind::Invalid, e.0))?;
        let channel = self.pick_channel(s.channel, &change.name, false)?;
        let Role::Primary(p) = &self.role else {
            return Err(err(ErrorKind::NotPrimary, "not primary"));
        };
        let current = p
            .engine
            .channels
            .get(&channel)
            .and_then(|c| c.table.get(&change.name));
        let r = change.onto(current);
        r.validate()
            .map_err(|e| err(ErrorKind::Invalid, e.to_string()))?;
        Ok((channel, vec![Op::Set(r)]))
    }

    fn del_ops(&self, s: &DelIface) -> Result<(ChannelId, Vec<Op>), CtlError> {
        let name = s.record_name().map_err(|e| err(ErrorKind::Invalid, e.0))?;
        let channel = self.pick_channel(s.channel, &name, true)?;
        Ok((channel, vec![Op::Del(name)]))
    }

    /// Compare with the kernel now (answered), and ask the standbys (they
    /// report to the engine, which repairs).
    fn audit(&mut self, a: &AuditRequest) -> Response {
        let ids: Vec<ChannelId> = match (&self.role, a.channel) {
            (Role::Primary(p), Some(c)) if p.engine.channels.contains_key(&c) => vec![c],
            (_, Some(c)) => {
                return Response::Error(err(ErrorKind::NotFound, format!("no channel {c}")))
            }
            (Role::Primary(p), None) => p.engine.channels.keys().copied().collect(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for id in ids {
            out.push(self.audit_channel(id));
        }
        Response::Audit(AuditReply { channels: out })
    }

    fn audit_channel(&mut self, id: ChannelId) -> AuditChannel {
        let acts = match &mut self.role {
            Role::Primary(p) => p.engine.start_audit(id),
            _ => Vec::new(),
        };
        let (kernel, others): (Vec<Action>, Vec<Action>) = acts
            .into_iter()
            .partition(|a| matches!(a, Action::Kernel(_)));
        let standbys_asked = others.len() as u32;
        self.act(others);
        let mut result = AuditChannel {
            channel: id,
            opid: 0,
            kernel_mismatch: 0,
            kernel_skipped: true,
            standbys_asked,
        };
        if kernel.is_empty() {
            return result;
        }
        let outcome = self.kernel.execute(&[KernelCmd::Digests { channel: id }]);
        if let Some(Ok(reply @ KernelReply::Digests { .. })) = outcome.into_iter().next() {
            if let (
                Role::Primary(p),
                KernelReply::Digests {
                    register, digests, ..
                },
            ) = (&self.role, &reply)
            {
                if let Some(c) = p.engine.channels.get(&id) {
                    result.opid = c.last;
                    if *register == c.last {
                        result.kernel_skipped = false;
                        result.kernel_mismatch =
                            hasync_engine::audit::mismatched(&c.table.digests(), digests);
                    }
                }
            }
            let acts = match &mut self.role {
                Role::Primary(p) => p.engine.on_kernel(reply),
                _ => Vec::new(),
            };
            if result.kernel_mismatch != 0 {
                tracing::warn!(
                    channel = id,
                    mismatch = format_args!("{:#x}", result.kernel_mismatch),
                    "audit: kernel differs; repairing"
                );
            }
            self.act(acts);
        }
        result
    }

    pub(super) fn periodic_audit(&mut self) {
        let ids: Vec<ChannelId> = match &self.role {
            Role::Primary(p) if p.handover.is_none() && p.replay.is_none() => {
                p.engine.channels.keys().copied().collect()
            }
            _ => return,
        };
        for id in ids {
            self.audit_channel(id);
        }
    }
}

fn err(kind: ErrorKind, message: impl Into<String>) -> CtlError {
    CtlError {
        kind,
        message: message.into(),
        primary: None,
    }
}

fn show(name: &IfName) -> String {
    String::from_utf8_lossy(name.as_bytes()).into_owned()
}
