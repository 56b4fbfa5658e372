//! `hasync stats [kernel|daemon]`: counters on one screen (`conntrackd -s`
//! style): the module's per command and error class, or the daemon's on
//! this node.
//!
//! ```text
//! daemon cu-1 role primary takeovers 1 audit-mismatches 0
//! primary sent 1200 confirmed 1198 resent 0 pending 2 syncs-started 1 sections-repaired 0 standbys 1 hot 1
//! connections peer-drops 0 leader-connects 1
//! refused standbys 0 control 0
//! ```

use std::io::{self, Write};

use hasync_ctl::{Counters, Request, Response};
use hasync_nl::{Client, Stats};

use crate::daemon::{self, Daemon};
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whose counters.
    #[arg(value_enum, default_value_t = Which::Kernel)]
    which: Which,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Which {
    /// The kernel module's, per command and error class.
    Kernel,
    /// The daemon's on this node: updates, bulk syncs, audits,
    /// connections, takeovers, refusals.
    Daemon,
}

pub fn run(args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    match args.which {
        Which::Kernel => {
            let stats = Client::connect()?.stats()?;
            out.print(&stats, text)
        }
        Which::Daemon => match opts.call(Daemon::Local, Request::Counters, None)? {
            Response::Counters(c) => out.print(&c, daemon_text),
            other => Err(daemon::unexpected("counters", &other).into()),
        },
    }
}

fn daemon_text(w: &mut dyn Write, c: &Counters) -> io::Result<()> {
    writeln!(
        w,
        "daemon {} role {} takeovers {} audit-mismatches {}",
        c.node, c.role, c.takeovers, c.audit_mismatches
    )?;
    if let Some(p) = &c.primary {
        writeln!(
            w,
            "primary sent {} confirmed {} resent {} pending {} syncs-started {} \
             sections-repaired {} standbys {} hot {}",
            p.sent,
            p.confirmed,
            p.resent,
            p.pending,
            p.syncs_started,
            p.sections_repaired,
            p.standbys,
            p.standbys_hot
        )?;
    }
    if let Some(s) = &c.standby {
        writeln!(
            w,
            "standby applied {} dropped {} overflows {} syncs {} pending {} channels {} hot {}",
            s.applied, s.dropped, s.overflows, s.syncs, s.pending, s.channels, s.channels_hot
        )?;
    }
    writeln!(
        w,
        "connections peer-drops {} leader-connects {}",
        c.peer_drops, c.leader_connects
    )?;
    writeln!(
        w,
        "refused standbys {} control {}",
        c.refused.standbys, c.refused.control
    )
}

fn text(w: &mut dyn Write, s: &Stats) -> io::Result<()> {
    writeln!(w, "commands:{:>22}{:>16}", "ok", "failed")?;
    for c in &s.cmds {
        let name = c
            .name
            .map_or_else(|| format!("cmd-{}", c.cmd), str::to_owned);
        writeln!(w, "  {name:<16}{:>14}{:>16}", c.ok, c.failed)?;
    }
    writeln!(w, "errors:")?;
    for e in &s.errors {
        let name = e
            .name
            .map_or_else(|| format!("class-{}", e.class), str::to_owned);
        writeln!(w, "  {name:<16}{:>14}", e.count)?;
    }
    writeln!(w, "totals:")?;
    writeln!(w, "  {:<16}{:>14}", "acks published", s.acks_published)?;
    writeln!(w, "  {:<16}{:>14}", "ops applied", s.ops_applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_ctl::{PrimaryCounters, Refused};
    use hasync_nl::{CmdStats, ErrStats};

    #[test]
    fn daemon_counters_on_one_screen() {
        let c = Counters {
            node: "cu-1".into(),
            role: "primary".into(),
            primary: Some(PrimaryCounters {
                sent: 12,
                confirmed: 11,
                pending: 1,
                standbys: 1,
                standbys_hot: 1,
                ..PrimaryCounters::default()
            }),
            takeovers: 1,
            leader_connects: 2,
            refused: Refused {
                standbys: 3,
                control: 4,
            },
            ..Counters::default()
        };
        let mut out = Vec::new();
        daemon_text(&mut out, &c).expect("writes");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "daemon cu-1 role primary takeovers 1 audit-mismatches 0\n\
             primary sent 12 confirmed 11 resent 0 pending 1 syncs-started 0 sections-repaired 0 standbys 1 hot 1\n\
             connections peer-drops 0 leader-connects 2\n\
             refused standbys 3 control 4\n"
        );
    }

    #[test]
    fn table() {
        let s = Stats {
            cmds: vec![
                CmdStats {
                    cmd: 5,
                    name: Some("update"),
                    ok: 123456,
                    failed: 2,
                },
                CmdStats {
                    cmd: 99,
                    name: None,
                    ok: 1,
                    failed: 0,
                },
            ],
            errors: vec![ErrStats {
                class: 1,
                name: Some("gap"),
                count: 2,
            }],
            acks_published: 123456,
            ops_applied: 200000,
        };
        let mut buf = Vec::new();
        text(&mut buf, &s).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            "commands:                    ok          failed\n\
             \x20 update                  123456               2\n\
             \x20 cmd-99                       1               0\n\
             errors:\n\
             \x20 gap                          2\n\
             totals:\n\
             \x20 acks published          123456\n\
             \x20 ops applied             200000\n"
        );
    }
}
