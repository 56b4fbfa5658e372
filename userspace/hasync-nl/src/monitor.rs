//! Notifications: the `acks` group (`ack-ntf`) and the `monitor` group
//! (`entry-ntf`, `channel-ntf`), decoded into [`Event`]s.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};

use hasync_model::IfName;
use serde::Serialize;

use crate::attr::ParseError;
use crate::channel::Channel;
use crate::entry::Entry;
use crate::error::Error;
use crate::generated::{cmd, mcgrp, FAMILY_NAME};
use crate::genl::Genl;
use crate::nlmsg::{classify, Messages, Reply};
use crate::update::Ack;

/// Which multicast groups a [`Monitor`] joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    /// `acks`: every ACK the kernel sends (updates and replay commits).
    pub acks: bool,
    /// `monitor`: record and channel changes.
    pub monitor: bool,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// An ACK (`ack-ntf`).
    Ack(Ack),
    /// A record was created or changed: the record now (`entry-ntf`).
    Entry(Entry),
    /// A record was deleted (`entry-ntf` with the name only).
    EntryDeleted {
        /// Channel id.
        channel: u32,
        /// The record's name.
        name: IfName,
    },
    /// A channel was created, claimed or replayed: the channel now
    /// (`channel-ntf`).
    Channel(Channel),
    /// A channel was deleted (`channel-ntf` without register, epoch and
    /// counts).
    ChannelDeleted {
        /// Channel id.
        id: u32,
    },
    /// The socket's receive buffer overran: events were lost and the
    /// follower must re-read the state it tracks.
    Lost,
}

/// Decodes one notification of the family; `None` for a command that is
/// not a notification this version knows.
///
/// `entry-ntf` and `channel-ntf` are also accepted under the command
/// numbers of `entry-get` and `channel-get`, whose reply shape they share:
/// a module that builds both with one function may stamp either.
pub fn decode_event(cmd: u8, attrs: &[u8]) -> Result<Option<Event>, ParseError> {
    Ok(Some(match cmd {
        cmd::ACK_NTF => Event::Ack(Ack::from_attrs(attrs)?),
        cmd::ENTRY_NTF | cmd::ENTRY_GET => match Entry::parse(attrs)? {
            (e, true) => Event::EntryDeleted {
                channel: e.channel,
                name: e.record.name,
            },
            (e, false) => Event::Entry(e),
        },
        cmd::CHANNEL_NTF | cmd::CHANNEL_GET => {
            let c = Channel::parse(attrs)?;
            match (c.stateless(), c.id) {
                (true, Some(id)) => Event::ChannelDeleted { id },
                _ => Event::Channel(c.complete()?),
            }
        }
        _ => return Ok(None),
    }))
}

/// A socket joined to the family's multicast groups. [`Monitor::next_event`]
/// blocks; the descriptor can be polled ([`AsRawFd`]).
pub struct Monitor {
    genl: Genl,
    family_id: u16,
    pending: VecDeque<Result<Event, Error>>,
}

impl Monitor {
    /// Opens a socket and joins `groups`.
    pub fn open(groups: Groups) -> Result<Self, Error> {
        let mut genl = Genl::open()?;
        let family = genl.resolve(FAMILY_NAME)?;
        for (want, name) in [(groups.acks, mcgrp::ACKS), (groups.monitor, mcgrp::MONITOR)] {
            if want {
                let id = family
                    .mcast_group(name)
                    .ok_or_else(|| Error::NoGroup(name.to_owned()))?;
                genl.join(id)?;
            }
        }
        Ok(Monitor {
            genl,
            family_id: family.id,
            pending: VecDeque::new(),
        })
    }

    /// The next event, waiting for one. A notification that cannot be
    /// decoded is an error for that event only: the next call goes on.
    pub fn next_event(&mut self) -> Result<Event, Error> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return ev;
            }
            let len = match self.genl.recv() {
                Ok(len) => len,
                Err(Error::Socket(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(Event::Lost)
                }
                Err(e) => return Err(e),
            };
            let family_id = self.family_id;
            let pending = &mut self.pending;
            for msg in Messages::new(self.genl.received(len)) {
                let decoded = msg.and_then(|m| match m.nl_type == family_id {
                    true => match classify(&m)? {
                        Reply::Data { cmd, attrs } => decode_event(cmd, attrs),
                        _ => Ok(None),
                    },
                    false => Ok(None),
                });
                match decoded {
                    Ok(Some(ev)) => pending.push_back(Ok(ev)),
                    Ok(None) => {}
                    Err(e) => pending.push_back(Err(e.into())),
                }
            }
        }
    }
}

impl Monitor {
    /// An event already received and decoded, without reading the socket:
    /// after [`Monitor::next_event`] returned (the socket was readable),
    /// drain the rest of that read with this before polling again.
    pub fn buffered_event(&mut self) -> Option<Result<Event, Error>> {
        self.pending.pop_front()
    }
}

impl Iterator for Monitor {
    type Item = Result<Event, Error>;

    /// Never ends; see [`Monitor::next_event`].
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_event())
    }
}

impl AsRawFd for Monitor {
    fn as_raw_fd(&self) -> RawFd {
        self.genl.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::{reply, reply_bytes};
    use crate::record::tests::{name, raw, raw_nest, sample_bytes};
    use crate::update::tests::ack_bytes;

    #[test]
    fn decodes_each_notification() {
        assert_eq!(
            decode_event(cmd::ACK_NTF, &ack_bytes(1, 2, 3, true)),
            Ok(Some(Event::Ack(Ack {
                channel: 1,
                epoch: None,
                opid: 2,
                cookie: 3,
                duplicate: true
            })))
        );
        assert_eq!(
            decode_event(cmd::CHANNEL_NTF, &reply_bytes()),
            Ok(Some(Event::Channel(reply())))
        );
        let mut gone = Vec::new();
        raw(&mut gone, 1, &3u32.to_ne_bytes());
        assert_eq!(
            decode_event(cmd::CHANNEL_NTF, &gone),
            Ok(Some(Event::ChannelDeleted { id: 3 }))
        );
        // As the module sends it: id, name and section count.
        raw(&mut gone, 2, b"\0");
        raw(&mut gone, 3, &64u32.to_ne_bytes());
        assert_eq!(
            decode_event(cmd::CHANNEL_GET, &gone),
            Ok(Some(Event::ChannelDeleted { id: 3 }))
        );
        let mut e = Vec::new();
        raw(&mut e, 1, &3u32.to_ne_bytes());
        raw_nest(&mut e, 4, &sample_bytes());
        assert!(matches!(
            decode_event(cmd::ENTRY_NTF, &e),
            Ok(Some(Event::Entry(Entry { channel: 3, .. })))
        ));
        let mut d = Vec::new();
        raw(&mut d, 1, &3u32.to_ne_bytes());
        let mut i = Vec::new();
        raw(&mut i, 1, b"eth0\0");
        raw_nest(&mut d, 4, &i);
        assert_eq!(
            decode_event(cmd::ENTRY_NTF, &d),
            Ok(Some(Event::EntryDeleted {
                channel: 3,
                name: name("eth0")
            }))
        );
        raw(&mut i, 8, &4u32.to_ne_bytes()); // deletions carry the section
        let mut d = Vec::new();
        raw(&mut d, 1, &3u32.to_ne_bytes());
        raw_nest(&mut d, 4, &i);
        assert!(matches!(
            decode_event(cmd::ENTRY_GET, &d),
            Ok(Some(Event::EntryDeleted { channel: 3, .. }))
        ));
        assert_eq!(decode_event(cmd::UPDATE, &[]), Ok(None));
    }

    #[test]
    fn malformed_notifications() {
        // A channel-ntf with more than the id but not everything.
        let mut c = Vec::new();
        raw(&mut c, 1, &3u32.to_ne_bytes());
        raw(&mut c, 5, &3u32.to_ne_bytes());
        assert_eq!(
            decode_event(cmd::CHANNEL_NTF, &c),
            Err(ParseError::Missing("sections"))
        );
        assert_eq!(
            decode_event(cmd::CHANNEL_NTF, &[]),
            Err(ParseError::Missing("id"))
        );
        assert_eq!(
            decode_event(cmd::ACK_NTF, &[1, 0]),
            Err(ParseError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn json_lines() {
        let j = |e: &Event| serde_json::to_string(e).expect("serializes");
        assert_eq!(
            j(&Event::Ack(Ack {
                channel: 1,
                epoch: None,
                opid: 2,
                cookie: 4,
                duplicate: false
            })),
            "{\"event\":\"ack\",\"channel\":1,\"opid\":2,\"cookie\":4,\"duplicate\":false}"
        );
        assert_eq!(
            j(&Event::Ack(Ack {
                channel: 1,
                epoch: Some(3),
                opid: 2,
                cookie: 4,
                duplicate: false
            })),
            "{\"event\":\"ack\",\"channel\":1,\"epoch\":3,\"opid\":2,\"cookie\":4,\"duplicate\":false}"
        );
        assert_eq!(
            j(&Event::EntryDeleted {
                channel: 1,
                name: name("lo")
            }),
            "{\"event\":\"entry-deleted\",\"channel\":1,\"name\":\"lo\"}"
        );
        assert_eq!(j(&Event::Lost), "{\"event\":\"lost\"}");
        let mut e = Vec::new();
        raw(&mut e, 1, &3u32.to_ne_bytes());
        let mut i = Vec::new();
        raw(&mut i, 1, b"lo\0");
        raw(&mut i, 2, &[1]);
        raw_nest(&mut e, 4, &i);
        let ev = decode_event(cmd::ENTRY_NTF, &e)
            .expect("valid")
            .expect("known");
        assert!(j(&ev)
            .starts_with("{\"event\":\"entry\",\"channel\":3,\"name\":\"lo\",\"admin_up\":true,"));
    }
}
