//! The interface record on the wire: the `iface` nest (and its `addr`
//! nests) that updates and replays carry and entry replies and events
//! return. The record itself is [`hasync_model::IfRecord`], the one every
//! part of hasync uses; this file only codes it.

use hasync_model::table::{IfName, IfRecord, Prefix, MTU_DEFAULT};

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::generated::attr::{addr, iface};

/// Writes the record's attributes (not the enclosing nest). Fields at their
/// default are left out, which means the same to the kernel.
pub fn encode_record(r: &IfRecord, w: &mut AttrWriter) {
    w.put_text(iface::NAME, r.name.as_bytes());
    if r.admin_up {
        w.put_u8(iface::ADMIN_UP, 1);
    }
    if r.mtu != MTU_DEFAULT {
        w.put_u32(iface::MTU, r.mtu);
    }
    if r.mac != [0; 6] {
        w.put(iface::MAC, &r.mac);
    }
    if r.vlan != 0 {
        w.put_u16(iface::VLAN, r.vlan);
    }
    for a in &r.addrs {
        w.nest(iface::ADDR, |n| encode_prefix(a, n));
    }
    if !r.description.is_empty() {
        w.put_text(iface::DESC, &r.description);
    }
    // Only when known, so that a record without a speed is a request
    // module 0.1.0 takes too.
    if r.speed != 0 {
        w.put_u32(iface::SPEED, r.speed);
    }
}

/// Writes an `iface` nest holding only `name`: how a `del` op names its
/// record.
pub fn encode_name(name: &IfName, w: &mut AttrWriter) {
    w.put_text(iface::NAME, name.as_bytes());
}

fn encode_prefix(p: &Prefix, w: &mut AttrWriter) {
    match p {
        Prefix::V4(a, l) => w
            .put_u8(addr::FAMILY, 4)
            .put(addr::ADDRESS, a)
            .put_u8(addr::PREFIX_LEN, *l),
        Prefix::V6(a, l) => w
            .put_u8(addr::FAMILY, 6)
            .put(addr::ADDRESS, a)
            .put_u8(addr::PREFIX_LEN, *l),
    };
}

/// Parses the attributes of an `addr` nest.
fn parse_prefix(buf: &[u8]) -> Result<Prefix, ParseError> {
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
    let len = prefix_len.ok_or(ParseError::Missing("prefix-len"))?;
    let bad_len = |expected| ParseError::BadLength {
        attr: "address",
        expected,
        got: bytes.len(),
    };
    let (p, max) = match family {
        4 => (
            Prefix::V4(bytes.try_into().map_err(|_| bad_len("4"))?, len),
            32,
        ),
        6 => (
            Prefix::V6(bytes.try_into().map_err(|_| bad_len("16"))?, len),
            128,
        ),
        _ => {
            return Err(ParseError::Invalid {
                attr: "family",
                why: "not 4 or 6",
            })
        }
    };
    if len > max {
        return Err(ParseError::Invalid {
            attr: "prefix-len",
            why: "longer than the address",
        });
    }
    Ok(p)
}

/// A record as an `iface` nest gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The record, checked against the record rules.
    pub record: IfRecord,
    /// The section the name hashes to (replies only).
    pub section: Option<u32>,
    /// The nest held nothing but the name (and section): how a monitor
    /// event reports a deletion.
    pub only_name: bool,
}

/// Parses the attributes of an `iface` nest: absent fields take their
/// defaults, `name` is required, and the record must keep the record rules
/// (the module keeps them, so a record that breaks one is a bad reply).
pub(crate) fn parse_record(buf: &[u8]) -> Result<Parsed, ParseError> {
    let mut name = None;
    let mut admin_up = None;
    let mut mtu = None;
    let mut mac = None;
    let mut vlan = None;
    let mut addrs = Vec::new();
    let mut desc = None;
    let mut speed = None;
    let mut section = None;
    for a in Attrs::new(buf) {
        let a = a?;
        let n = iface::name(a.kind).unwrap_or("?");
        match a.kind {
            iface::NAME => {
                let v = IfName::new(a.text()).map_err(|_| ParseError::Invalid {
                    attr: n,
                    why: "not 1 to 15 printable bytes without '/'",
                })?;
                set_once(&mut name, v, n)?
            }
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
                let bytes = <[u8; 6]>::try_from(a.payload).map_err(|_| ParseError::BadLength {
                    attr: n,
                    expected: "6",
                    got: a.payload.len(),
                })?;
                set_once(&mut mac, bytes, n)?
            }
            iface::VLAN => set_once(&mut vlan, a.u16(n)?, n)?,
            iface::ADDR => addrs.push(parse_prefix(a.payload)?),
            iface::DESC => set_once(&mut desc, a.text().to_vec(), n)?,
            iface::SECTION => set_once(&mut section, a.u32(n)?, n)?,
            iface::SPEED => set_once(&mut speed, a.u32(n)?, n)?,
            _ => {}
        }
    }
    let only_name = admin_up.is_none()
        && mtu.is_none()
        && mac.is_none()
        && vlan.is_none()
        && addrs.is_empty()
        && desc.is_none()
        && speed.is_none();
    let name = name.ok_or(ParseError::Missing("name"))?;
    let mut record = IfRecord::new(name);
    record.admin_up = admin_up.unwrap_or(false);
    record.mtu = mtu.unwrap_or(MTU_DEFAULT);
    record.mac = mac.unwrap_or_default();
    record.vlan = vlan.unwrap_or(0);
    let addr_count = addrs.len();
    record.addrs = addrs;
    record.description = desc.unwrap_or_default();
    record.speed = speed.unwrap_or(0);
    record.canonicalize();
    if record.addrs.len() != addr_count {
        return Err(ParseError::Duplicate("addr"));
    }
    record.validate().map_err(|e| ParseError::Invalid {
        attr: "iface",
        why: e.why(),
    })?;
    Ok(Parsed {
        record,
        section,
        only_name,
    })
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

    pub(crate) fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid name")
    }

    pub(crate) fn sample() -> IfRecord {
        IfRecord {
            name: name("eth0"),
            admin_up: true,
            mtu: 9000,
            mac: [2, 0, 0, 0, 0, 1],
            vlan: 10,
            addrs: vec![
                "10.0.0.1/24".parse().expect("valid"),
                "fe80::1/64".parse().expect("valid"),
            ],
            description: b"uplink".to_vec(),
            speed: 0,
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
        encode_record(&sample(), &mut w);
        assert_eq!(w.finish().expect("small"), sample_bytes());
    }

    #[test]
    fn defaults_are_left_out() {
        let mut w = AttrWriter::new();
        encode_record(&IfRecord::new(name("lo")), &mut w);
        let mut want = Vec::new();
        raw(&mut want, 1, b"lo\0");
        assert_eq!(w.finish().expect("small"), want);
    }

    #[test]
    fn parses_full_and_minimal_records() {
        let mut b = sample_bytes();
        raw(&mut b, 8, &4u32.to_ne_bytes());
        raw(&mut b, 99, b"from a newer module");
        let got = parse_record(&b).expect("valid");
        assert_eq!(
            got,
            Parsed {
                record: sample(),
                section: Some(4),
                only_name: false
            }
        );

        let mut b = Vec::new();
        raw(&mut b, 1, b"lo\0");
        raw(&mut b, 8, &0u32.to_ne_bytes());
        let got = parse_record(&b).expect("valid");
        assert_eq!(
            got,
            Parsed {
                record: IfRecord::new(name("lo")),
                section: Some(0),
                only_name: true
            }
        );
        // Any order of addresses is taken, kept in canonical order.
        let mut b = Vec::new();
        raw(&mut b, 1, b"eth0\0");
        raw(&mut b, 2, &[1]);
        raw(&mut b, 3, &9000u32.to_ne_bytes());
        raw(&mut b, 4, &[2, 0, 0, 0, 0, 1]);
        raw(&mut b, 5, &10u16.to_ne_bytes());
        raw(&mut b, 7, b"uplink\0");
        let mut a = Vec::new();
        raw(&mut a, 1, &[6]);
        raw(
            &mut a,
            3,
            &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        raw(&mut a, 2, &[64]);
        raw_nest(&mut b, 6, &a);
        let mut a = Vec::new();
        raw(&mut a, 1, &[4]);
        raw(&mut a, 3, &[10, 0, 0, 1]);
        raw(&mut a, 2, &[24]);
        raw_nest(&mut b, 6, &a);
        assert_eq!(parse_record(&b).map(|p| p.record), Ok(sample()));
        // A description need not be UTF-8.
        let mut b = Vec::new();
        raw(&mut b, 1, b"lo\0");
        raw(&mut b, 7, &[0xff, 0xfe, 0]);
        assert_eq!(
            parse_record(&b).map(|p| p.record.description),
            Ok(vec![0xff, 0xfe])
        );
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
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a/b\0");
                    b
                },
                ParseError::Invalid {
                    attr: "name",
                    why: "not 1 to 15 printable bytes without '/'",
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    raw(&mut b, 3, &10u32.to_ne_bytes());
                    b
                },
                ParseError::Invalid {
                    attr: "iface",
                    why: "mtu out of range",
                },
            ),
            (
                {
                    let mut b = Vec::new();
                    raw(&mut b, 1, b"a\0");
                    for _ in 0..2 {
                        let mut a = Vec::new();
                        raw(&mut a, 1, &[4]);
                        raw(&mut a, 3, &[10, 0, 0, 1]);
                        raw(&mut a, 2, &[8]);
                        raw_nest(&mut b, 6, &a);
                    }
                    b
                },
                ParseError::Duplicate("addr"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_record(&bytes), Err(want));
        }
    }
}
