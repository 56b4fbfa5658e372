//! `hasync audit`: the primary compares its per-section digests with the
//! kernel's and asks the standbys to compare theirs; sections that differ
//! are repaired (`drbdadm verify` style, online).
//!
//! ```text
//! hasync audit [channel N]
//! ```
//!
//! ```text
//! channel 1 opid 40 kernel-mismatch 0x0 standbys-asked 1
//! channel 2 opid 7 kernel-mismatch 0x0 standbys-asked 1 kernel-skipped
//! ```

use std::io::{self, Write};

use hasync_ctl::{AuditChannel, AuditReply, AuditRequest, Request, Response};

use crate::daemon::{self, Daemon};
use crate::output::Format;
use crate::words::{once, unknown, Usage, Words};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// [channel N]
    #[arg(value_name = "WORDS", allow_negative_numbers = true)]
    words: Vec<String>,
}

/// What a lost connection leaves unknown.
const OUTCOME: &str = "repairs may or may not have started";

fn read_audit(words: Vec<String>) -> Result<AuditRequest, Usage> {
    let mut w = Words::new(words);
    let mut req = AuditRequest::default();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "channel" => once(&mut req.channel, "channel", w.number("channel")?)?,
            other => return unknown(other),
        }
    }
    Ok(req)
}

pub fn run(args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    let req = read_audit(args.words)?;
    match opts.call(Daemon::Primary, Request::Audit(req), Some(OUTCOME))? {
        Response::Audit(r) => out.print(&r, text),
        other => Err(daemon::unexpected("audit", &other).into()),
    }
}

fn text(w: &mut dyn Write, r: &AuditReply) -> io::Result<()> {
    r.channels.iter().try_for_each(|c| channel(w, c))
}

fn channel(w: &mut dyn Write, c: &AuditChannel) -> io::Result<()> {
    write!(
        w,
        "channel {} opid {} kernel-mismatch {:#x} standbys-asked {}",
        c.channel, c.opid, c.kernel_mismatch, c.standbys_asked
    )?;
    if c.kernel_skipped {
        write!(w, " kernel-skipped")?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn grammar() {
        assert_eq!(read_audit(w("")), Ok(AuditRequest { channel: None }));
        assert_eq!(
            read_audit(w("channel 0x10")),
            Ok(AuditRequest { channel: Some(16) })
        );
        assert!(read_audit(w("channel")).is_err());
        assert!(read_audit(w("channel 1 channel 2")).is_err());
        assert!(read_audit(w("section 1")).is_err());
    }

    #[test]
    fn lines() {
        let r = AuditReply {
            channels: vec![
                AuditChannel {
                    channel: 1,
                    opid: 40,
                    kernel_mismatch: 0,
                    kernel_skipped: false,
                    standbys_asked: 1,
                },
                AuditChannel {
                    channel: 2,
                    opid: 7,
                    kernel_mismatch: 0x81,
                    kernel_skipped: true,
                    standbys_asked: 0,
                },
            ],
        };
        let mut buf = Vec::new();
        text(&mut buf, &r).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            "channel 1 opid 40 kernel-mismatch 0x0 standbys-asked 1\n\
             channel 2 opid 7 kernel-mismatch 0x81 standbys-asked 0 kernel-skipped\n"
        );
    }
}
