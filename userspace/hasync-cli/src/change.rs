//! `hasync iface set` / `del`: change requests to the primary daemon,
//! which replicates them to the standbys and the kernel and answers once
//! the change is durable.
//!
//! ```text
//! hasync iface set dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [channel N]
//! hasync iface del dev NAME [channel N]
//! ```
//!
//! Fields left out keep their current value; `addr` words, when given,
//! replace the whole address list. As with `hasync kernel`, values are
//! checked for syntax only: the daemon validates ranges and says which
//! field is wrong. Quiet on success, as `ip` is; `-j` prints the channel
//! and opid the change was applied as.

use std::net::IpAddr;

use hasync_ctl::{Confirmed, DelIface, Request, Response, SetIface};
use hasync_nl::Mac;

use crate::daemon::{self, Daemon};
use crate::output::Format;
use crate::words::{once, unknown, usage, Usage, Words};

/// What a lost connection leaves unknown.
const OUTCOME: &str = "the change may or may not have been applied";

/// `ADDR[/LEN]`, passed on as written once its syntax is right.
fn addr(w: &mut Words) -> Result<String, Usage> {
    let v = w.text("addr")?;
    let (a, len) = v
        .split_once('/')
        .map_or((v.as_str(), None), |(a, l)| (a, Some(l)));
    if a.parse::<IpAddr>().is_err() {
        return usage(format!("invalid address \"{v}\""));
    }
    if len.is_some_and(|l| l.parse::<u8>().is_err()) {
        return usage(format!("invalid prefix length in \"{v}\""));
    }
    Ok(v)
}

fn need_dev(name: Option<String>) -> Result<String, Usage> {
    match name {
        Some(n) => Ok(n),
        None => usage("missing \"dev NAME\""),
    }
}

/// Reads the words of `iface set`.
fn read_set(words: Vec<String>) -> Result<SetIface, Usage> {
    let mut w = Words::new(words);
    let mut s = SetIface::default();
    let mut name = None;
    let mut addrs = Vec::new();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "dev" | "name" => once(&mut name, "dev", w.text("dev")?)?,
            "channel" => once(&mut s.channel, "channel", w.number("channel")?)?,
            "up" => once(&mut s.up, "up|down", true)?,
            "down" => once(&mut s.up, "up|down", false)?,
            "mtu" => once(&mut s.mtu, "mtu", w.number("mtu")?)?,
            "mac" => {
                let v = w.text("mac")?;
                if let Err(e) = v.parse::<Mac>() {
                    return usage(format!("invalid value for \"mac\": {e}"));
                }
                once(&mut s.mac, "mac", v)?;
            }
            "vlan" => once(&mut s.vlan, "vlan", w.number("vlan")?)?,
            "addr" => addrs.push(addr(&mut w)?),
            "desc" | "alias" => once(&mut s.description, "desc", w.text("desc")?)?,
            other => return unknown(other),
        }
    }
    s.name = need_dev(name)?;
    if !addrs.is_empty() {
        s.addrs = Some(addrs);
    }
    Ok(s)
}

/// Reads the words of `iface del`.
fn read_del(words: Vec<String>) -> Result<DelIface, Usage> {
    let mut w = Words::new(words);
    let mut name = None;
    let mut channel = None;
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "dev" | "name" => once(&mut name, "dev", w.text("dev")?)?,
            "channel" => once(&mut channel, "channel", w.number("channel")?)?,
            other => return unknown(other),
        }
    }
    Ok(DelIface {
        name: need_dev(name)?,
        channel,
    })
}

fn send(request: Request, out: Format, opts: &daemon::Opts) -> crate::Result {
    match opts.call(Daemon::Primary, request, Some(OUTCOME))? {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn set_grammar() {
        let s = read_set(w(
            "dev eth0 mtu 9000 up mac 02:00:00:00:00:01 vlan 10 addr 10.0.0.1/24 addr ::1 \
             desc uplink channel 2",
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
                addrs: Some(vec!["10.0.0.1/24".into(), "::1".into()]),
                description: Some("uplink".into()),
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
        // Ranges are the daemon's to check.
        let s = read_set(w("dev x mtu 67 vlan 4095 addr 10.0.0.1/33")).expect("syntax is fine");
        assert_eq!((s.mtu, s.vlan), (Some(67), Some(4095)));
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
            ("dev a addr 10.0.0/8", "invalid address \"10.0.0/8\""),
            (
                "dev a addr 10.0.0.1/x",
                "invalid prefix length in \"10.0.0.1/x\"",
            ),
            (
                "dev a mac 1:2:3",
                "invalid value for \"mac\": invalid MAC address \"1:2:3\"",
            ),
        ] {
            assert_eq!(read_set(w(line)), Err(Usage(msg.into())), "{line}");
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
