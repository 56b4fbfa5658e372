//! Interface records: `entry-get` (do: one record; dump: a channel's, or
//! one section's, or every channel's).

use hasync_model::{IfName, IfRecord};
use serde::Serialize;

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::entry, cmd};
use crate::record::parse_record;

/// One record of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Channel id.
    pub channel: u32,
    /// The record.
    #[serde(flatten)]
    pub record: IfRecord,
    /// The section its name hashes to, as the module reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<u32>,
}

impl Entry {
    /// Parses an `entry-get` reply or `entry-ntf`.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        Self::parse(buf).map(|(e, _)| e)
    }

    /// [`Entry::from_attrs`], also telling whether the record carried only
    /// its name (a deletion, in an `entry-ntf`).
    pub(crate) fn parse(buf: &[u8]) -> Result<(Self, bool), ParseError> {
        let mut channel = None;
        let mut parsed = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = entry::name(a.kind).unwrap_or("?");
            match a.kind {
                entry::CHANNEL => set_once(&mut channel, a.u32(n)?, n)?,
                entry::IFACE => set_once(&mut parsed, parse_record(a.payload)?, n)?,
                _ => {}
            }
        }
        let p = parsed.ok_or(ParseError::Missing("iface"))?;
        let channel = channel.ok_or(ParseError::Missing("channel"))?;
        let e = Entry {
            channel,
            record: p.record,
            section: p.section,
        };
        Ok((e, p.only_name))
    }
}

/// Which records an `entry-get` dump returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// Only this channel's (else every channel's).
    pub channel: Option<u32>,
    /// Only this section's.
    pub section: Option<u32>,
}

impl EntryFilter {
    /// The dump request's attributes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut w = AttrWriter::new();
        if let Some(c) = self.channel {
            w.put_u32(entry::CHANNEL, c);
        }
        if let Some(s) = self.section {
            w.put_u32(entry::SECTION, s);
        }
        Ok(w.finish()?)
    }
}

/// The attributes of an `entry-get` do request.
pub fn encode_entry_get(channel: u32, name: &IfName) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    w.put_u32(entry::CHANNEL, channel)
        .put_text(entry::NAME, name.as_bytes());
    Ok(w.finish()?)
}

impl Client {
    /// One record (`ENOENT` if absent).
    pub fn entry(&mut self, channel: u32, name: &IfName) -> Result<Entry, Error> {
        let attrs = self.call(cmd::ENTRY_GET, &encode_entry_get(channel, name)?)?;
        let e = Entry::from_attrs(&attrs)?;
        check_echo("channel", channel, e.channel)?;
        check_echo("name", name, &e.record.name)?;
        Ok(e)
    }

    /// The records `filter` selects (a dump), handed to `each` as they
    /// arrive; returns how many there were.
    pub fn entries_each(
        &mut self,
        filter: &EntryFilter,
        mut each: impl FnMut(Entry),
    ) -> Result<u64, Error> {
        let mut n = 0;
        self.dump(cmd::ENTRY_GET, &filter.encode()?, |attrs| {
            let e = Entry::from_attrs(attrs)?;
            if let Some(c) = filter.channel {
                check_echo("channel", c, e.channel)?;
            }
            n += 1;
            each(e);
            Ok(())
        })?;
        Ok(n)
    }

    /// The records `filter` selects (a dump).
    pub fn entries(&mut self, filter: &EntryFilter) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        self.entries_each(filter, |e| out.push(e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{name, raw, raw_nest, sample, sample_bytes};

    #[test]
    fn request_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        raw(&mut want, 3, b"eth0\0");
        assert_eq!(encode_entry_get(3, &name("eth0")).expect("small"), want);
        assert!(EntryFilter::default().encode().expect("small").is_empty());
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        raw(&mut want, 2, &63u32.to_ne_bytes());
        let f = EntryFilter {
            channel: Some(3),
            section: Some(63),
        };
        assert_eq!(f.encode().expect("small"), want);
    }

    #[test]
    fn reply_parsing() {
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        let mut i = sample_bytes();
        raw(&mut i, 8, &4u32.to_ne_bytes());
        raw_nest(&mut b, 4, &i);
        let (e, only_name) = Entry::parse(&b).expect("valid");
        assert_eq!(e.channel, 3);
        assert_eq!((e.record, e.section), (sample(), Some(4)));
        assert!(!only_name);
        // Without its iface, or twice with one.
        assert_eq!(
            Entry::from_attrs(&b[..8]),
            Err(ParseError::Missing("iface"))
        );
        let mut twice = b.clone();
        raw_nest(&mut twice, 4, &i);
        assert_eq!(
            Entry::from_attrs(&twice),
            Err(ParseError::Duplicate("iface"))
        );
        // A bad nested record is reported from inside.
        let mut bad = Vec::new();
        raw(&mut bad, 1, &3u32.to_ne_bytes());
        let mut i = Vec::new();
        raw(&mut i, 1, b"x\0");
        raw(&mut i, 3, &[0, 1]);
        raw_nest(&mut bad, 4, &i);
        assert!(matches!(
            Entry::from_attrs(&bad),
            Err(ParseError::BadLength { attr: "mtu", .. })
        ));
    }

    #[test]
    fn json_is_flat() {
        let e = Entry {
            channel: 1,
            record: IfRecord::new(name("lo")),
            section: Some(4),
        };
        assert_eq!(
            serde_json::to_string(&e).expect("serializes"),
            "{\"channel\":1,\"name\":\"lo\",\"admin_up\":false,\"mtu\":1500,\
             \"mac\":\"00:00:00:00:00:00\",\"vlan\":0,\"addrs\":[],\"desc\":\"\",\"section\":4}"
        );
    }
}
