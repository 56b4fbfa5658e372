//! The load loop: one connection to the primary, at most `window`
//! requests outstanding on it, single-threaded around `poll(2)`.
//!
//! When the connection breaks (or the daemon says it is not, or no longer,
//! the primary) every outstanding request is logged `lost` and not sent
//! again, and the loop reconnects by service name, reaching whichever
//! daemon is primary now. It gives up when no primary has answered for
//! `--reconnect-ms`. A `busy` refusal pauses sending briefly.
//!
//! The run ends when `--count` requests were sent, `--duration` passed or
//! the stop file appeared; outstanding replies are then awaited for up to
//! `--reconnect-ms` (later ones are logged `lost`).

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

use hasync_ctl::{ErrorKind, Request, Response, ResponseFrame};

use crate::conn::{self, Conn, Failure};
use crate::flags::Config;
use crate::log::{Event, Log, Summary};

/// Longest sleep in `poll`: how often the stop file and clock are looked at.
const TICK: Duration = Duration::from_millis(50);
/// Pause after a `busy` refusal.
const BUSY_PAUSE: Duration = Duration::from_millis(50);
/// Pause before reconnecting after a not-primary / deposed / shutting-down
/// refusal, so that a daemon that is not the primary is not hammered.
const REDIRECT_PAUSE: Duration = Duration::from_millis(200);
/// Interval of the progress line on stderr.
const PROGRESS: Duration = Duration::from_secs(5);

/// Why the run ended early.
#[derive(Debug)]
pub enum Error {
    /// No primary answered within `--reconnect-ms`.
    Unreachable(String),
    /// Writing the log failed.
    Log(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(e) => f.write_str(e),
            Error::Log(e) => write!(f, "writing the log: {e}"),
        }
    }
}

/// Makes a connection, trying until the deadline or until the callback
/// says to stop.
type Connector<'c, C> = dyn FnMut(Instant, &mut dyn FnMut() -> bool) -> Result<C, Failure> + 'c;

/// A request sent and not answered yet.
#[derive(Debug)]
struct Sent {
    seq: u64,
    channel: u32,
    name: String,
}

struct Load<'a, C> {
    cfg: &'a Config,
    log: &'a mut Log,
    sum: Summary,
    started: Instant,
    client: Option<C>,
    /// By request id, which grows with `seq` on one connection.
    outstanding: BTreeMap<u64, Sent>,
    /// The next request's sequence number.
    next_seq: u64,
    /// Since when no primary has answered (set at the start and at each
    /// loss, cleared by a reply from a primary): the reconnect deadline
    /// counts from here.
    outage: Option<Instant>,
    /// When the current connection was lost, for `reconnected`.
    lost_at: Option<Instant>,
    /// No sending (or reconnecting) before this.
    hold_until: Option<Instant>,
    /// Set once nothing more is to be sent; the deadline for the replies.
    draining: Option<Instant>,
    next_stop_check: Instant,
    next_progress: Instant,
}

/// Runs the load against the primary; the totals come back even when the
/// run ended early.
pub fn run(cfg: &Config, log: &mut Log) -> (Summary, Result<(), Error>) {
    let services = cfg.services;
    run_with(cfg, log, &mut |deadline, stop| {
        conn::reach_primary(services, deadline, stop)
    })
}

/// [`run`] with connections from `connect`.
fn run_with<C: Conn>(
    cfg: &Config,
    log: &mut Log,
    connect: &mut Connector<'_, C>,
) -> (Summary, Result<(), Error>) {
    let now = Instant::now();
    let mut l = Load {
        cfg,
        log,
        sum: Summary::default(),
        started: now,
        client: None,
        outstanding: BTreeMap::new(),
        next_seq: cfg.first_seq,
        outage: Some(now),
        lost_at: None,
        hold_until: None,
        draining: None,
        next_stop_check: now,
        next_progress: now + PROGRESS,
    };
    let result = l.run(connect);
    let elapsed = l.started.elapsed();
    l.sum.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        l.sum.confirmed_per_s = (l.sum.confirmed as f64 / secs * 10.0).round() / 10.0;
    }
    (l.sum, result)
}

/// Whether the run is over: `--count` sent, `--duration` passed, or (when
/// `look` says to look) the stop file exists.
fn ended(cfg: &Config, started: Instant, next_seq: u64, now: Instant, look: bool) -> bool {
    let count_done = cfg.count > 0 && next_seq - cfg.first_seq >= cfg.count;
    let time_up = cfg
        .duration
        .is_some_and(|d| now.duration_since(started) >= d);
    let stop_file = look && cfg.stop_file.as_ref().is_some_and(|p| p.exists());
    count_done || time_up || stop_file
}

impl<C: Conn> Load<'_, C> {
    fn run(&mut self, connect: &mut Connector<'_, C>) -> Result<(), Error> {
        loop {
            let now = Instant::now();
            self.check_stop(now);
            if self.client.is_none() {
                if self.draining.is_some() {
                    // A loss logged every outstanding request.
                    return Ok(());
                }
                self.connect(connect)?;
                continue;
            }
            self.fill_window()?;
            if self.draining.is_some() && self.outstanding.is_empty() {
                return Ok(());
            }
            if self.draining.is_some_and(|d| now >= d) {
                self.progress("replies overdue at the end");
                return self.lose();
            }
            let Some(client) = &self.client else { continue };
            let wait = self
                .hold_until
                .map_or(TICK, |h| h.saturating_duration_since(now).min(TICK));
            if client.has_ready() {
                self.receive()?;
                continue;
            }
            match conn::wait_readable(&client.fd(), wait) {
                Ok(true) => self.receive()?,
                Ok(false) => {}
                Err(e) => {
                    self.progress(&format!("poll: {e}"));
                    self.lose()?;
                }
            }
            if !self.cfg.quiet && now >= self.next_progress {
                self.next_progress = now + PROGRESS;
                let s = &self.sum;
                eprintln!(
                    "hasync-load: {:.1}s submitted {} confirmed {} refused {} lost {} reconnects {}",
                    self.started.elapsed().as_secs_f64(),
                    s.submitted,
                    s.confirmed,
                    s.refused,
                    s.lost,
                    s.reconnects
                );
            }
        }
    }

    /// Starts draining when the run is over; the stop file is looked at
    /// once per tick.
    fn check_stop(&mut self, now: Instant) {
        if self.draining.is_some() {
            return;
        }
        let look = now >= self.next_stop_check;
        if look {
            self.next_stop_check = now + TICK;
        }
        if ended(self.cfg, self.started, self.next_seq, now, look) {
            self.draining = Some(now + self.cfg.reconnect);
        }
    }

    /// Connects (again), after the pause and within the reconnect deadline.
    fn connect(&mut self, connect: &mut Connector<'_, C>) -> Result<(), Error> {
        let deadline = self.outage.unwrap_or_else(Instant::now) + self.cfg.reconnect;
        let hold = self.hold_until.take();
        let (cfg, started, next_seq) = (self.cfg, self.started, self.next_seq);
        let mut stop = || {
            if let Some(h) = hold {
                std::thread::sleep(h.saturating_duration_since(Instant::now()));
            }
            ended(cfg, started, next_seq, Instant::now(), true)
        };
        match connect(deadline, &mut stop) {
            Ok(c) => {
                self.client = Some(c);
                if self.sum.submitted == 0 {
                    self.progress("connected to the primary");
                }
                if let Some(at) = self.lost_at.take() {
                    let after_ms = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
                    self.sum.reconnects += 1;
                    self.progress(&format!("reconnected after {after_ms} ms"));
                    self.event(&Event::Reconnected { after_ms })?;
                }
                Ok(())
            }
            Err(Failure::Stopped) => {
                self.draining = Some(Instant::now());
                Ok(())
            }
            Err(Failure::Deadline(e)) => Err(Error::Unreachable(format!(
                "no primary reachable within {} ms: {e}",
                self.cfg.reconnect.as_millis()
            ))),
        }
    }

    /// Sends requests until `window` are outstanding, unless paused or done.
    fn fill_window(&mut self) -> Result<(), Error> {
        while self.outstanding.len() < self.cfg.window {
            let now = Instant::now();
            if self.hold_until.is_some_and(|h| now < h) {
                return Ok(());
            }
            self.hold_until = None;
            self.check_stop(now);
            if self.draining.is_some() {
                return Ok(());
            }
            let Some(client) = &mut self.client else {
                return Ok(());
            };
            let left = if self.cfg.count > 0 {
                let left = self.cfg.count - (self.next_seq - self.cfg.first_seq);
                usize::try_from(left).unwrap_or(usize::MAX)
            } else {
                usize::MAX
            };
            let room = (self.cfg.window - self.outstanding.len())
                .min(self.cfg.batch)
                .min(left);
            if room == 0 {
                return Ok(());
            }
            // Arrays stay whole: refilling each freed slot at once would
            // send arrays of one or two once the window is full, and the
            // run would measure single requests rather than arrays of
            // `batch` (the last array of a counted run may be shorter).
            let whole = self.cfg.batch.min(self.cfg.window).min(left);
            if room < whole && !self.outstanding.is_empty() {
                return Ok(());
            }
            let mut bodies = Vec::with_capacity(room);
            let mut sents = Vec::with_capacity(room);
            for _ in 0..room {
                let seq = self.next_seq;
                let set = self.cfg.plan.request(seq);
                sents.push(Sent {
                    seq,
                    channel: set.channel.unwrap_or_default(),
                    name: set.name.clone(),
                });
                bodies.push(Request::Set(set));
                self.next_seq += 1;
                self.sum.submitted += 1;
            }
            let sent = if self.cfg.batch > 1 {
                client.send_many(bodies)
            } else {
                bodies
                    .into_iter()
                    .map(|b| client.send(b))
                    .collect::<Result<Vec<u64>, _>>()
            };
            match sent {
                Ok(ids) => self.outstanding.extend(ids.into_iter().zip(sents)),
                Err(e) => {
                    // Whether a failed send reached the daemon is not
                    // certain: the requests are lost like the others (and
                    // last: no id is that high). Replies already received
                    // are read first.
                    for (i, s) in (0..).zip(sents) {
                        self.outstanding.insert(u64::MAX - i, s);
                    }
                    self.progress(&format!("send: {e}"));
                    return self.read_remaining();
                }
            }
        }
        Ok(())
    }

    /// Reads the replies already received, then drops the connection.
    fn read_remaining(&mut self) -> Result<(), Error> {
        while let Some(client) = &self.client {
            if client.has_ready() {
                self.receive()?;
                continue;
            }
            match conn::wait_readable(&client.fd(), Duration::ZERO) {
                Ok(true) => self.receive()?,
                Ok(false) | Err(_) => break,
            }
        }
        self.lose()
    }

    /// Reads one reply.
    fn receive(&mut self) -> Result<(), Error> {
        let Some(client) = &mut self.client else {
            return Ok(());
        };
        match client.recv() {
            Ok(frame) => self.answer(frame),
            Err(e) => {
                self.progress(&e.to_string());
                self.lose()
            }
        }
    }

    fn answer(&mut self, frame: ResponseFrame) -> Result<(), Error> {
        let Some(sent) = self.outstanding.remove(&frame.id) else {
            self.progress(&format!("reply to unknown request {}: ignored", frame.id));
            return Ok(());
        };
        match frame.body {
            Response::Confirmed(c) => {
                if c.channel != sent.channel {
                    self.progress(&format!(
                        "seq {} sent on channel {} confirmed on channel {}",
                        sent.seq, sent.channel, c.channel
                    ));
                }
                self.outage = None;
                self.sum.confirmed += 1;
                self.event(&Event::Confirmed {
                    seq: sent.seq,
                    channel: sent.channel,
                    name: &sent.name,
                    opid: c.opid,
                })
            }
            Response::Error(e) => {
                self.sum.refused += 1;
                self.event(&Event::Refused {
                    seq: sent.seq,
                    channel: sent.channel,
                    kind: e.kind,
                    message: &e.message,
                })?;
                match e.kind {
                    ErrorKind::NotPrimary | ErrorKind::Deposed | ErrorKind::ShuttingDown => {
                        self.progress(&format!("{}: {}", e.kind, e.message));
                        self.lose()?;
                        self.hold_until = Some(Instant::now() + REDIRECT_PAUSE);
                    }
                    ErrorKind::Busy => {
                        self.outage = None;
                        self.sum.busy += 1;
                        self.hold_until = Some(Instant::now() + BUSY_PAUSE);
                    }
                    _ => self.outage = None,
                }
                Ok(())
            }
            other => {
                self.outstanding.insert(frame.id, sent);
                self.progress(&format!("unexpected reply: {other:?}"));
                self.lose()
            }
        }
    }

    /// Drops the connection; every outstanding request is lost.
    fn lose(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        self.client = None;
        self.lost_at = Some(now);
        self.outage.get_or_insert(now);
        let lost = std::mem::take(&mut self.outstanding);
        if !lost.is_empty() {
            self.progress(&format!(
                "connection lost with {} requests unanswered",
                lost.len()
            ));
        }
        for sent in lost.values() {
            self.sum.lost += 1;
            self.event(&Event::Lost {
                seq: sent.seq,
                channel: sent.channel,
            })?;
        }
        Ok(())
    }

    fn event(&mut self, ev: &Event) -> Result<(), Error> {
        self.log.write(ev).map_err(Error::Log)
    }

    fn progress(&self, msg: &str) {
        if !self.cfg.quiet {
            eprintln!("hasync-load: {msg}");
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop against fake daemons: each connection is a Unix stream
    //! carrying length-prefixed frames, served by a thread that follows a
    //! script.

    use super::*;
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::thread;

    use hasync_ctl::{ClientError, Confirmed, CtlError, RequestFrame};

    use crate::plan::Plan;

    fn write_frame(s: &mut UnixStream, b: &[u8]) -> io::Result<()> {
        let len = u32::try_from(b.len()).expect("small");
        s.write_all(&len.to_be_bytes())?;
        s.write_all(b)
    }

    fn read_frame(s: &mut UnixStream) -> io::Result<Vec<u8>> {
        let mut len = [0; 4];
        s.read_exact(&mut len)?;
        let mut b = vec![0; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut b)?;
        Ok(b)
    }

    struct Fake {
        sock: UnixStream,
        next_id: u64,
    }

    impl Conn for Fake {
        fn send(&mut self, body: Request) -> Result<u64, ClientError> {
            let id = self.next_id;
            self.next_id += 1;
            write_frame(&mut self.sock, &RequestFrame { id, body }.encode())
                .map_err(|_| ClientError::Closed)?;
            Ok(id)
        }

        fn recv(&mut self) -> Result<ResponseFrame, ClientError> {
            let b = read_frame(&mut self.sock).map_err(|_| ClientError::Closed)?;
            ResponseFrame::decode(&b).map_err(ClientError::Malformed)
        }

        fn fd(&self) -> BorrowedFd<'_> {
            self.sock.as_fd()
        }
    }

    /// What a fake daemon does with the `n`th request (from 1) of its
    /// connection.
    #[derive(Debug, Clone, Copy)]
    enum Act {
        Confirm,
        Refuse(ErrorKind),
        /// Read it, answer nothing.
        Ignore,
        /// Close the connection without answering it.
        Close,
    }

    type Script = Box<dyn FnMut(u64) -> Act + Send>;

    fn serve(mut sock: UnixStream, mut script: Script, opid_base: u64) {
        let mut n = 0;
        while let Ok(b) = read_frame(&mut sock) {
            n += 1;
            let req = RequestFrame::decode(&b).expect("request");
            let Request::Set(set) = req.body else {
                panic!("not a set")
            };
            let body = match script(n) {
                Act::Confirm => Response::Confirmed(Confirmed {
                    channel: set.channel.expect("channel"),
                    opid: opid_base + n,
                }),
                Act::Refuse(kind) => Response::Error(CtlError {
                    kind,
                    message: "scripted".into(),
                    primary: None,
                }),
                Act::Ignore => continue,
                Act::Close => return,
            };
            let frame = ResponseFrame { id: req.id, body };
            if write_frame(&mut sock, &frame.encode()).is_err() {
                return;
            }
        }
    }

    /// Connections served by `scripts` in turn, then none.
    fn connector(
        scripts: Vec<Script>,
    ) -> impl FnMut(Instant, &mut dyn FnMut() -> bool) -> Result<Fake, Failure> {
        let mut scripts = VecDeque::from(scripts);
        let mut conns = 0;
        move |_deadline, stop| {
            if stop() {
                return Err(Failure::Stopped);
            }
            let Some(script) = scripts.pop_front() else {
                return Err(Failure::Deadline(ClientError::Closed));
            };
            conns += 1;
            let (a, b) = UnixStream::pair().expect("socketpair");
            let base = conns * 1000;
            thread::spawn(move || serve(b, script, base));
            Ok(Fake {
                sock: a,
                next_id: 1,
            })
        }
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hasync-load-{name}-{}", std::process::id()))
    }

    fn config(count: u64, stop_file: Option<PathBuf>) -> Config {
        Config {
            services: Default::default(),
            plan: Plan::new(vec![1, 2], 8, 0, "t".into(), 3).expect("valid"),
            count,
            first_seq: 1,
            duration: None,
            window: 4,
            batch: 1,
            log: None,
            reconnect: Duration::from_secs(5),
            stop_file,
            quiet: true,
        }
    }

    fn events(path: &PathBuf) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).expect("log");
        let _ = std::fs::remove_file(path);
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    /// Each request's fate, by seq: every one from 1 to `n` exactly once.
    fn fates(evs: &[serde_json::Value], n: u64) -> Vec<String> {
        let mut fate = vec![String::new(); n as usize];
        for e in evs {
            if let Some(seq) = e["seq"].as_u64() {
                let slot = &mut fate[(seq - 1) as usize];
                assert!(slot.is_empty(), "seq {seq} twice");
                *slot = e["ev"].as_str().expect("ev").to_owned();
            }
        }
        assert!(fate.iter().all(|f| !f.is_empty()), "{fate:?}");
        fate
    }

    #[test]
    fn follows_the_primary_across_losses() {
        let path = temp("losses");
        let mut log = Log::create(Some(&path)).expect("log");
        let scripts: Vec<Script> = vec![
            // Five confirmed, two unanswered, then the primary dies.
            Box::new(|n| match n {
                1..=5 => Act::Confirm,
                6 => Act::Ignore,
                _ => Act::Close,
            }),
            // A standby: refuses, and is left.
            Box::new(|_| Act::Refuse(ErrorKind::NotPrimary)),
            // The new primary: busy once, then confirms.
            Box::new(|n| match n {
                2 => Act::Refuse(ErrorKind::Busy),
                _ => Act::Confirm,
            }),
        ];
        let cfg = config(40, None);
        let (sum, res) = run_with(&cfg, &mut log, &mut connector(scripts));
        res.expect("completes");
        let evs = events(&path);
        let fate = fates(&evs, 40);
        assert_eq!(&fate[..5], ["confirmed"; 5]);
        assert_eq!(fate[5], "lost");
        assert_eq!(sum.submitted, 40);
        assert_eq!(sum.confirmed + sum.refused + sum.lost, 40);
        assert_eq!((sum.refused, sum.busy, sum.reconnects), (2, 1, 2));
        assert!(sum.lost >= 2, "{sum:?}");
        let reconnected = evs.iter().filter(|e| e["ev"] == "reconnected").count();
        assert_eq!(reconnected, 2);
        let refused: Vec<_> = evs
            .iter()
            .filter(|e| e["ev"] == "refused")
            .map(|e| e["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(refused, ["not-primary", "busy"]);
        // Confirmed lines carry the name the plan gives the seq.
        for e in evs.iter().filter(|e| e["ev"] == "confirmed") {
            let seq = e["seq"].as_u64().expect("seq");
            let channel = u32::try_from(e["channel"].as_u64().expect("channel")).expect("u32");
            assert_eq!(channel, cfg.plan.channel(seq));
            assert_eq!(e["name"], cfg.plan.name(channel, seq));
        }
    }

    #[test]
    fn first_seq_offsets_the_run_and_count_stays_a_count() {
        let path = temp("first-seq");
        let mut log = Log::create(Some(&path)).expect("log");
        let scripts: Vec<Script> = vec![Box::new(|_| Act::Confirm)];
        let cfg = Config {
            first_seq: 1_000_000,
            ..config(12, None)
        };
        let (sum, res) = run_with(&cfg, &mut log, &mut connector(scripts));
        res.expect("completes");
        assert_eq!((sum.submitted, sum.confirmed), (12, 12));
        let mut seqs: Vec<u64> = events(&path)
            .iter()
            .filter(|e| e["ev"] == "confirmed")
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1_000_000..1_000_012).collect::<Vec<_>>());
    }

    #[test]
    fn stop_file_ends_a_steady_stream() {
        let stop = temp("stop");
        let _ = std::fs::remove_file(&stop);
        let flag = stop.clone();
        let scripts: Vec<Script> = vec![Box::new(move |n| {
            if n == 25 {
                std::fs::write(&flag, b"").expect("stop file");
            }
            Act::Confirm
        })];
        let mut log = Log::create(None).expect("no log");
        let (sum, res) = run_with(
            &config(0, Some(stop.clone())),
            &mut log,
            &mut connector(scripts),
        );
        let _ = std::fs::remove_file(&stop);
        res.expect("completes");
        assert!(sum.submitted >= 25, "{sum:?}");
        assert_eq!(sum.confirmed, sum.submitted, "drained: {sum:?}");
        assert_eq!(sum.lost, 0);
    }

    #[test]
    fn no_primary_is_an_error_with_totals() {
        let mut log = Log::create(None).expect("no log");
        let (sum, res) = run_with(&config(10, None), &mut log, &mut connector(vec![]));
        assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");
        assert_eq!(sum.submitted, 0);
        // Lost once, and nobody after: also an error.
        let scripts: Vec<Script> = vec![Box::new(|_| Act::Close)];
        let (sum, res) = run_with(&config(10, None), &mut log, &mut connector(scripts));
        assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");
        assert_eq!(sum.lost, sum.submitted);
    }
}
