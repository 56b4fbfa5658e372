//! `hasync tcp`: the control API's TCP face as the daemon on this node
//! sees it (with `--connect`, as the primary sees it).
//!
//! ```text
//! hasync tcp [show]
//! ```
//!
//! ```text
//! tcp 10.77.0.100:7700 node cu-a role primary up round 4211 held-by 1 lag 12ms
//!     client 10.77.0.10:40312 next 5572 owed-in 0 owed-out 37
//! refused source 0 unauthenticated 1 forged 2 replayed 2 too-long 0
//! ```
//!
//! On a primary the connections are those it serves, and `lag` is the
//! time since the standbys last held a round of them. On a standby they
//! are the ones it would rebuild if it took over now, as of `round`. See
//! `docs/tcp.md`.

use std::io::{self, Write};

use clap::Subcommand;
use hasync_ctl::{Request, Response, TcpReply};

use crate::daemon::{self, Daemon};
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the listener, the connections and the refusals (the default).
    Show,
}

pub fn run(args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    let Command::Show = args.command.unwrap_or(Command::Show);
    match opts.call(Daemon::Local, Request::Tcp, None)? {
        Response::Tcp(r) => out.print(&r, text),
        other => Err(daemon::unexpected("tcp", &other).into()),
    }
}

fn text(w: &mut dyn Write, r: &TcpReply) -> io::Result<()> {
    let Some(listen) = &r.listen else {
        return writeln!(
            w,
            "tcp none node {} role {} (no [tcp] in its config)",
            r.node, r.role
        );
    };
    write!(
        w,
        "tcp {listen} node {} role {} {} round {}",
        r.node,
        r.role,
        if r.up { "up" } else { "down" },
        r.round
    )?;
    if r.up {
        write!(w, " held-by {}", r.holders)?;
    }
    match r.lag_ms {
        Some(ms) => writeln!(w, " lag {ms}ms")?,
        None => writeln!(w)?,
    }
    for c in &r.connections {
        writeln!(
            w,
            "    client {} next {} owed-in {} owed-out {}",
            c.client, c.next, c.owed_in, c.owed_out
        )?;
    }
    let f = &r.refused;
    writeln!(
        w,
        "refused source {} unauthenticated {} forged {} replayed {} too-long {}",
        f.source, f.unauthenticated, f.forged, f.replayed, f.too_long
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_ctl::{TcpConnStatus, TcpRefused};

    #[test]
    fn lines() {
        let r = TcpReply {
            node: "cu-a".into(),
            role: "primary".into(),
            listen: Some("10.77.0.100:7700".into()),
            up: true,
            round: 4211,
            holders: 1,
            lag_ms: Some(12),
            connections: vec![TcpConnStatus {
                client: "10.77.0.10:40312".into(),
                next: 5572,
                owed_in: 0,
                owed_out: 37,
            }],
            refused: TcpRefused {
                forged: 2,
                ..TcpRefused::default()
            },
        };
        let mut buf = Vec::new();
        text(&mut buf, &r).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            "tcp 10.77.0.100:7700 node cu-a role primary up round 4211 held-by 1 lag 12ms\n    \
             client 10.77.0.10:40312 next 5572 owed-in 0 owed-out 37\n\
             refused source 0 unauthenticated 0 forged 2 replayed 0 too-long 0\n"
        );
        let mut buf = Vec::new();
        text(&mut buf, &TcpReply::default()).expect("writes");
        assert_eq!(buf, b"tcp none node  role  (no [tcp] in its config)\n");
    }
}
