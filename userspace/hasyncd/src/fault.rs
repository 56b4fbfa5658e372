//! Fault injection for the end-to-end tests: kill the daemon with SIGKILL
//! at a chosen moment of the replication protocol, or make the kernel's
//! copy differ from the daemons' behind their back (for the audit).
//!
//! Compiled in only with the `fault-injection` feature (the test build,
//! `target/release/hasyncd-fault`); without it every hook is a constant
//! `false` the optimiser removes. Armed by the environment:
//!
//! ```text
//! HASYNCD_FAULT=POINT[@N]     die at the N-th time POINT is reached (default 1;
//!                             a batch of K updates or ACKs reaches it K times)
//! HASYNCD_FAULT=kernel-diverge@N
//!                             the N-th update reaches the kernel altered
//! ```
//!
//! An unknown point is refused at start-up, so a typo cannot turn a fault
//! test into a plain run.

use hasync_engine::kernel::KernelCmd;
use hasync_engine::table::Op;

/// Where the daemon can be stopped (or, for one point, misled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Primary: an update batch reached the kernel, the standby has not
    /// been sent it yet.
    AfterKernelSend,
    /// Primary: an update was sent to the standby, the kernel has not
    /// been sent it yet.
    AfterStandbySend,
    /// Primary: the kernel ACKed, the ACK was not forwarded yet.
    BeforeAckForward,
    /// New primary: part of the takeover replay reached the kernel.
    MidReplay,
    /// Primary: a bulk-sync chunk was sent, the sync is not complete.
    MidBulkSync,
    /// Standby: a bulk-sync chunk arrived, the sync is not complete (the
    /// N-th chunk: a sync of C channels of S sections has at least C x S).
    MidSyncReceive,
    /// Primary: the N-th update to the kernel reaches it with one record's
    /// MTU changed, which neither the engine nor any standby knows. Not a
    /// kill: the daemon goes on, and the audit must find and repair it.
    KernelDiverge,
}

impl Point {
    /// Every point with its name.
    pub const ALL: [(Point, &'static str); 7] = [
        (Point::AfterKernelSend, "after-kernel-send"),
        (Point::AfterStandbySend, "after-standby-send"),
        (Point::BeforeAckForward, "before-ack-forward"),
        (Point::MidReplay, "mid-replay"),
        (Point::MidBulkSync, "mid-bulk-sync"),
        (Point::MidSyncReceive, "mid-sync-receive"),
        (Point::KernelDiverge, "kernel-diverge"),
    ];

    /// The point's name.
    pub fn name(self) -> &'static str {
        Point::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("?", |(_, n)| n)
    }
}

/// The armed fault, if any.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Option<(Point, u64)>,
    hits: u64,
}

impl Faults {
    /// Parse `HASYNCD_FAULT`'s value.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, n) = match spec.split_once('@') {
            Some((p, n)) => (
                p,
                n.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("HASYNCD_FAULT: bad count \"{n}\""))?,
            ),
            None => (spec, 1),
        };
        let point = Point::ALL
            .iter()
            .find(|(_, s)| *s == name)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = Point::ALL.iter().map(|(_, s)| *s).collect();
                format!(
                    "HASYNCD_FAULT: unknown point \"{name}\" (one of {})",
                    names.join(", ")
                )
            })?;
        Ok(Faults {
            armed: Some((point, n)),
            hits: 0,
        })
    }

    /// From the environment (unset or empty: none); refused when set
    /// without the feature.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("HASYNCD_FAULT") {
            Err(_) => Ok(Faults::default()),
            Ok(s) if s.is_empty() => Ok(Faults::default()),
            Ok(_) if !cfg!(feature = "fault-injection") => Err(
                "HASYNCD_FAULT is set but this hasyncd was built without the fault-injection feature"
                    .into(),
            ),
            Ok(spec) => Faults::parse(&spec),
        }
    }

    /// True if `point` is the armed one (the caller may change its order
    /// of work to make the point reachable).
    pub fn armed(&self, point: Point) -> bool {
        cfg!(feature = "fault-injection") && matches!(self.armed, Some((p, _)) if p == point)
    }

    /// Updates about to go to the kernel: with `kernel-diverge@N` armed,
    /// the N-th update's first record set gets another MTU, once.
    pub fn diverge(&mut self, cmds: &mut [KernelCmd]) {
        if !self.armed(Point::KernelDiverge) {
            return;
        }
        let Some((_, due)) = self.armed else { return };
        for cmd in cmds {
            let KernelCmd::Update(u) = cmd else { continue };
            self.hits += 1;
            if self.hits != due {
                continue;
            }
            let rec = u.ops.iter_mut().find_map(|op| match op {
                Op::Set(r) => Some(r),
                _ => None,
            });
            if let Some(r) = rec {
                r.mtu = if r.mtu > 1280 { r.mtu - 1 } else { r.mtu + 1 };
                tracing::warn!(
                    channel = u.channel,
                    opid = u.opid,
                    dev = %String::from_utf8_lossy(r.name.as_bytes()),
                    mtu = r.mtu,
                    "fault injection: the kernel gets another MTU than the standbys"
                );
            } else {
                // No record to change here: the next update's.
                self.hits -= 1;
            }
        }
    }

    /// The daemon reached `point`: die here if it is armed and due.
    pub fn hit(&mut self, point: Point) {
        self.hit_times(point, 1);
    }

    /// The daemon reached `point` for `n` things at once (a batch of `n`
    /// updates counts `n`, so `POINT@N` means about N updates whatever the
    /// batching): die here if it is armed and due.
    pub fn hit_times(&mut self, point: Point, n: u64) {
        if !self.armed(point) || n == 0 {
            return;
        }
        self.hits += n;
        if matches!(self.armed, Some((_, n)) if self.hits >= n) {
            tracing::warn!(point = point.name(), "fault injection: SIGKILL");
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_counts() {
        let f = Faults::parse("mid-replay@3").expect("valid");
        assert_eq!(f.armed, Some((Point::MidReplay, 3)));
        assert_eq!(
            Faults::parse("after-kernel-send").expect("valid").armed,
            Some((Point::AfterKernelSend, 1))
        );
        for bad in [
            "",
            "mid",
            "mid-replay@0",
            "mid-replay@x",
            "after-kernel-send@",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad}");
        }
        for (p, n) in Point::ALL {
            assert_eq!(p.name(), n);
        }
    }
}
