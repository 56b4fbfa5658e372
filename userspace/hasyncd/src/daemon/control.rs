//! The control API (see `hasync-ctl`): control connections and their
//! frames. What a request means and what status shows is
//! `hasync_ctl::node_view`'s; changes, switchover and audit are answered
//! when the node says (a change once the kernel ACKed it and every hot
//! standby holds it).

use hasync_ctl::events::{self, Snapshot};
use hasync_ctl::node_view::{self, Route};
use hasync_ctl::{DaemonEvent, ErrorKind, EventFrame, RequestFrame, Response, ResponseFrame};
use nix::poll::PollFlags;

use super::Daemon;

impl Daemon {
    pub(super) fn on_ctl(&mut self, t: u64, flags: PollFlags) {
        let Some(c) = self.ctl.get_mut(&t) else {
            return;
        };
        let (frames, end) = c.pump(flags.contains(PollFlags::POLLOUT), &mut self.buf);
        if !frames.is_empty() {
            if let Some(why) = self.untrusted.get(&t).cloned() {
                let msg = format!("control connection refused: {why}");
                return self.refuse_ctl(t, ErrorKind::Unauthorized, msg);
            }
        }
        for f in frames {
            match RequestFrame::decode_many(&f) {
                Ok((reqs, array)) => {
                    if array {
                        self.batched.entry(t).or_default();
                    }
                    for req in reqs {
                        self.request(t, req);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "malformed control request; closing the connection");
                    return self.refuse_ctl(t, ErrorKind::BadRequest, e);
                }
            }
        }
        if end.is_some() {
            self.close_ctl(t);
        }
    }

    /// Answers control connection `t` with one error and closes it.
    fn refuse_ctl(&mut self, t: u64, kind: ErrorKind, message: String) {
        self.batched.remove(&t);
        self.reply(t, ResponseFrame::error(0, kind, message));
        self.send_replies();
        if let Some(c) = self.ctl.get_mut(&t) {
            c.shutdown();
        }
        self.close_ctl(t);
    }

    /// Control connection `t` follows the event stream from now on: it is
    /// told the state first (`initial`), then each change.
    fn follow_events(&mut self, t: u64, id: u64) {
        if !self.ctl.contains_key(&t) {
            // The TCP face answers one request at a time (its replies are
            // held for output commit): no streams there.
            let e = "the event stream is followed over TIPC (hasync monitor daemon on a unit), not the TCP face";
            return self.reply(t, ResponseFrame::error(id, ErrorKind::Invalid, e));
        }
        // Changes the others have not been told yet go out first, so that
        // the newcomer's initial state is the state everyone shares.
        self.events_tick();
        let now = Snapshot::of(&self.node, self.refused_control);
        let report = events::final_report(&self.node);
        for event in events::changes(&Snapshot::default(), &now, report) {
            self.reply(t, event_frame(self.node.name(), id, true, event));
        }
        self.told = Some(now);
        self.followers.insert(t, id);
    }

    /// Tells every follower what changed since they were last told.
    pub(super) fn events_tick(&mut self) {
        if self.followers.is_empty() {
            self.told = None;
            return;
        }
        let now = Snapshot::of(&self.node, self.refused_control);
        let Some(before) = self.told.replace(now.clone()) else {
            return;
        };
        let changes = events::changes(&before, &now, events::final_report(&self.node));
        if changes.is_empty() {
            return;
        }
        let followers: Vec<(u64, u64)> = self.followers.iter().map(|(&t, &id)| (t, id)).collect();
        for event in changes {
            for &(t, id) in &followers {
                self.reply(t, event_frame(self.node.name(), id, false, event.clone()));
            }
        }
    }

    pub(super) fn close_ctl(&mut self, t: u64) {
        self.ctl.remove(&t);
        self.untrusted.remove(&t);
        self.followers.remove(&t);
        self.batched.remove(&t);
        if let Some(tcp) = &mut self.tcp {
            tcp.conns.remove(&t);
            tcp.owed.remove(&t);
            tcp.too_big.remove(&t);
        }
    }

    /// Sends one reply message on control connection `t`, over TIPC or
    /// TCP; Err: drop the connection.
    fn ctl_send(&mut self, t: u64, msg: Vec<u8>) -> Result<(), String> {
        if let Some(c) = self.ctl.get_mut(&t) {
            return c.send(msg);
        }
        let Some(tcp) = self.tcp.as_mut() else {
            return Ok(());
        };
        match tcp.conns.get_mut(&t) {
            Some(c) => {
                tcp.dirty = true;
                c.send_line(&msg)
            }
            None => Ok(()),
        }
    }

    /// Send a reply on control connection `t`: at once, or with the other
    /// replies of this round when the client sends arrays.
    pub(super) fn reply(&mut self, t: u64, frame: ResponseFrame) {
        if let Some(gathered) = self.batched.get_mut(&t) {
            gathered.push(&frame);
            return;
        }
        if self.ctl_send(t, frame.encode()).is_err() {
            self.close_ctl(t);
        }
    }

    /// The replies gathered for array clients, as arrays (see
    /// `hasync_ctl::proto`).
    pub(super) fn send_replies(&mut self) {
        let mut failed = Vec::new();
        let ready: Vec<(u64, Vec<Vec<u8>>)> = self
            .batched
            .iter_mut()
            .filter(|(_, g)| !g.is_empty())
            .map(|(&t, g)| (t, g.take()))
            .collect();
        for (t, msgs) in ready {
            for msg in msgs {
                if self.ctl_send(t, msg).is_err() {
                    failed.push(t);
                    break;
                }
            }
        }
        for t in failed {
            self.close_ctl(t);
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

    pub(super) fn request(&mut self, t: u64, req: RequestFrame) {
        let id = req.id;
        let frame = match node_view::route(req.body, self.next_request) {
            // Status and its channel pages, on either service and in any
            // role; each reply holds as many channels as fit in one frame.
            Route::Status => ResponseFrame::status_paged(
                id,
                node_view::status(&self.node, &self.cfg.ack_path.to_string()),
                node_view::channels_from(&self.node, 0),
            ),
            Route::Releases => ResponseFrame {
                id,
                body: Response::Releases(node_view::releases(&self.node)),
            },
            Route::Tcp => ResponseFrame {
                id,
                body: Response::Tcp(self.tcp_view()),
            },
            Route::Events => {
                self.follow_events(t, id);
                return;
            }
            Route::Counters => {
                let mut c = node_view::counters(&self.node);
                c.refused.control = self.refused_control;
                c.peer_drops = self.peer_drops;
                c.leader_connects = self.leader_connects;
                ResponseFrame {
                    id,
                    body: Response::Counters(c),
                }
            }
            Route::Channels(from) => {
                ResponseFrame::channels_paged(id, node_view::channels_from(&self.node, from))
            }
            Route::Refuse(e) => ResponseFrame {
                id,
                body: Response::Error(e),
            },
            Route::Node(ev) => {
                self.waiting.insert(self.next_request, (t, id));
                self.next_request += 1;
                return self.feed(ev);
            }
        };
        self.reply(t, frame);
    }
}

/// One event as its follower receives it.
fn event_frame(node: &str, id: u64, initial: bool, event: DaemonEvent) -> ResponseFrame {
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    ResponseFrame {
        id,
        body: Response::Event(EventFrame {
            time_ms,
            node: node.to_owned(),
            initial,
            event,
        }),
    }
}
