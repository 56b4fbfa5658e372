//! The reply to the `info` command.

use serde::Serialize;

use crate::attr::{set_once, Attrs, ParseError};
use crate::generated::attr::info;

/// The module's version, limits and current counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Info {
    /// Module version string.
    pub version: String,
    /// Netlink protocol version; bumped on incompatible change.
    pub proto_version: u32,
    /// Limit on the number of channels.
    pub max_channels: u32,
    /// Limit on interface records per channel.
    pub max_entries: u32,
    /// Largest section count a channel may have.
    pub max_sections: u32,
    /// `(opid, cookie)` pairs each channel remembers.
    pub cookie_log_len: u32,
    /// Channels that exist now.
    pub channels: u32,
    /// Interface records held, over all channels.
    pub entries: u64,
}

fn name(kind: u16) -> &'static str {
    info::name(kind).unwrap_or("?")
}

impl Info {
    /// Parses the attributes of an `info` reply (after the genetlink
    /// header). Every attribute this version knows is required; attributes
    /// it does not know are skipped so that a newer module still works.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut version = None;
        let mut proto_version = None;
        let mut max_channels = None;
        let mut max_entries = None;
        let mut max_sections = None;
        let mut cookie_log_len = None;
        let mut channels = None;
        let mut entries = None;
        for attr in Attrs::new(buf) {
            let attr = attr?;
            let n = name(attr.kind);
            match attr.kind {
                info::VERSION => set_once(&mut version, attr.string(n)?.to_owned(), n)?,
                info::PROTO_VERSION => set_once(&mut proto_version, attr.u32(n)?, n)?,
                info::MAX_CHANNELS => set_once(&mut max_channels, attr.u32(n)?, n)?,
                info::MAX_ENTRIES => set_once(&mut max_entries, attr.u32(n)?, n)?,
                info::MAX_SECTIONS => set_once(&mut max_sections, attr.u32(n)?, n)?,
                info::COOKIE_LOG_LEN => set_once(&mut cookie_log_len, attr.u32(n)?, n)?,
                info::CHANNELS => set_once(&mut channels, attr.u32(n)?, n)?,
                info::ENTRIES => set_once(&mut entries, attr.uint(n)?, n)?,
                _ => {}
            }
        }
        let need = |kind| ParseError::Missing(name(kind));
        Ok(Info {
            version: version.ok_or_else(|| need(info::VERSION))?,
            proto_version: proto_version.ok_or_else(|| need(info::PROTO_VERSION))?,
            max_channels: max_channels.ok_or_else(|| need(info::MAX_CHANNELS))?,
            max_entries: max_entries.ok_or_else(|| need(info::MAX_ENTRIES))?,
            max_sections: max_sections.ok_or_else(|| need(info::MAX_SECTIONS))?,
            cookie_log_len: cookie_log_len.ok_or_else(|| need(info::COOKIE_LOG_LEN))?,
            channels: channels.ok_or_else(|| need(info::CHANNELS))?,
            entries: entries.ok_or_else(|| need(info::ENTRIES))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrWriter;

    fn sample() -> Info {
        Info {
            version: "0.1.0".into(),
            proto_version: 1,
            max_channels: 64,
            max_entries: 65536,
            max_sections: 64,
            cookie_log_len: 256,
            channels: 2,
            entries: 5,
        }
    }

    /// Encodes `info` as the kernel would, leaving out attribute `skip`.
    fn encode(i: &Info, skip: u16) -> AttrWriter {
        let mut w = AttrWriter::new();
        let mut put = |kind, f: &dyn Fn(&mut AttrWriter, u16)| {
            if kind != skip {
                f(&mut w, kind);
            }
        };
        put(info::VERSION, &|w, k| {
            w.put_str(k, &i.version);
        });
        for (kind, v) in [
            (info::PROTO_VERSION, i.proto_version),
            (info::MAX_CHANNELS, i.max_channels),
            (info::MAX_ENTRIES, i.max_entries),
            (info::MAX_SECTIONS, i.max_sections),
            (info::COOKIE_LOG_LEN, i.cookie_log_len),
            (info::CHANNELS, i.channels),
        ] {
            put(kind, &|w, k| {
                w.put_u32(k, v);
            });
        }
        put(info::ENTRIES, &|w, k| {
            w.put_u32(k, i.entries as u32);
        });
        w
    }

    #[test]
    fn good_reply() {
        let buf = encode(&sample(), 0).finish().expect("small");
        assert_eq!(Info::from_attrs(&buf), Ok(sample()));
    }

    #[test]
    fn good_reply_wire_bytes() {
        // Pinned bytes, so the test does not only check the writer against
        // the reader: a string, u32s, and `entries` as an 8-byte uint.
        let mut buf = Vec::new();
        let mut attr = |kind: u16, payload: &[u8]| {
            buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
            buf.extend_from_slice(&kind.to_ne_bytes());
            buf.extend_from_slice(payload);
            buf.resize((buf.len() + 3) & !3, 0);
        };
        attr(1, b"1.2.3\0");
        for (kind, v) in [(2u16, 3u32), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8)] {
            attr(kind, &v.to_ne_bytes());
        }
        attr(8, &(1u64 << 33).to_ne_bytes());
        let got = Info::from_attrs(&buf).expect("valid");
        assert_eq!(got.version, "1.2.3");
        assert_eq!(
            (
                got.proto_version,
                got.max_channels,
                got.cookie_log_len,
                got.channels
            ),
            (3, 4, 7, 8)
        );
        assert_eq!(got.entries, 1 << 33);
    }

    #[test]
    fn missing_attribute_is_named() {
        for (kind, attr_name) in [
            (info::VERSION, "version"),
            (info::COOKIE_LOG_LEN, "cookie-log-len"),
            (info::ENTRIES, "entries"),
        ] {
            let buf = encode(&sample(), kind).finish().expect("small");
            let err = Info::from_attrs(&buf).expect_err("incomplete");
            assert_eq!(err, ParseError::Missing(attr_name));
            assert_eq!(
                err.to_string(),
                format!("missing attribute \"{attr_name}\"")
            );
        }
    }

    #[test]
    fn truncated_attribute_is_an_error() {
        let buf = encode(&sample(), 0).finish().expect("small");
        let cut = &buf[..buf.len() - 2];
        assert!(matches!(
            Info::from_attrs(cut),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn wrong_size_is_an_error() {
        let mut w = encode(&sample(), info::CHANNELS);
        w.put(info::CHANNELS, &[1, 0]);
        let buf = w.finish().expect("small");
        assert_eq!(
            Info::from_attrs(&buf),
            Err(ParseError::BadLength {
                attr: "channels",
                expected: "4",
                got: 2
            })
        );
    }

    #[test]
    fn unknown_attributes_are_ignored() {
        let mut w = AttrWriter::new();
        w.put_u64(999, 1).put(0, &[]);
        let mut buf = w.finish().expect("small");
        buf.extend(encode(&sample(), 0).finish().expect("small"));
        let mut tail = AttrWriter::new();
        tail.put_str(200, "from a newer module");
        buf.extend(tail.finish().expect("small"));
        assert_eq!(Info::from_attrs(&buf), Ok(sample()));
    }

    #[test]
    fn duplicate_attribute_is_an_error() {
        let mut w = encode(&sample(), 0);
        w.put_u32(info::CHANNELS, 3);
        let buf = w.finish().expect("small");
        assert_eq!(
            Info::from_attrs(&buf),
            Err(ParseError::Duplicate("channels"))
        );
    }
}
