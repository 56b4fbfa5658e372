//! How a record reads and prints: addresses (`10.0.0.1/24`), MACs
//! (`02:00:00:00:00:01`), the JSON every tool prints a record in, and the
//! one grammar of a record in words:
//!
//! ```text
//! dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [speed MBPS]
//! ```
//!
//! The words give a [`RecordChange`]: a whole record for the kernel's
//! `set` ops and record files (left-out fields take their defaults), or a
//! change to the current record for `iface set` (left-out fields keep
//! their value; `addr` words, when given, replace the whole list).  Every
//! value is checked against the record rules as it is read, so a mistake
//! is named by its word.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use crate::table::{
    self, IfName, IfRecord, Prefix, TableError, DESC_MAX, MAX_ADDRS, MTU_MAX, MTU_MIN, VLAN_MAX,
};
use crate::words::{once, unknown, usage, Usage, Words};

impl Prefix {
    /// The address.
    pub fn address(&self) -> IpAddr {
        match *self {
            Prefix::V4(a, _) => IpAddr::from(a),
            Prefix::V6(a, _) => IpAddr::from(a),
        }
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        match *self {
            Prefix::V4(_, l) | Prefix::V6(_, l) => l,
        }
    }

    /// `address/len`, the length checked against the address family.
    pub fn new(address: IpAddr, len: u8) -> Result<Self, TableError> {
        let p = match address {
            IpAddr::V4(a) => Prefix::V4(a.octets(), len),
            IpAddr::V6(a) => Prefix::V6(a.octets(), len),
        };
        match p {
            Prefix::V4(_, l) if l > 32 => Err(TableError::BadAddr),
            Prefix::V6(_, l) if l > 128 => Err(TableError::BadAddr),
            p => Ok(p),
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address(), self.prefix_len())
    }
}

impl FromStr for Prefix {
    type Err = String;

    /// `ADDRESS[/LEN]`; without a length, a host address (/32, /128).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, len) = match s.split_once('/') {
            Some((a, len)) => (a, Some(len)),
            None => (s, None),
        };
        let address = a
            .parse::<Ipv4Addr>()
            .map(IpAddr::from)
            .or_else(|_| a.parse::<Ipv6Addr>().map(IpAddr::from))
            .map_err(|_| format!("invalid address \"{s}\""))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("invalid prefix length in \"{s}\" (0 to {max})"))?,
        };
        Prefix::new(address, len).map_err(|e| e.to_string())
    }
}

/// A MAC address as text: six hex octets separated by `:`.
pub fn mac_to_string(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, g] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
}

/// Parses [`mac_to_string`]'s form (one or two hex digits an octet).
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("invalid MAC address \"{s}\"");
    let mut mac = [0; 6];
    let mut parts = s.split(':');
    for octet in &mut mac {
        let p = parts.next().filter(|p| (1..=2).contains(&p.len()));
        *octet = p
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(bad)?;
    }
    match parts.next() {
        None => Ok(mac),
        Some(_) => Err(bad()),
    }
}

/// One address in JSON: `{"address": "10.0.0.1", "prefix_len": 24}`.
struct JsonPrefix<'a>(&'a Prefix);

impl Serialize for JsonPrefix<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Addr", 2)?;
        st.serialize_field("address", &self.0.address())?;
        st.serialize_field("prefix_len", &self.0.prefix_len())?;
        st.end()
    }
}

struct JsonPrefixes<'a>(&'a [Prefix]);

impl Serialize for JsonPrefixes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(JsonPrefix))
    }
}

/// A name in JSON: its text.
impl Serialize for IfName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A record as every tool prints it in JSON: `name`, `admin_up`, `mtu`,
/// `mac` (text), `vlan`, `addrs` (objects), `desc` (text), and `speed`
/// (Mb/s) when it is known.
impl Serialize for IfRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let known = usize::from(self.speed != 0);
        let mut st = s.serialize_struct("IfRecord", 7 + known)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("admin_up", &self.admin_up)?;
        st.serialize_field("mtu", &self.mtu)?;
        st.serialize_field("mac", &mac_to_string(&self.mac))?;
        st.serialize_field("vlan", &self.vlan)?;
        st.serialize_field("addrs", &JsonPrefixes(&self.addrs))?;
        st.serialize_field("desc", &String::from_utf8_lossy(&self.description))?;
        if self.speed != 0 {
            st.serialize_field("speed", &self.speed)?;
        }
        st.end()
    }
}

/// A record as words give it: the name, and every field that was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChange {
    /// The record's name (the key).
    pub name: IfName,
    /// `up` or `down`.
    pub admin_up: Option<bool>,
    /// `mtu N`.
    pub mtu: Option<u32>,
    /// `mac M`.
    pub mac: Option<[u8; 6]>,
    /// `vlan V`.
    pub vlan: Option<u16>,
    /// Every `addr`, when at least one was given.
    pub addrs: Option<Vec<Prefix>>,
    /// `desc TEXT`.
    pub description: Option<Vec<u8>>,
    /// `speed MBPS` (0: unknown).
    pub speed: Option<u32>,
}

impl RecordChange {
    /// Only the name: every field left as it is (or at its default).
    pub fn new(name: IfName) -> Self {
        RecordChange {
            name,
            admin_up: None,
            mtu: None,
            mac: None,
            vlan: None,
            addrs: None,
            description: None,
            speed: None,
        }
    }

    /// The record after the change: on top of `current` when there is one,
    /// else of the defaults. Addresses come out in canonical order.
    pub fn onto(&self, current: Option<&IfRecord>) -> IfRecord {
        let default;
        let base = match current {
            Some(c) => c,
            None => {
                default = IfRecord::new(self.name.clone());
                &default
            }
        };
        // Field by field, so that a list the change replaces is not copied
        // from the current record first.
        let mut r = IfRecord {
            name: base.name.clone(),
            admin_up: self.admin_up.unwrap_or(base.admin_up),
            mtu: self.mtu.unwrap_or(base.mtu),
            mac: self.mac.unwrap_or(base.mac),
            vlan: self.vlan.unwrap_or(base.vlan),
            addrs: self.addrs.as_ref().unwrap_or(&base.addrs).clone(),
            description: self
                .description
                .as_ref()
                .unwrap_or(&base.description)
                .clone(),
            speed: self.speed.unwrap_or(base.speed),
        };
        if self.addrs.is_some() {
            r.canonicalize();
        }
        r
    }

    /// Whether the change, set onto any valid record, makes a valid one:
    /// the error [`IfRecord::validate`] would give, from the fields the
    /// change names alone (the record's others are valid already).
    pub fn validate(&self) -> Result<(), TableError> {
        if let Some(v) = self.mtu {
            table::check_mtu(v)?;
        }
        if let Some(v) = self.vlan {
            table::check_vlan(v)?;
        }
        if let Some(v) = &self.addrs {
            // As `onto` leaves them: sorted, without duplicates.
            let mut a = v.clone();
            table::canonical_addrs(&mut a);
            table::check_addrs(&a)?;
        }
        if let Some(v) = &self.description {
            table::check_description(v)?;
        }
        Ok(())
    }

    /// The whole record the words describe: left-out fields at their
    /// defaults.
    pub fn record(&self) -> IfRecord {
        self.onto(None)
    }

    /// Checks every given value against the record rules; the error names
    /// the word the value came with.
    pub fn check(&self) -> Result<(), Usage> {
        if let Some(v) = self.mtu.filter(|v| !(MTU_MIN..=MTU_MAX).contains(v)) {
            return usage(format!(
                "invalid value \"{v}\" for \"mtu\": {MTU_MIN} to {MTU_MAX}"
            ));
        }
        if let Some(v) = self.vlan.filter(|&v| v > VLAN_MAX) {
            return usage(format!(
                "invalid value \"{v}\" for \"vlan\": 0 to {VLAN_MAX}"
            ));
        }
        if let Some(addrs) = &self.addrs {
            for (i, a) in addrs.iter().enumerate() {
                if addrs[..i].contains(a) {
                    return usage(format!("\"addr {a}\" given twice"));
                }
            }
            if addrs.len() > MAX_ADDRS {
                return usage(format!("more than {MAX_ADDRS} \"addr\""));
            }
        }
        if let Some(v) = &self.description {
            if v.len() > DESC_MAX {
                return usage(format!(
                    "\"desc\" is {} bytes, more than {DESC_MAX}",
                    v.len()
                ));
            }
            if v.contains(&0) {
                return usage("\"desc\" holds a NUL byte");
            }
        }
        Ok(())
    }

    /// Reads one record's words, up to a word in `stop` or the end. Every
    /// value is checked against the record rules here.
    pub fn read(w: &mut Words, stop: &[&str]) -> Result<Self, Usage> {
        Self::read_with(w, stop, |_, _| Ok(false))
    }

    /// [`RecordChange::read`], offering every word it does not know to
    /// `extra` first (which reads the word's value and answers `true`, or
    /// answers `false`: an unknown keyword).
    pub fn read_with(
        w: &mut Words,
        stop: &[&str],
        mut extra: impl FnMut(&str, &mut Words) -> Result<bool, Usage>,
    ) -> Result<Self, Usage> {
        let mut name = None;
        let mut c = RecordChange::new(IfName::new(b"-").map_err(|e| Usage(e.to_string()))?);
        let mut addrs: Vec<Prefix> = Vec::new();
        while w.peek().is_some_and(|p| !stop.contains(&p)) {
            let Some(word) = w.next_word() else { break };
            match word.as_str() {
                "dev" | "name" => once(&mut name, "dev", read_name(w)?)?,
                "up" => once(&mut c.admin_up, "up|down", true)?,
                "down" => once(&mut c.admin_up, "up|down", false)?,
                "mtu" => once(&mut c.mtu, "mtu", w.number("mtu")?)?,
                "mac" => once(&mut c.mac, "mac", w.parsed_with("mac", parse_mac)?)?,
                "vlan" => once(&mut c.vlan, "vlan", w.number("vlan")?)?,
                "addr" => addrs.push(w.parsed_with("addr", |s| s.parse())?),
                "desc" | "alias" => once(&mut c.description, "desc", w.text("desc")?.into_bytes())?,
                "speed" => once(&mut c.speed, "speed", w.number("speed")?)?,
                other => {
                    if !extra(other, w)? {
                        return unknown(other);
                    }
                }
            }
        }
        match name {
            Some(n) => c.name = n,
            None => return usage("a record needs \"dev NAME\""),
        }
        if !addrs.is_empty() {
            c.addrs = Some(addrs);
        }
        c.check()?;
        Ok(c)
    }
}

/// Reads the value of `dev`: an interface name.
pub fn read_name(w: &mut Words) -> Result<IfName, Usage> {
    let v = w.text("dev")?;
    IfName::new(v.as_bytes()).map_err(|_| {
        Usage(format!(
            "invalid value \"{v}\" for \"dev\": 1 to 15 printable characters, no '/' or blank"
        ))
    })
}

impl fmt::Display for RecordChange {
    /// The words that read back as this change.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dev {}", self.name)?;
        if let Some(v) = self.mtu {
            write!(f, " mtu {v}")?;
        }
        if let Some(v) = self.admin_up {
            f.write_str(if v { " up" } else { " down" })?;
        }
        if let Some(v) = &self.mac {
            write!(f, " mac {}", mac_to_string(v))?;
        }
        if let Some(v) = self.vlan {
            write!(f, " vlan {v}")?;
        }
        for a in self.addrs.iter().flatten() {
            write!(f, " addr {a}")?;
        }
        if let Some(v) = &self.description {
            write!(f, " desc {:?}", String::from_utf8_lossy(v))?;
        }
        if let Some(v) = self.speed {
            write!(f, " speed {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Words {
        Words::new(s.split_whitespace().map(str::to_owned))
    }

    fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid")
    }

    #[test]
    fn a_whole_record() {
        let c = RecordChange::read(
            &mut words(
                "dev eth0 mtu 9000 up mac 02:00:00:00:00:01 vlan 10 addr ::1 addr 10.0.0.1/24 desc uplink",
            ),
            &[],
        )
        .expect("valid");
        let r = c.record();
        assert_eq!(r.name, name("eth0"));
        assert!(r.admin_up);
        assert_eq!((r.mtu, r.vlan), (9000, 10));
        assert_eq!(r.mac, [2, 0, 0, 0, 0, 1]);
        // Canonical order: IPv4 first.
        let addrs: Vec<_> = r.addrs.iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["10.0.0.1/24", "::1/128"]);
        assert_eq!(r.description, b"uplink");
        assert_eq!(r.validate(), Ok(()));
        // The words it prints read back as the same change.
        let again = RecordChange::read(
            &mut Words::new(crate::words::split_line(&c.to_string()).expect("splits")),
            &[],
        )
        .expect("reads back");
        assert_eq!(again.record(), r);
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let mut cur = IfRecord::new(name("eth0"));
        cur.mtu = 9000;
        cur.addrs = vec!["10.0.0.1/24".parse().expect("valid")];
        let c = RecordChange::read(&mut words("dev eth0 up"), &[]).expect("valid");
        let r = c.onto(Some(&cur));
        assert!(r.admin_up);
        assert_eq!(r.mtu, 9000);
        assert_eq!(r.addrs.len(), 1);
        // As a whole record, the defaults.
        assert_eq!(c.record().mtu, 1500);
        let c = RecordChange::read(&mut words("dev eth0 addr 10.9.0.1/8"), &[]).expect("valid");
        assert_eq!(
            c.onto(Some(&cur)).addrs,
            vec!["10.9.0.1/8".parse().expect("valid")]
        );
    }

    #[test]
    fn mistakes_name_their_word() {
        let err = |s: &str| {
            RecordChange::read(&mut words(s), &[])
                .expect_err("refused")
                .0
        };
        assert_eq!(err("mtu 9000"), "a record needs \"dev NAME\"");
        assert!(err("dev eth0 mtu 67").contains("\"mtu\""));
        assert!(err("dev eth0 vlan 4095").contains("\"vlan\""));
        assert!(err("dev eth0 addr 10.0.0.1/33").contains("prefix length"));
        assert!(err("dev eth0 addr 10.0.0.x").contains("invalid address"));
        assert!(err("dev eth0 mac 02:00").contains("\"mac\""));
        assert!(err(&format!("dev {}", "x".repeat(16))).contains("\"dev\""));
        assert!(err("dev a/b").contains("\"dev\""));
        assert!(err(&format!("dev e desc {}", "d".repeat(256))).contains("\"desc\""));
        assert!(err("dev e addr ::1 addr ::1").contains("twice"));
        assert!(err("dev e mtu 1500 mtu 1500").contains("twice"));
        assert_eq!(err("dev e bogus"), "unknown keyword \"bogus\"");
    }

    #[test]
    fn stops_at_the_next_op() {
        let mut w = words("dev a mtu 1400 set dev b");
        let c = RecordChange::read(&mut w, &["set"]).expect("valid");
        assert_eq!(c.name, name("a"));
        assert_eq!(w.peek(), Some("set"));
    }

    #[test]
    fn text_forms() {
        assert_eq!(mac_to_string(&[2, 0, 0, 0xab, 0, 1]), "02:00:00:ab:00:01");
        assert_eq!(parse_mac("2:0:0:ab:0:1"), Ok([2, 0, 0, 0xab, 0, 1]));
        assert!(parse_mac("02:00:00:00:00:00:00").is_err());
        assert_eq!("::1".parse::<Prefix>().map(|p| p.prefix_len()), Ok(128));
        assert_eq!(
            "10.0.0.1".parse::<Prefix>().map(|p| p.to_string()),
            Ok("10.0.0.1/32".into())
        );
    }

    #[test]
    fn json_shape() {
        let mut r = IfRecord::new(name("eth0"));
        r.admin_up = true;
        r.mtu = 9000;
        r.mac = [2, 0, 0, 0, 0, 1];
        r.vlan = 10;
        r.addrs = vec![
            "10.0.0.1/24".parse().expect("valid"),
            "fe80::1/64".parse().expect("valid"),
        ];
        r.description = b"uplink".to_vec();
        assert_eq!(
            serde_json::to_string(&r).expect("serializes"),
            "{\"name\":\"eth0\",\"admin_up\":true,\"mtu\":9000,\"mac\":\"02:00:00:00:00:01\",\
             \"vlan\":10,\"addrs\":[{\"address\":\"10.0.0.1\",\"prefix_len\":24},\
             {\"address\":\"fe80::1\",\"prefix_len\":64}],\"desc\":\"uplink\"}"
        );
    }
}
