//! The control API (see `hasync-ctl`): status is answered here (paged:
//! `status`, then `channels` pages); changes, switchover and audit go to
//! the node and are answered when it says (a change once the kernel ACKed
//! it and every hot standby holds it).

use hasync_ctl::{ErrorKind, Request, RequestFrame, ResponseFrame};
use hasync_engine::node::Event;
use hasync_engine::table::IfName;
use nix::poll::PollFlags;

use super::Daemon;
use crate::conn::Read;

impl Daemon {
    pub(super) fn on_ctl(&mut self, t: u64, flags: PollFlags) {
        let Some(c) = self.ctl.get_mut(&t) else {
            return;
        };
        if flags.contains(PollFlags::POLLOUT) && c.flush().is_err() {
            self.ctl.remove(&t);
            return;
        }
        let (frames, end) = match c.read(&mut self.buf) {
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
                        c.shutdown();
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
            if c.send(frame.encode()).is_err() {
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
        let ev = match req.body {
            // Status and its channel pages, on either service and in any
            // role; each reply holds as many channels as fit in one frame.
            Request::Status => {
                let frame = ResponseFrame::status_paged(id, self.status(), self.channels_from(0));
                return self.reply(t, frame);
            }
            Request::Channels(c) => {
                let frame = ResponseFrame::channels_paged(id, self.channels_from(c.from));
                return self.reply(t, frame);
            }
            Request::Set(s) => match s.change() {
                Ok(change) => Pending::Set(s.channel, change),
                Err(e) => return self.reply(t, ResponseFrame::error(id, ErrorKind::Invalid, e.0)),
            },
            Request::Del(d) => match d.record_name() {
                Ok(name) => Pending::Del(d.channel, name),
                Err(e) => return self.reply(t, ResponseFrame::error(id, ErrorKind::Invalid, e.0)),
            },
            Request::Switchover => Pending::Switchover,
            Request::Audit(a) => Pending::Audit(a.channel),
        };
        let request = self.next_request;
        self.next_request += 1;
        self.waiting.insert(request, (t, id));
        self.feed(match ev {
            Pending::Set(channel, change) => Event::Set {
                request,
                channel,
                change,
            },
            Pending::Del(channel, name) => Event::Del {
                request,
                channel,
                name,
            },
            Pending::Switchover => Event::Switchover { request },
            Pending::Audit(channel) => Event::Audit { request, channel },
        });
    }
}

/// A request for the node, before it has an id.
enum Pending {
    Set(Option<u32>, hasync_engine::RecordChange),
    Del(Option<u32>, IfName),
    Switchover,
    Audit(Option<u32>),
}
