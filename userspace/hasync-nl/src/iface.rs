//! The interface record (`iface` nest) and its addresses (`addr` nests):
//! written in updates and replays, read in entry replies and events.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::generated::attr::{addr, iface};

/// A hardware address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Whether this is the all-zero default.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = String;

    /// Six hex octets separated by `:`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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
            None => Ok(Mac(mac)),
            Some(_) => Err(bad()),
        }
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An interface address with its prefix length (host bits kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Addr {
    /// The address.
    pub address: IpAddr,
    /// Prefix length, at most 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
}

impl Addr {
    fn max_prefix(address: &IpAddr) -> u8 {
        match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    fn encode(&self, w: &mut AttrWriter) {
        match self.address {
            IpAddr::V4(a) => w.put_u8(addr::FAMILY, 4).put(addr::ADDRESS, &a.octets()),
            IpAddr::V6(a) => w.put_u8(addr::FAMILY, 6).put(addr::ADDRESS, &a.octets()),
        };
        w.put_u8(addr::PREFIX_LEN, self.prefix_len);
    }

    /// Parses the attributes of an `addr` nest.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut family = None;
        let mut prefix_len = None;
        let mut address = None;
        for a in Attrs::new(buf) {
            let a = a?;
            match a.kind {
                addr::FAMILY => set_once(&mut family, a.u8("family")?, "family")?,
                addr::PREFIX_LEN => set_once(&mut prefix_len, a.u8("prefix-len")?, "prefix-len")?,
                addr::ADDRESS => set_once(&mut address, a.payload, "address")?,
                _ => {}
            }
        }
        let family = family.ok_or(ParseError::Missing("family"))?;
        let bytes = address.ok_or(ParseError::Missing("address"))?;
        let prefix_len = prefix_len.ok_or(ParseError::Missing("prefix-len"))?;
        let bad_len = |expected| ParseError::BadLength {
            attr: "address",
            expected,
            got: bytes.len(),
        };
        let address = match family {
            4 => IpAddr::from(<[u8; 4]>::try_from(bytes).map_err(|_| bad_len("4"))?),
            6 => IpAddr::from(<[u8; 16]>::try_from(bytes).map_err(|_| bad_len("16"))?),
            _ => {
                return Err(ParseError::Invalid {
                    attr: "family",
                    why: "not 4 or 6",
                })
            }
        };
        if prefix_len > Self::max_prefix(&address) {
            return Err(ParseError::Invalid {
                attr: "prefix-len",
                why: "longer than the address",
            });
        }
        Ok(Addr {
            address,
            prefix_len,
        })
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Addr {
    type Err = String;

    /// `ADDRESS[/PREFIX]`; without a prefix, a host address (/32, /128).
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
        let max = Self::max_prefix(&address);
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("invalid prefix length in \"{s}\""))?,
        };
        Ok(Addr {
            address,
            prefix_len,
        })
    }
}

/// One interface record. In a `set` op the whole record is given and an
/// omitted field takes its default, which [`Iface::new`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Iface {
    /// Interface name, the key.
    pub name: String,
    /// Administratively up.
    pub admin_up: bool,
    /// MTU (68..=65535, default 1500).
    pub mtu: u32,
    /// Hardware address (default all zero).
    pub mac: Mac,
    /// VLAN id, 0 for untagged.
    pub vlan: u16,
    /// Addresses (at most 16).
    pub addrs: Vec<Addr>,
    /// Description (at most 64 bytes).
    pub desc: String,
    /// The section the name hashes to; in replies only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<u32>,
}

/// MTU of a record that does not name one.
pub const DEFAULT_MTU: u32 = 1500;

impl Iface {
    /// A record with the defaults: down, mtu 1500, zero MAC, untagged, no
    /// addresses, no description.
    pub fn new(name: impl Into<String>) -> Self {
        Iface {
            name: name.into(),
            admin_up: false,
            mtu: DEFAULT_MTU,
            mac: Mac::default(),
            vlan: 0,
            addrs: Vec::new(),
            desc: String::new(),
            section: None,
        }
    }

    /// Writes the record's attributes (not the enclosing nest). Fields at
    /// their default are left out, which means the same to the kernel;
    /// `section` is never sent.
    pub fn encode(&self, w: &mut AttrWriter) {
        w.put_str(iface::NAME, &self.name);
        if self.admin_up {
            w.put_u8(iface::ADMIN_UP, 1);
        }
        if self.mtu != DEFAULT_MTU {
            w.put_u32(iface::MTU, self.mtu);
        }
        if !self.mac.is_zero() {
            w.put(iface::MAC, &self.mac.0);
        }
        if self.vlan != 0 {
            w.put_u16(iface::VLAN, self.vlan);
        }
        for a in &self.addrs {
            w.nest(iface::ADDR, |n| a.encode(n));
        }
        if !self.desc.is_empty() {
            w.put_str(iface::DESC, &self.desc);
        }
    }

    /// Parses the attributes of an `iface` nest; absent fields take their
    /// defaults, `name` is required.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        Self::parse(buf).map(|(i, _)| i)
    }

    /// [`Iface::from_attrs`], also telling whether the nest held nothing
    /// but the name (and section): how a monitor event reports a deletion.
    pub(crate) fn parse(buf: &[u8]) -> Result<(Self, bool), ParseError> {
        let mut name = None;
        let mut admin_up = None;
        let mut mtu = None;
        let mut mac = None;
        let mut vlan = None;
        let mut addrs = Vec::new();
        let mut desc = None;
        let mut section = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = iface::name(a.kind).unwrap_or("?");
            match a.kind {
                iface::NAME => set_once(&mut name, a.string(n)?.to_owned(), n)?,
                iface::ADMIN_UP => match a.u8(n)? {
                    v @ (0 | 1) => set_once(&mut admin_up, v == 1, n)?,
                    _ => {
                        return Err(ParseError::Invalid {
                            attr: n,
                            why: "not 0 or 1",
                        })
                    }
                },
                iface::MTU => set_once(&mut mtu, a.u32(n)?, n)?,
                iface::MAC => {
                    let bytes =
                        <[u8; 6]>::try_from(a.payload).map_err(|_| ParseError::BadLength {
                            attr: n,
                            expected: "6",
                            got: a.payload.len(),
                        })?;
                    set_once(&mut mac, Mac(bytes), n)?
                }
                iface::VLAN => set_once(&mut vlan, a.u16(n)?, n)?,
                iface::ADDR => addrs.push(Addr::from_attrs(a.payload)?),
                iface::DESC => set_once(&mut desc, a.string(n)?.to_owned(), n)?,
                iface::SECTION => set_once(&mut section, a.u32(n)?, n)?,
                _ => {}
            }
        }
        let only_name = admin_up.is_none()
            && mtu.is_none()
            && mac.is_none()
            && vlan.is_none()
            && addrs.is_empty()
            && desc.is_none();
        let name = name.ok_or(ParseError::Missing("name"))?;
        Ok((
            Iface {
                name,
                admin_up: admin_up.unwrap_or(false),
                mtu: mtu.unwrap_or(DEFAULT_MTU),
                mac: mac.unwrap_or_default(),
                vlan: vlan.unwrap_or(0),
                addrs,
                desc: desc.unwrap_or_default(),
                section,
            },
            only_name,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Appends a raw attribute, as the tests' hand-built fixtures do.
    pub(crate) fn raw(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(payload);
        buf.resize((buf.len() + 3) & !3, 0);
    }

    /// Appends a nest (with `NLA_F_NESTED`) around `inner`.
    pub(crate) fn raw_nest(buf: &mut Vec<u8>, kind: u16, inner: &[u8]) {
        raw(buf, kind | 0x8000, inner);
    }

    pub(crate) fn sample() -> Iface {
        Iface {
            name: "eth0".into(),
            admin_up: true,
            mtu: 9000,
            mac: Mac([2, 0, 0, 0, 0, 1]),
            vlan: 10,
            addrs: vec![
                "10.0.0.1/24".parse().expect("valid"),
                "fe80::1/64".parse().expect("valid"),
            ],
            desc: "uplink".into(),
            section: None,
        }
    }

    /// `sample()` as hand-built attribute bytes.
    pub(crate) fn sample_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        raw(&mut b, 1, b"eth0\0");
        raw(&mut b, 2, &[1]);
        raw(&mut b, 3, &9000u32.to_ne_bytes());
        raw(&mut b, 4, &[2, 0, 0, 0, 0, 1]);
        raw(&mut b, 5, &10u16.to_ne_bytes());
        let mut a = Vec::new();
        raw(&mut a, 1, &[4]);
        raw(&mut a, 3, &[10, 0, 0, 1]);
        raw(&mut a, 2, &[24]);
        raw_nest(&mut b, 6, &a);
        let mut a = Vec::new();
        raw(&mut a, 1, &[6]);
        raw(
            &mut a,
            3,
            &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        raw(&mut a, 2, &[64]);
        raw_nest(&mut b, 6, &a);
        raw(&mut b, 7, b"uplink\0");
        b
    }

    #[test]
    fn encodes_to_kernel_bytes() {
        let mut w = AttrWriter::new();
        sample().encode(&mut w);
        assert_eq!(w.finish().expect("small"), sample_bytes());
    }

    #[test]
    fn defaults_are_left_out() {
        let mut w = AttrWriter::new();
        Iface::new("lo").encode(&mut w);
        let mut want = Vec::new();
        raw(&mut want, 1, b"lo\0");
        assert_eq!(w.finish().expect("small"), want);
    }

    #[test]
    fn parses_full_and_minimal_records() {
        let mut b = sample_bytes();
        raw(&mut b, 8, &4u32.to_ne_bytes());
        raw(&mut b, 99, b"from a newer module");
        let (got, only_name) = Iface::parse(&b).expect("valid");
        assert_eq!(
            got,
            Iface {
                section: Some(4),
                ..sample()
            }
        );
        assert!(!only_name);

        let mut b = Vec::new();
        raw(&mut b, 1, b"lo\0");
        raw(&mut b, 8, &0u32.to_ne_bytes());
        let (got, only_name) = Iface::parse(&b).expect("valid");
        assert_eq!(
            got,
            Iface {
                section: Some(0),
                ..Iface::new("lo")
            }
        );
        assert!(only_name);
    }

    #[test]
    fn malformed_records_are_named() {
        let cases: Vec<(Vec<u8>, ParseError)> = vec![
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 3, &1500u32.to_ne_bytes());
                    b
                },
                ParseError::Missing("name"),
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    raw(&mut b, 4, &[1, 2, 3]);
                    b
                },
                ParseError::BadLength {
                    attr: "mac",
                    expected: "6",
                    got: 3,
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    raw(&mut b, 2, &[2]);
                    b
                },
                ParseError::Invalid {
                    attr: "admin-up",
                    why: "not 0 or 1",
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    raw(&mut b, 1, b"b\0");
                    b
                },
                ParseError::Duplicate("name"),
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    let mut a = Vec::new();
                    raw(&mut a, 1, &[4]);
                    raw(&mut a, 3, &[0; 16]);
                    raw(&mut a, 2, &[24]);
                    raw_nest(&mut b, 6, &a);
                    b
                },
                ParseError::BadLength {
                    attr: "address",
                    expected: "4",
                    got: 16,
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    let mut a = Vec::new();
                    raw(&mut a, 1, &[5]);
                    raw(&mut a, 3, &[0; 4]);
                    raw(&mut a, 2, &[24]);
                    raw_nest(&mut b, 6, &a);
                    b
                },
                ParseError::Invalid {
                    attr: "family",
                    why: "not 4 or 6",
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    let mut a = Vec::new();
                    raw(&mut a, 1, &[4]);
                    raw(&mut a, 3, &[0; 4]);
                    raw(&mut a, 2, &[33]);
                    raw_nest(&mut b, 6, &a);
                    b
                },
                ParseError::Invalid {
                    attr: "prefix-len",
                    why: "longer than the address",
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    let mut a = Vec::new();
                    raw(&mut a, 1, &[4]);
                    raw(&mut a, 2, &[24]);
                    raw_nest(&mut b, 6, &a);
                    b
                },
                ParseError::Missing("address"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Iface::from_attrs(&bytes), Err(want));
        }
    }

    #[test]
    fn text_forms() {
        let m: Mac = "02:0a:00:00:00:ff".parse().expect("valid");
        assert_eq!(m, Mac([2, 10, 0, 0, 0, 255]));
        assert_eq!(m.to_string(), "02:0a:00:00:00:ff");
        for bad in [
            "02:0a:00:00:00",
            "02:0a:00:00:00:ff:01",
            "x2:0a:00:00:00:ff",
            "002:0:0:0:0:0",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
        let a: Addr = "10.0.0.1".parse().expect("valid");
        assert_eq!(a.to_string(), "10.0.0.1/32");
        assert_eq!(
            "2001:db8::1/48".parse::<Addr>().map(|a| a.prefix_len),
            Ok(48)
        );
        for bad in ["10.0.0.1/33", "10.0.0/24", "::1/129", "10.0.0.1/x"] {
            assert!(bad.parse::<Addr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_shape() {
        let j = serde_json::to_string(&sample()).expect("serializes");
        assert_eq!(
            j,
            "{\"name\":\"eth0\",\"admin_up\":true,\"mtu\":9000,\"mac\":\"02:00:00:00:00:01\",\
             \"vlan\":10,\"addrs\":[{\"address\":\"10.0.0.1\",\"prefix_len\":24},\
             {\"address\":\"fe80::1\",\"prefix_len\":64}],\"desc\":\"uplink\"}"
        );
    }
}
