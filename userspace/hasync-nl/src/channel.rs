//! Channels: `channel-new`, `channel-del` and `channel-get` (do and dump).

use serde::Serialize;

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::channel, attr::section, cmd};

/// One section of a channel's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionInfo {
    /// Section number, below the channel's section count.
    pub index: u32,
    /// Records in the section.
    pub entries: u32,
    /// Wrapping sum of the records' hashes (see `hasync-engine` `table.rs`).
    pub digest: u64,
}

impl SectionInfo {
    /// Parses the attributes of a `section` nest.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut index = None;
        let mut entries = None;
        let mut digest = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = section::name(a.kind).unwrap_or("?");
            match a.kind {
                section::INDEX => set_once(&mut index, a.u32(n)?, n)?,
                section::ENTRIES => set_once(&mut entries, a.u32(n)?, n)?,
                section::DIGEST => set_once(&mut digest, a.uint(n)?, n)?,
                _ => {}
            }
        }
        Ok(SectionInfo {
            index: index.ok_or(ParseError::Missing("index"))?,
            entries: entries.ok_or(ParseError::Missing("entries"))?,
            digest: digest.ok_or(ParseError::Missing("digest"))?,
        })
    }
}

/// A channel as `channel-get` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// Channel id.
    pub id: u32,
    /// Name given at creation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Section count (a power of two, 1..=64).
    pub sections: u32,
    /// Acked-opid register: the highest opid applied (0 = none).
    pub register: u64,
    /// Owner epoch.
    pub epoch: u32,
    /// Epoch of the update that set the register (`None` from a module
    /// that does not report it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_epoch: Option<u32>,
    /// Records in the table.
    pub entries: u32,
    /// Per-section counts and digests (empty in a brief dump).
    pub section: Vec<SectionInfo>,
    /// Lowest opid the cookie log still holds (0 = empty log).
    pub log_first_opid: u64,
}

impl Channel {
    /// Parses the attributes of a `channel-get` reply or `channel-ntf`.
    /// The name is optional, every other attribute required.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        Self::parse(buf)?.complete()
    }

    pub(crate) fn parse(buf: &[u8]) -> Result<PartialChannel, ParseError> {
        let mut c = PartialChannel::default();
        for a in Attrs::new(buf) {
            let a = a?;
            let n = channel::name(a.kind).unwrap_or("?");
            match a.kind {
                channel::ID => set_once(&mut c.id, a.u32(n)?, n)?,
                channel::NAME => set_once(&mut c.name, a.string(n)?.to_owned(), n)?,
                channel::SECTIONS => set_once(&mut c.sections, a.u32(n)?, n)?,
                channel::REGISTER => set_once(&mut c.register, a.uint(n)?, n)?,
                channel::EPOCH => set_once(&mut c.epoch, a.u32(n)?, n)?,
                channel::REGISTER_EPOCH => set_once(&mut c.register_epoch, a.u32(n)?, n)?,
                channel::ENTRIES => set_once(&mut c.entries, a.u32(n)?, n)?,
                channel::SECTION => c.section.push(SectionInfo::from_attrs(a.payload)?),
                channel::LOG_FIRST_OPID => set_once(&mut c.log_first_opid, a.uint(n)?, n)?,
                _ => {}
            }
        }
        Ok(c)
    }
}

/// A `channel` attribute set as read, before required attributes are
/// checked: a `channel-ntf` for a deleted channel may carry only the id.
#[derive(Debug, Default)]
pub(crate) struct PartialChannel {
    pub id: Option<u32>,
    name: Option<String>,
    sections: Option<u32>,
    register: Option<u64>,
    epoch: Option<u32>,
    register_epoch: Option<u32>,
    entries: Option<u32>,
    section: Vec<SectionInfo>,
    log_first_opid: Option<u64>,
}

impl PartialChannel {
    /// Whether the channel's state is absent (only id, name and section
    /// count): how a `channel-ntf` reports a deletion.
    pub(crate) fn stateless(&self) -> bool {
        self.register.is_none()
            && self.epoch.is_none()
            && self.entries.is_none()
            && self.section.is_empty()
            && self.log_first_opid.is_none()
    }

    pub(crate) fn complete(self) -> Result<Channel, ParseError> {
        let need = ParseError::Missing;
        Ok(Channel {
            id: self.id.ok_or(need("id"))?,
            // The kernel sends an unnamed channel's name as "".
            name: self.name.filter(|n| !n.is_empty()),
            sections: self.sections.ok_or(need("sections"))?,
            register: self.register.ok_or(need("register"))?,
            epoch: self.epoch.ok_or(need("epoch"))?,
            register_epoch: self.register_epoch,
            entries: self.entries.ok_or(need("entries"))?,
            section: self.section,
            log_first_opid: self.log_first_opid.ok_or(need("log-first-opid"))?,
        })
    }
}

/// A `channel-new` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Channel id.
    pub id: u32,
    /// Optional name (at most 31 bytes).
    pub name: Option<String>,
    /// Section count; the kernel's default (64) when `None`.
    pub sections: Option<u32>,
}

impl NewChannel {
    /// A channel with id `id`, no name, and the default section count.
    pub fn new(id: u32) -> Self {
        NewChannel {
            id,
            name: None,
            sections: None,
        }
    }

    /// The request's attributes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut w = AttrWriter::new();
        w.put_u32(channel::ID, self.id);
        if let Some(name) = &self.name {
            w.put_str(channel::NAME, name);
        }
        if let Some(s) = self.sections {
            w.put_u32(channel::SECTIONS, s);
        }
        Ok(w.finish()?)
    }
}

fn id_attr(id: u32) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    w.put_u32(channel::ID, id);
    Ok(w.finish()?)
}

impl Client {
    /// Creates a channel (`EEXIST` if the id is taken, `ENOSPC` at the
    /// channel limit, `EINVAL` for a bad section count).
    pub fn channel_new(&mut self, req: &NewChannel) -> Result<(), Error> {
        self.call_ack(cmd::CHANNEL_NEW, &req.encode()?)
    }

    /// Deletes a channel and its table (`ENOENT` if absent).
    pub fn channel_del(&mut self, id: u32) -> Result<(), Error> {
        self.call_ack(cmd::CHANNEL_DEL, &id_attr(id)?)
    }

    /// One channel.
    pub fn channel(&mut self, id: u32) -> Result<Channel, Error> {
        let attrs = self.call(cmd::CHANNEL_GET, &id_attr(id)?)?;
        let c = Channel::from_attrs(&attrs)?;
        check_echo("id", id, c.id)?;
        Ok(c)
    }

    /// Every channel (a dump).
    pub fn channels(&mut self) -> Result<Vec<Channel>, Error> {
        let mut out = Vec::new();
        self.dump(cmd::CHANNEL_GET, &[], |attrs| {
            out.push(Channel::from_attrs(attrs)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every channel without its per-section digests: registers, epochs
    /// and counts, a fraction of the bytes of [`Client::channels`] (how a
    /// new owner reads the registers after a brief claim).
    pub fn channels_brief(&mut self) -> Result<Vec<Channel>, Error> {
        let mut w = AttrWriter::new();
        w.put_flag(channel::BRIEF);
        let mut out = Vec::new();
        self.dump(cmd::CHANNEL_GET, &w.finish()?, |attrs| {
            out.push(Channel::from_attrs(attrs)?);
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::tests::{raw, raw_nest};

    #[test]
    fn channel_new_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 1, &7u32.to_ne_bytes());
        assert_eq!(NewChannel::new(7).encode().expect("small"), want);
        let req = NewChannel {
            id: 7,
            name: Some("links".into()),
            sections: Some(8),
        };
        raw(&mut want, 2, b"links\0");
        raw(&mut want, 3, &8u32.to_ne_bytes());
        assert_eq!(req.encode().expect("small"), want);
        assert_eq!(id_attr(7).expect("small")[..8], want[..8]);
    }

    /// A `channel-get` reply as the kernel would build it: two sections,
    /// the register as an 8-byte uint, the rest as 4-byte ones.
    pub(crate) fn reply_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        raw(&mut b, 2, b"links\0");
        raw(&mut b, 3, &2u32.to_ne_bytes());
        raw(&mut b, 4, &(1u64 << 40).to_ne_bytes());
        raw(&mut b, 5, &9u32.to_ne_bytes());
        raw(&mut b, 6, &5u32.to_ne_bytes());
        for (i, n, d) in [(0u32, 2u32, 0xdead_beef_0000_0001u64), (1, 3, 0)] {
            let mut s = Vec::new();
            raw(&mut s, 1, &i.to_ne_bytes());
            raw(&mut s, 2, &n.to_ne_bytes());
            if d > u64::from(u32::MAX) {
                raw(&mut s, 3, &d.to_ne_bytes());
            } else {
                raw(&mut s, 3, &(d as u32).to_ne_bytes());
            }
            raw_nest(&mut b, 7, &s);
        }
        raw(&mut b, 8, &100u32.to_ne_bytes());
        raw(&mut b, 11, &7u32.to_ne_bytes());
        b
    }

    pub(crate) fn reply() -> Channel {
        Channel {
            id: 3,
            name: Some("links".into()),
            sections: 2,
            register: 1 << 40,
            epoch: 9,
            register_epoch: Some(7),
            entries: 5,
            section: vec![
                SectionInfo {
                    index: 0,
                    entries: 2,
                    digest: 0xdead_beef_0000_0001,
                },
                SectionInfo {
                    index: 1,
                    entries: 3,
                    digest: 0,
                },
            ],
            log_first_opid: 100,
        }
    }

    #[test]
    fn parses_reply() {
        assert_eq!(Channel::from_attrs(&reply_bytes()), Ok(reply()));
    }

    #[test]
    fn malformed_replies() {
        // Missing register.
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        raw(&mut b, 3, &2u32.to_ne_bytes());
        raw(&mut b, 5, &9u32.to_ne_bytes());
        raw(&mut b, 6, &5u32.to_ne_bytes());
        raw(&mut b, 8, &0u32.to_ne_bytes());
        assert_eq!(
            Channel::from_attrs(&b),
            Err(ParseError::Missing("register"))
        );
        // A section without its digest.
        let mut b = reply_bytes();
        let mut s = Vec::new();
        raw(&mut s, 1, &1u32.to_ne_bytes());
        raw(&mut s, 2, &1u32.to_ne_bytes());
        raw_nest(&mut b, 7, &s);
        assert_eq!(Channel::from_attrs(&b), Err(ParseError::Missing("digest")));
        // A register of 2 bytes.
        let mut b = reply_bytes();
        raw(&mut b, 4, &[1, 2]);
        assert!(matches!(
            Channel::from_attrs(&b),
            Err(ParseError::BadLength {
                attr: "register",
                ..
            })
        ));
        // Cut in the middle of a section nest.
        let b = reply_bytes();
        assert!(matches!(
            Channel::from_attrs(&b[..b.len() - 20]),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn empty_name_is_no_name() {
        let mut b = Vec::new();
        raw(&mut b, 2, b"\0");
        b.extend(reply_bytes().into_iter().skip(8 + 12)); // id, name "links"
        let mut want = reply();
        want.name = None;
        let mut id = Vec::new();
        raw(&mut id, 1, &3u32.to_ne_bytes());
        id.extend(b);
        assert_eq!(Channel::from_attrs(&id), Ok(want));
    }

    #[test]
    fn json_shape() {
        let mut c = reply();
        c.name = None;
        c.register_epoch = None;
        c.section.truncate(1);
        assert_eq!(
            serde_json::to_string(&c).expect("serializes"),
            "{\"id\":3,\"sections\":2,\"register\":1099511627776,\"epoch\":9,\"entries\":5,\
             \"section\":[{\"index\":0,\"entries\":2,\"digest\":16045690981097406465}],\
             \"log_first_opid\":100}"
        );
    }
}
