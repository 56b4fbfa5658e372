//! The interface record grammar shared by `kernel update` and `kernel
//! replay`:
//!
//! ```text
//! dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT]
//! ```
//!
//! Values are checked for syntax only: the kernel validates ranges, and the
//! selftests rely on this tool to send it out-of-range values.

use std::net::IpAddr;

use hasync_nl::{Addr, Iface, Op};

use crate::words::{once, unknown, usage, Usage, Words};

/// An address with any prefix length up to 255.
fn addr(w: &mut Words) -> Result<Addr, Usage> {
    let v = w.text("addr")?;
    let (a, len) = v
        .split_once('/')
        .map_or((v.as_str(), None), |(a, l)| (a, Some(l)));
    let Ok(address) = a.parse::<IpAddr>() else {
        return usage(format!("invalid address \"{v}\""));
    };
    let prefix_len = match len {
        None if address.is_ipv4() => 32,
        None => 128,
        Some(l) => match l.parse() {
            Ok(l) => l,
            Err(_) => return usage(format!("invalid prefix length in \"{v}\"")),
        },
    };
    Ok(Addr {
        address,
        prefix_len,
    })
}

/// Reads one record, up to a word in `stop` or the end.
pub fn read_iface(w: &mut Words, stop: &[&str]) -> Result<Iface, Usage> {
    let mut name = None;
    let mut up = None;
    let mut mtu = None;
    let mut mac = None;
    let mut vlan = None;
    let mut desc = None;
    let mut addrs = Vec::new();
    while w.peek().is_some_and(|p| !stop.contains(&p)) {
        let Some(word) = w.next_word() else { break };
        match word.as_str() {
            "dev" | "name" => once(&mut name, "dev", w.text("dev")?)?,
            "up" => once(&mut up, "up|down", true)?,
            "down" => once(&mut up, "up|down", false)?,
            "mtu" => once(&mut mtu, "mtu", w.number("mtu")?)?,
            "mac" => once(&mut mac, "mac", w.parsed("mac")?)?,
            "vlan" => once(&mut vlan, "vlan", w.number("vlan")?)?,
            "addr" => addrs.push(addr(w)?),
            "desc" | "alias" => once(&mut desc, "desc", w.text("desc")?)?,
            other => return unknown(other),
        }
    }
    let Some(name) = name else {
        return usage("a record needs \"dev NAME\"");
    };
    let mut i = Iface::new(name);
    i.admin_up = up.unwrap_or(false);
    i.mtu = mtu.unwrap_or(i.mtu);
    i.mac = mac.unwrap_or_default();
    i.vlan = vlan.unwrap_or(0);
    i.addrs = addrs;
    i.desc = desc.unwrap_or_default();
    Ok(i)
}

/// Reads `set RECORD` and `del dev NAME` ops to the end.
pub fn read_ops(w: &mut Words) -> Result<Vec<Op>, Usage> {
    const OPS: &[&str] = &["set", "del"];
    let mut ops = Vec::new();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "set" => ops.push(Op::Set(read_iface(w, OPS)?)),
            "del" => match (w.next_word().as_deref(), w.next_word()) {
                (Some("dev" | "name"), Some(name)) => ops.push(Op::Del(name)),
                _ => return usage("\"del\" needs \"dev NAME\""),
            },
            other => return unknown(other),
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_nl::Mac;

    fn words(s: &str) -> Words {
        Words::new(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn full_record() {
        let i = read_iface(
            &mut words("dev eth0 mtu 9000 up mac 02:00:00:00:00:01 vlan 10 addr 10.0.0.1/24 addr ::1 desc uplink"),
            &[],
        )
        .expect("valid");
        assert_eq!(i.name, "eth0");
        assert!(i.admin_up);
        assert_eq!((i.mtu, i.vlan), (9000, 10));
        assert_eq!(i.mac, Mac([2, 0, 0, 0, 0, 1]));
        let addrs: Vec<_> = i.addrs.iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["10.0.0.1/24", "::1/128"]);
        assert_eq!(i.desc, "uplink");
        assert_eq!(i.section, None);
    }

    #[test]
    fn defaults_and_out_of_range_values_pass() {
        assert_eq!(read_iface(&mut words("dev lo"), &[]), Ok(Iface::new("lo")));
        // The kernel is the one to refuse these.
        let i = read_iface(&mut words("dev x mtu 67 vlan 4095 addr 10.0.0.1/33"), &[])
            .expect("syntax is fine");
        assert_eq!((i.mtu, i.vlan, i.addrs[0].prefix_len), (67, 4095, 33));
    }

    #[test]
    fn mistakes_are_named() {
        for (line, msg) in [
            ("mtu 1500", "a record needs \"dev NAME\""),
            ("dev a bogus", "unknown keyword \"bogus\""),
            ("dev a up down", "\"up|down\" given twice"),
            ("dev a mtu", "missing value after \"mtu\""),
            ("dev a vlan 70000", "invalid value \"70000\" for \"vlan\""),
            ("dev a addr 10.0.0/8", "invalid address \"10.0.0/8\""),
        ] {
            assert_eq!(
                read_iface(&mut words(line), &[]),
                Err(Usage(msg.into())),
                "{line}"
            );
        }
        assert!(read_iface(&mut words("dev a mac 1:2:3"), &[]).is_err());
    }

    #[test]
    fn ops() {
        let ops = read_ops(&mut words("set dev a up del dev b set dev c mtu 1400")).expect("valid");
        assert_eq!(
            ops,
            vec![
                Op::Set(Iface {
                    admin_up: true,
                    ..Iface::new("a")
                }),
                Op::Del("b".into()),
                Op::Set(Iface {
                    mtu: 1400,
                    ..Iface::new("c")
                }),
            ]
        );
        assert_eq!(read_ops(&mut words("")), Ok(vec![]));
        assert!(read_ops(&mut words("del b")).is_err());
        assert!(read_ops(&mut words("frob")).is_err());
    }
}
