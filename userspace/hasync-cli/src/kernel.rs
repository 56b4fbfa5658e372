//! `hasync kernel`: low-level commands that drive the module directly, as
//! the primary and standby daemons do; the selftests use them.
//!
//! ```text
//! hasync kernel update channel N epoch E opid O [cookie C]
//!        [set dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr P/L]... [desc S] [speed MBPS]]...
//!        [del dev NAME]...
//! hasync kernel claim epoch E (all | id N...) [brief]
//! hasync kernel cookies channel N after OPID [entries]
//! hasync kernel replay channel N epoch E opid O sections MASK
//!        (set RECORD... | from FILE | empty)
//! ```
//!
//! `claim` lists every claimed channel with its register; `brief` only
//! counts them, for any number of channels (the full list fits one reply
//! up to about 1 600). `cookies` gives the OR of the sections touched above
//! OPID; `entries` lists the cookie log's entries instead, with their
//! epochs.
//!
//! `update` computes the cookie from the channel's section count unless
//! `cookie` is given (to test the kernel's check). `replay` replaces the
//! sections' records with those given as `set RECORD` words, or read from
//! FILE one per line (`[set] dev NAME …`; `#` comments; `-` is stdin), or
//! with none when it says `empty`: a destructive command never takes its
//! data from a stdin it was not told to read.

use std::io::{self, BufRead};

use clap::Subcommand;
use hasync_model::{cookie_of, IfRecord, SectionCount};
use hasync_nl::{
    ClaimTarget, Claimed, Client, CookieLog, Cookies, ReplayBegin, ReplayDone, Update,
};
use serde::Serialize;

use crate::output::Format;
use crate::record::{read_ops, read_record};
use crate::words::{once, split_line, unknown, usage, Usage, Words};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply one update: channel N epoch E opid O [cookie C] [set RECORD | del dev NAME]...
    Update {
        /// channel N epoch E opid O [cookie C] OPS...
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Raise owner epochs: epoch E (all | id N...) [brief].
    Claim {
        /// epoch E (all | id N...) [brief]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Sections touched above an opid: channel N after OPID [entries].
    Cookies {
        /// channel N after OPID [entries]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Replace sections: channel N epoch E opid O sections MASK (set RECORD... | from FILE | empty)
    Replay {
        /// channel N epoch E opid O sections MASK (set RECORD... | from FILE | empty)
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
}

/// Header keywords of `update` and `replay`, read up to the first `set` /
/// `del`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Header {
    channel: Option<u32>,
    epoch: Option<u32>,
    opid: Option<u64>,
    cookie: Option<u64>,
    sections: Option<u64>,
}

fn read_header(w: &mut Words, allowed: &[&str]) -> Result<Header, Usage> {
    let mut h = Header::default();
    while let Some(word) = w
        .peek()
        .filter(|p| !matches!(*p, "set" | "del" | "from" | "empty"))
    {
        let word = word.to_owned();
        w.next_word();
        if !allowed.contains(&word.as_str()) {
            return unknown(&word);
        }
        match word.as_str() {
            "channel" => once(&mut h.channel, "channel", w.number("channel")?)?,
            "epoch" => once(&mut h.epoch, "epoch", w.number("epoch")?)?,
            "opid" => once(&mut h.opid, "opid", w.number("opid")?)?,
            "cookie" => once(&mut h.cookie, "cookie", w.number("cookie")?)?,
            "sections" => once(&mut h.sections, "sections", w.number("sections")?)?,
            other => return unknown(other),
        }
    }
    Ok(h)
}

fn need<T>(v: Option<T>, key: &str) -> Result<T, Usage> {
    match v {
        Some(v) => Ok(v),
        None => usage(format!("missing \"{key}\"")),
    }
}

/// An update as the words describe it; `cookie` is `None` when it is to be
/// computed.
fn read_update(words: Vec<String>) -> Result<(Update, bool), Usage> {
    let mut w = Words::new(words);
    let h = read_header(&mut w, &["channel", "epoch", "opid", "cookie"])?;
    let ops = read_ops(&mut w)?;
    let u = Update {
        channel: need(h.channel, "channel N")?,
        epoch: need(h.epoch, "epoch E")?,
        opid: need(h.opid, "opid O")?,
        cookie: h.cookie.unwrap_or(0),
        ops,
    };
    Ok((u, h.cookie.is_none()))
}

/// A claim as the words ask it.
#[derive(Debug, PartialEq, Eq)]
struct ClaimArgs {
    epoch: u32,
    target: ClaimTarget,
    brief: bool,
}

fn read_claim(words: Vec<String>) -> Result<ClaimArgs, Usage> {
    let mut w = Words::new(words);
    let mut epoch = None;
    let mut all = false;
    let mut brief = false;
    let mut ids = Vec::new();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "epoch" => once(&mut epoch, "epoch", w.number("epoch")?)?,
            "all" => all = true,
            "id" => ids.push(w.number("id")?),
            "brief" => brief = true,
            other => return unknown(other),
        }
    }
    let target = match (all, ids.is_empty()) {
        (true, true) => ClaimTarget::All,
        (false, false) => ClaimTarget::Ids(ids),
        (true, false) => return usage("\"all\" and \"id\" exclude each other"),
        (false, true) => return usage("missing \"all\" or \"id N\""),
    };
    Ok(ClaimArgs {
        epoch: need(epoch, "epoch E")?,
        target,
        brief,
    })
}

/// channel, after-opid, and whether to list the log's entries.
fn read_cookies(words: Vec<String>) -> Result<(u32, u64, bool), Usage> {
    let mut w = Words::new(words);
    let (mut channel, mut after, mut entries) = (None, None, false);
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "channel" => once(&mut channel, "channel", w.number("channel")?)?,
            "after" => once(&mut after, "after", w.number("after")?)?,
            "entries" => entries = true,
            other => return unknown(other),
        }
    }
    Ok((
        need(channel, "channel N")?,
        need(after, "after OPID")?,
        entries,
    ))
}

/// Where a replay's records come from. A replay replaces whole sections,
/// so the records are always named: never an empty list read from a stdin
/// nobody meant to give.
#[derive(Debug, PartialEq)]
enum Records {
    /// `set RECORD`... on the command line.
    Given(Vec<IfRecord>),
    /// `from FILE`, one record per line; `from -` is stdin.
    From(String),
    /// `empty`: the sections are cleared.
    Empty,
}

/// The replay's header and where its records come from.
fn read_replay(words: Vec<String>) -> Result<(ReplayBegin, Records), Usage> {
    let mut w = Words::new(words);
    let h = read_header(&mut w, &["channel", "epoch", "opid", "sections"])?;
    let begin = ReplayBegin {
        channel: need(h.channel, "channel N")?,
        epoch: need(h.epoch, "epoch E")?,
        opid: need(h.opid, "opid O")?,
        sections: need(h.sections, "sections MASK")?,
    };
    let mut ifaces = Vec::new();
    let mut source = None;
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "set" if source.is_none() => ifaces.push(read_record(&mut w, &["set"])?),
            "from" | "empty" if ifaces.is_empty() && source.is_none() => {
                source = Some(if word == "from" {
                    Records::From(w.text("from")?)
                } else {
                    Records::Empty
                });
            }
            "set" | "from" | "empty" => {
                return usage("give the records one way: set RECORD..., from FILE or empty")
            }
            other => return unknown(other),
        }
    }
    match source {
        Some(s) => Ok((begin, s)),
        None if !ifaces.is_empty() => Ok((begin, Records::Given(ifaces))),
        None => usage(
            "a replay replaces the sections' records: give them as set RECORD..., \
             from FILE (from - for stdin), or say empty to clear the sections",
        ),
    }
}

/// Records from `input` (named `source` in errors), one per line.
fn read_records(input: impl BufRead, source: &str) -> crate::Result<Vec<IfRecord>> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        let mut words = split_line(&line)?;
        if words.first().is_some_and(|w| w == "set") {
            words.remove(0);
        }
        if words.is_empty() {
            continue;
        }
        let rec = read_record(&mut Words::new(words), &[])
            .map_err(|e| Usage(format!("{source} line {}: {e}", n + 1)))?;
        out.push(rec);
    }
    Ok(out)
}

#[derive(Serialize)]
struct CookiesOut {
    channel: u32,
    #[serde(flatten)]
    cookies: Cookies,
    #[serde(skip_serializing_if = "Option::is_none")]
    register: Option<u64>,
}

#[derive(Serialize)]
struct BriefClaimOut {
    claimed: u32,
    epoch: u32,
}

pub fn run(args: Args, out: Format) -> crate::Result {
    match args.command {
        Command::Update { words } => {
            let (mut u, compute) = read_update(words)?;
            let mut client = Client::connect()?;
            if compute {
                // An absent channel is the kernel's to report, on the update.
                let sections = match client.channel(u.channel) {
                    Ok(c) => SectionCount::new(c.sections)
                        .map_err(|e| format!("channel {}: {e}", u.channel))?,
                    Err(e) if e.is_not_found() => SectionCount::MAX,
                    Err(e) => return Err(e.into()),
                };
                u.cookie = cookie_of(&u.ops, sections);
            }
            let ack = client.update(&u)?;
            out.print(&ack, |w, a| {
                let dup = if a.duplicate { " duplicate" } else { "" };
                writeln!(
                    w,
                    "ack channel {} opid {} cookie {:#x}{dup}",
                    a.channel, a.opid, a.cookie
                )
            })
        }
        Command::Claim { words } => {
            let c = read_claim(words)?;
            let mut client = Client::connect()?;
            if c.brief {
                let claimed = client.claim_brief(c.epoch, &c.target)?;
                let o = BriefClaimOut {
                    claimed,
                    epoch: c.epoch,
                };
                return out.print(&o, |w, o| {
                    writeln!(w, "claimed {} channels epoch {}", o.claimed, o.epoch)
                });
            }
            let claimed = client.claim(c.epoch, &c.target)?;
            out.print(&claimed, |w, cs: &Vec<Claimed>| {
                cs.iter().try_for_each(|c| {
                    write!(
                        w,
                        "claimed channel {} register {} epoch {}",
                        c.id, c.register, c.epoch
                    )?;
                    match c.register_epoch {
                        Some(e) => writeln!(w, " register-epoch {e}"),
                        None => writeln!(w),
                    }
                })
            })
        }
        Command::Cookies { words } => {
            let (channel, after, entries) = read_cookies(words)?;
            let mut client = Client::connect()?;
            if entries {
                let log = client.cookie_log(channel, after)?;
                return out.print(&log, |w, l: &CookieLog| {
                    for e in &l.entries {
                        writeln!(
                            w,
                            "opid {} epoch {} sections {:#x}",
                            e.opid, e.epoch, e.sections
                        )?;
                    }
                    let short = if l.log_short { " log-short" } else { "" };
                    writeln!(w, "channel {channel} register {}{short}", l.register)
                });
            }
            let r = client.cookies(channel, after)?;
            let o = CookiesOut {
                channel,
                cookies: r.cookies,
                register: r.register,
            };
            out.print(&o, |w, c| {
                match c.cookies {
                    Cookies::Cookie(v) => write!(w, "channel {} cookie {v:#x}", c.channel)?,
                    Cookies::LogShort => write!(w, "channel {} log-short", c.channel)?,
                }
                match c.register {
                    Some(r) => writeln!(w, " register {r}"),
                    None => writeln!(w),
                }
            })
        }
        Command::Replay { words } => {
            let (begin, source) = read_replay(words)?;
            let ifaces = match source {
                Records::Given(ifaces) => ifaces,
                Records::Empty => Vec::new(),
                Records::From(path) if path == "-" => read_records(io::stdin().lock(), "stdin")?,
                Records::From(path) => {
                    let f = std::fs::File::open(&path)
                        .map_err(|e| Usage(format!("from {path}: {e}")))?;
                    read_records(io::BufReader::new(f), &path)?
                }
            };
            let done = Client::connect()?.replay(&begin, &ifaces)?;
            out.print(&done, |w, d: &ReplayDone| {
                writeln!(
                    w,
                    "replayed channel {} opid {} sections {:#x}",
                    d.channel, d.opid, d.sections
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn update_grammar() {
        let (u, compute) =
            read_update(w("channel 1 epoch 2 opid 3 set dev a up del dev b")).expect("valid");
        assert!(compute);
        assert_eq!((u.channel, u.epoch, u.opid), (1, 2, 3));
        assert_eq!(u.ops.len(), 2);
        let (u, compute) = read_update(w("opid 3 epoch 2 channel 1 cookie 0x10")).expect("valid");
        assert!(!compute);
        assert_eq!(u.cookie, 16);
        assert!(u.ops.is_empty());
        assert_eq!(
            read_update(w("channel 1 epoch 2 set dev a")),
            Err(Usage("missing \"opid O\"".into()))
        );
        assert_eq!(
            read_update(w("channel 1 sections 4")),
            Err(Usage("unknown keyword \"sections\"".into()))
        );
    }

    #[test]
    fn claim_grammar() {
        let claim = |epoch, target, brief| ClaimArgs {
            epoch,
            target,
            brief,
        };
        assert_eq!(
            read_claim(w("epoch 3 all")),
            Ok(claim(3, ClaimTarget::All, false))
        );
        assert_eq!(
            read_claim(w("epoch 3 all brief")),
            Ok(claim(3, ClaimTarget::All, true))
        );
        assert_eq!(
            read_claim(w("id 1 id 2 epoch 3")),
            Ok(claim(3, ClaimTarget::Ids(vec![1, 2]), false))
        );
        assert!(read_claim(w("epoch 3")).is_err());
        assert!(read_claim(w("epoch 3 all id 1")).is_err());
        assert!(read_claim(w("all")).is_err());
    }

    #[test]
    fn cookies_grammar() {
        assert_eq!(read_cookies(w("channel 1 after 5")), Ok((1, 5, false)));
        assert_eq!(
            read_cookies(w("channel 1 after 5 entries")),
            Ok((1, 5, true))
        );
        assert!(read_cookies(w("channel 1")).is_err());
    }

    #[test]
    fn replay_grammar_and_sources() {
        let (b, src) =
            read_replay(w("channel 1 epoch 2 opid 9 sections 0x11 empty")).expect("valid");
        assert_eq!(
            b,
            ReplayBegin {
                channel: 1,
                epoch: 2,
                opid: 9,
                sections: 0x11
            }
        );
        assert_eq!(src, Records::Empty);
        let (_, src) = read_replay(w("channel 1 epoch 2 opid 9 sections 1 from -")).expect("valid");
        assert_eq!(src, Records::From("-".into()));
        let (_, src) = read_replay(w(
            "channel 1 epoch 2 opid 9 sections 1 set dev a up set dev b",
        ))
        .expect("valid");
        let Records::Given(given) = src else {
            panic!("records given")
        };
        let names: Vec<_> = given.into_iter().map(|i| i.name.to_string()).collect();
        assert_eq!(names, ["a", "b"]);
        // No source named: refused, never an empty list from stdin.
        let e = read_replay(w("channel 1 epoch 2 opid 9 sections 0xff")).expect_err("no source");
        assert!(e.to_string().contains("from FILE"), "{e}");
        for bad in [
            "channel 1 epoch 2 opid 9",
            "channel 1 epoch 2 opid 9 sections 1 del dev a",
            "channel 1 epoch 2 opid 9 sections 1 set dev a empty",
            "channel 1 epoch 2 opid 9 sections 1 from - set dev a",
            "channel 1 epoch 2 opid 9 sections 1 from",
        ] {
            assert!(read_replay(w(bad)).is_err(), "{bad}");
        }

        let input = "# staged\nset dev a up\n\ndev b desc \"x y\"\n";
        let recs = read_records(input.as_bytes(), "stdin").expect("valid");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].description, b"x y");
        let err = read_records("dev a\nmtu 1\n".as_bytes(), "stdin").expect_err("no dev");
        assert_eq!(err.to_string(), "stdin line 2: a record needs \"dev NAME\"");
    }
}
