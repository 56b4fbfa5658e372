//! `hasync switchover`: hand the primary role to a hot standby, which
//! takes over without replay (the planned counterpart of a failover).
//!
//! ```text
//! hasync switchover
//! ```

use std::io::{self, Write};

use hasync_ctl::{Request, Response, SwitchoverReply};

use crate::daemon::{self, Daemon};
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// What a lost connection leaves unknown.
const OUTCOME: &str = "the switchover may or may not have started";

pub fn run(_args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    match opts.call(Daemon::Primary, Request::Switchover, Some(OUTCOME))? {
        Response::Switchover(r) => out.print(&r, text),
        other => Err(daemon::unexpected("switchover", &other).into()),
    }
}

fn text(w: &mut dyn Write, r: &SwitchoverReply) -> io::Result<()> {
    writeln!(w, "switchover to {}", r.to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line() {
        let mut buf = Vec::new();
        text(&mut buf, &SwitchoverReply { to: "cu-b".into() }).expect("writes");
        assert_eq!(buf, b"switchover to cu-b\n");
    }
}
