//! `hasync stats`: the module's counters on one screen (`conntrackd -s`
//! style).

use std::io::{self, Write};

use hasync_nl::{Client, Stats};

use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, out: Format) -> crate::Result {
    let stats = Client::connect()?.stats()?;
    out.print(&stats, text)
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
    use hasync_nl::{CmdStats, ErrStats};

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
