//! `hasync iface set` / `del`: change requests to the primary daemon,
//! which replicates them to the standbys and the kernel and answers once
//! the change is durable.
//!
//! ```text
//! hasync iface set dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [speed MBPS] [channel N]
//! hasync iface del dev NAME [channel N]
//! hasync iface rename dev NAME to NEWNAME [channel N]
//! ```
//!
//! Fields left out keep their current value; `addr` words, when given,
//! replace the whole address list. The words are read by the model's record
//! grammar, which checks every value (the daemon checks them again, with
//! the same code). Quiet on success, as `ip` is; `-j` prints the channel
//! and opid the change was applied as.

use hasync_ctl::{Confirmed, DelIface, RenameIface, Request, Response, SetIface};
use hasync_model::text::read_name;
use hasync_model::RecordChange;

use crate::daemon::{self, Daemon};
use crate::output::Format;
use crate::words::{once, unknown, usage, Usage, Words};

/// What a lost connection leaves unknown.
const OUTCOME: &str = "the change may or may not have been applied";

/// Reads the words of `iface set`: a record change, and `channel N`
/// anywhere among them.
fn read_set(words: Vec<String>) -> Result<SetIface, Usage> {
    let mut w = Words::new(words);
    let mut channel = None;
    let change = RecordChange::read_with(&mut w, &[], |word, w| match word {
        "channel" => once(&mut channel, "channel", w.number("channel")?).map(|()| true),
        _ => Ok(false),
    })
    .or_else(|e| match e.0.as_str() {
        "a record needs \"dev NAME\"" => usage("missing \"dev NAME\""),
        _ => Err(e),
    })?;
    Ok(SetIface::new(&change, channel))
}

/// Reads the words of `iface del`.
fn read_del(words: Vec<String>) -> Result<DelIface, Usage> {
    let mut w = Words::new(words);
    let mut name = None;
    let mut channel = None;
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "dev" | "name" => once(&mut name, "dev", read_name(&mut w)?)?,
            "channel" => once(&mut channel, "channel", w.number("channel")?)?,
            other => return unknown(other),
        }
    }
    match name {
        Some(n) => Ok(DelIface {
            name: n.to_string(),
            channel,
        }),
        None => usage("missing \"dev NAME\""),
    }
}

/// Reads the words of `iface rename`.
fn read_rename(words: Vec<String>) -> Result<RenameIface, Usage> {
    let mut w = Words::new(words);
    let mut name = None;
    let mut to = None;
    let mut channel = None;
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "dev" | "name" => once(&mut name, "dev", read_name(&mut w)?)?,
            "to" => once(&mut to, "to", read_name(&mut w)?)?,
            "channel" => once(&mut channel, "channel", w.number("channel")?)?,
            other => return unknown(other),
        }
    }
    match (name, to) {
        (Some(n), Some(t)) => Ok(RenameIface {
            name: n.to_string(),
            to: t.to_string(),
            channel,
        }),
        (None, _) => usage("missing \"dev NAME\""),
        (_, None) => usage("missing \"to NEWNAME\""),
    }
}

/// What a lost connection leaves unknown after a rename, which a
/// first-release daemon does not know.
const RENAME_OUTCOME: &str = "the rename may or may not have been applied \
     (a hasyncd of the first release has no rename: it closes the connection and changes nothing)";

fn send(request: Request, out: Format, opts: &daemon::Opts) -> crate::Result {
    let outcome = match request {
        Request::Rename(_) => RENAME_OUTCOME,
        _ => OUTCOME,
    };
    let rename = matches!(request, Request::Rename(_));
    let answer = opts.call(Daemon::Primary, request, Some(outcome));
    // A first-release daemon refuses the request it cannot parse (and
    // closes the connection): nothing changed, and the reason is its age.
    if let (true, Err(daemon::Error::Refused(e))) = (rename, &answer) {
        if e.kind == hasync_ctl::ErrorKind::BadRequest
            && e.message.contains("unknown variant `rename`")
        {
            return Err(
                "the primary runs hasyncd of the first release, and the first release has \
                 no rename: nothing changed (delete and set the record instead, or upgrade it)"
                    .into(),
            );
        }
    }
    match answer? {
        // Text: nothing, as `ip` prints nothing on success.
        Response::Confirmed(c) => out.print(&c, |_, _: &Confirmed| Ok(())),
        other => Err(daemon::unexpected("a change", &other).into()),
    }
}

/// `hasync iface set WORDS`.
pub fn set(words: Vec<String>, out: Format, opts: &daemon::Opts) -> crate::Result {
    let s = read_set(words)?;
    send(Request::Set(s), out, opts)
}

/// `hasync iface del WORDS`.
pub fn del(words: Vec<String>, out: Format, opts: &daemon::Opts) -> crate::Result {
    let d = read_del(words)?;
    send(Request::Del(d), out, opts)
}

/// `hasync iface rename WORDS`.
pub fn rename(words: Vec<String>, out: Format, opts: &daemon::Opts) -> crate::Result {
    let r = read_rename(words)?;
    send(Request::Rename(r), out, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_words() {
        let r = read_rename(w("dev eth0 to lan0 channel 3")).expect("words");
        assert_eq!(
            (r.name.as_str(), r.to.as_str(), r.channel),
            ("eth0", "lan0", Some(3))
        );
        let r = read_rename(w("to lan0 dev eth0")).expect("any order");
        assert_eq!((r.name.as_str(), r.to.as_str()), ("eth0", "lan0"));
        assert!(read_rename(w("dev eth0"))
            .unwrap_err()
            .0
            .contains("to NEWNAME"));
        assert!(read_rename(w("to lan0"))
            .unwrap_err()
            .0
            .contains("dev NAME"));
        assert!(read_rename(w("dev eth0 to lan0 to wan0")).is_err());
        assert!(read_rename(w("dev eth0 to a/b")).is_err());
        assert!(read_rename(w("dev eth0 to lan0 mtu 9000")).is_err());
    }

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn set_grammar() {
        let s = read_set(w(
            "dev eth0 mtu 9000 up mac 02:00:00:00:00:01 vlan 10 addr 10.0.0.1/24 addr ::1 \
             desc uplink speed 25000 channel 2",
        ))
        .expect("valid");
        assert_eq!(
            s,
            SetIface {
                name: "eth0".into(),
                channel: Some(2),
                up: Some(true),
                mtu: Some(9000),
                mac: Some("02:00:00:00:00:01".into()),
                vlan: Some(10),
                addrs: Some(vec!["10.0.0.1/24".into(), "::1/128".into()]),
                description: Some("uplink".into()),
                speed: Some(25000),
            }
        );
        // Only what is given is sent: the rest keeps its value.
        assert_eq!(
            read_set(w("name lo down")).expect("valid"),
            SetIface {
                name: "lo".into(),
                up: Some(false),
                ..SetIface::default()
            }
        );
        // `channel` may come first.
        assert_eq!(
            read_set(w("channel 4 dev lo")).expect("valid").channel,
            Some(4)
        );
    }

    #[test]
    fn set_mistakes_are_named() {
        for (line, msg) in [
            ("mtu 1500", "missing \"dev NAME\""),
            ("dev a bogus", "unknown keyword \"bogus\""),
            ("dev a up down", "\"up|down\" given twice"),
            ("dev a channel 1 channel 2", "\"channel\" given twice"),
            ("dev a mtu", "missing value after \"mtu\""),
            ("dev a vlan 70000", "invalid value \"70000\" for \"vlan\""),
            (
                "dev a vlan 4095",
                "invalid value \"4095\" for \"vlan\": 0 to 4094",
            ),
            (
                "dev a mtu 67",
                "invalid value \"67\" for \"mtu\": 68 to 65535",
            ),
            (
                "dev a addr 10.0.0/8",
                "invalid value for \"addr\": invalid address \"10.0.0/8\"",
            ),
            ("dev a/b", "invalid value \"a/b\" for \"dev\""),
        ] {
            let got = read_set(w(line)).expect_err(line).0;
            assert!(got.starts_with(msg), "{line}: {got}");
        }
    }

    #[test]
    fn del_grammar() {
        assert_eq!(
            read_del(w("dev eth0 channel 3")),
            Ok(DelIface {
                name: "eth0".into(),
                channel: Some(3)
            })
        );
        assert_eq!(
            read_del(w("dev eth0")),
            Ok(DelIface {
                name: "eth0".into(),
                channel: None
            })
        );
        assert_eq!(read_del(w("")), Err(Usage("missing \"dev NAME\"".into())));
        assert_eq!(
            read_del(w("dev a mtu 1")),
            Err(Usage("unknown keyword \"mtu\"".into()))
        );
    }
}
