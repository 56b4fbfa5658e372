//! The service manager's notification socket (systemd's `Type=notify`).
//!
//! When `NOTIFY_SOCKET` names a socket, hasyncd tells the manager:
//! `READY=1` the first time the unit serves (primary, or a standby hot on
//! every channel: before that a start has not done its job), a `STATUS=`
//! line whenever its phase changes, `WATCHDOG=1` at half the period the
//! manager asked for (`WATCHDOG_USEC`), and `RELOADING=1` … `READY=1`
//! around a reload, `STOPPING=1` at the end. Without the variable nothing
//! is sent. A datagram the manager does not take is dropped: the manager
//! is a witness, never a dependency of replication. The daemon's loop
//! wakes at least every 100 ms, so pings are on time for any watchdog
//! period of 200 ms or more.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use hasync_engine::node::Phase;

/// What the daemon last told the manager, and where to tell it.
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    /// Half the manager's watchdog period, when it asked for pings.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
    ready: bool,
    status: String,
    /// The phase and epoch `status` says (checked each round of the loop
    /// without formatting anything).
    told: Option<(Phase, u64)>,
}

impl Notifier {
    /// The manager's socket from the environment; `None` when there is
    /// none (run by hand) or it cannot be used (then with a warning).
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_str().unwrap_or_default().to_owned();
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
            None => SocketAddr::from_pathname(&path),
        };
        let sock = UnixDatagram::unbound().and_then(|s| addr.map(|a| (s, a)));
        let (sock, addr) = match sock {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(socket = %path, error = %e, "NOTIFY_SOCKET unusable; not notifying the service manager");
                return None;
            }
        };
        Some(Notifier {
            sock,
            addr,
            ping_every: watchdog_period().map(|p| p / 2),
            last_ping: None,
            ready: false,
            status: String::new(),
            told: None,
        })
    }

    fn send(&self, msg: &str) {
        if let Err(e) = self.sock.send_to_addr(msg.as_bytes(), &self.addr) {
            tracing::debug!(error = %e, "service manager notification not sent");
        }
    }

    /// The unit's phase now: a new status line when it changed, `READY=1`
    /// the first time it serves.
    pub fn phase(&mut self, phase: Phase, epoch: u64) {
        if self.told == Some((phase, epoch)) {
            return;
        }
        self.told = Some((phase, epoch));
        let status = format!("{}, epoch {epoch}", phase.as_str());
        let mut msg = format!("STATUS={status}");
        if !self.ready && phase.is_serving() {
            self.ready = true;
            msg.insert_str(0, "READY=1\n");
        }
        self.send(&msg);
        self.status = status;
    }

    /// A watchdog ping when one is due.
    pub fn tick(&mut self, now: Instant) {
        let Some(every) = self.ping_every else {
            return;
        };
        if self
            .last_ping
            .map_or(true, |t| now.duration_since(t) >= every)
        {
            self.send("WATCHDOG=1");
            self.last_ping = Some(now);
        }
    }

    /// A reload starts (the manager waits for the next `READY=1`).
    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    /// A reload ended, applied or refused: `why` says which. `READY=1`
    /// ends the manager's reload, but only once the unit serves: before
    /// that it would mean the start was done.
    pub fn reloaded(&self, why: &str) {
        let ready = if self.ready { "READY=1\n" } else { "" };
        self.send(&format!("{ready}STATUS={}; {why}", self.status));
    }

    /// The daemon is stopping.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }
}

/// The manager's watchdog period, if it asked for pings from this process.
fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// `CLOCK_MONOTONIC` in microseconds, as the manager reads it.
fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| {
            let us = i128::from(t.tv_sec()) * 1_000_000 + i128::from(t.tv_nsec()) / 1_000;
            u64::try_from(us).unwrap_or(0)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notifier and the manager's end, bound to an abstract name as
    /// systemd's may be.
    fn pair() -> (Notifier, UnixDatagram) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("hasyncd-notify-test-{}-{n}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
        let b = UnixDatagram::bind_addr(&addr).expect("bind");
        let a = UnixDatagram::unbound().expect("socket");
        let n = Notifier {
            sock: a,
            addr,
            ping_every: Some(Duration::from_millis(500)),
            last_ping: None,
            ready: false,
            status: String::new(),
            told: None,
        };
        b.set_nonblocking(true).expect("nonblocking");
        (n, b)
    }

    fn recv_all(s: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = s.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn ready_once_when_serving_status_on_change() {
        let (mut n, peer) = pair();
        n.phase(Phase::Waiting, 0);
        n.phase(Phase::Waiting, 0);
        n.phase(Phase::Syncing, 3);
        n.phase(Phase::Hot, 3);
        n.phase(Phase::Electing, 3);
        n.phase(Phase::Primary, 4);
        assert_eq!(
            recv_all(&peer),
            [
                "STATUS=standby, looking for a primary, epoch 0",
                "STATUS=standby, bulk sync, epoch 3",
                "READY=1\nSTATUS=standby, hot, epoch 3",
                "STATUS=standby, electing, epoch 3",
                "STATUS=primary, epoch 4",
            ]
        );
    }

    #[test]
    fn watchdog_pings_at_its_period() {
        let (mut n, peer) = pair();
        let t = Instant::now();
        n.tick(t);
        n.tick(t + Duration::from_millis(100));
        n.tick(t + Duration::from_millis(500));
        assert_eq!(recv_all(&peer), ["WATCHDOG=1", "WATCHDOG=1"]);
    }

    #[test]
    fn a_reload_before_the_unit_serves_does_not_say_ready() {
        let (mut n, peer) = pair();
        n.phase(Phase::Syncing, 2);
        n.reloading();
        n.reloaded("reload: unchanged");
        let got = recv_all(&peer);
        assert_eq!(
            got[2],
            "STATUS=standby, bulk sync, epoch 2; reload: unchanged"
        );
        assert!(!got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    }

    #[test]
    fn reload_brackets_with_ready() {
        let (mut n, peer) = pair();
        n.phase(Phase::Primary, 2);
        n.reloading();
        n.reloaded("log_level applied");
        let got = recv_all(&peer);
        assert!(
            got[1].starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{got:?}"
        );
        assert_eq!(
            got[2],
            "READY=1\nSTATUS=primary, epoch 2; log_level applied"
        );
    }
}
