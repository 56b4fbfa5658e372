//! State updates (`update`) and the ACK the kernel answers them with.

use hasync_model::{cookie_of, Op, SectionCount};
use serde::Serialize;

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::op, attr::update, cmd, OpKind};
use crate::record::{encode_name, encode_record};

fn encode_op(o: &Op, w: &mut AttrWriter) -> Result<(), Error> {
    match o {
        Op::Set(r) => w.nest(update::OP, |n| {
            n.put_u32(op::KIND, OpKind::Set as u32)
                .nest(op::IFACE, |f| encode_record(r, f));
        }),
        Op::Del(name) => w.nest(update::OP, |n| {
            n.put_u32(op::KIND, OpKind::Del as u32)
                .nest(op::IFACE, |f| encode_name(name, f));
        }),
        // The module has no rename: its delete and set, in the same update,
        // are applied together or not at all.
        Op::Rename { from, record } => {
            encode_op(&Op::Del(from.clone()), w)?;
            return encode_op(&Op::Set(record.clone()), w);
        }
        // The module replaces sections by replay (`replay-begin`), never
        // inside an update.
        Op::ReplaceSection { .. } => {
            return Err(Error::Unencodable("a section replace in an update"))
        }
    };
    Ok(())
}

/// An `update` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Channel id.
    pub channel: u32,
    /// The sender's epoch; below the channel's owner epoch it is fenced.
    pub epoch: u32,
    /// Operation id: the register + 1 (at or below the register, a duplicate).
    pub opid: u64,
    /// Bitmask of the sections the ops touch; the kernel checks it.
    pub cookie: u64,
    /// The ops, applied all or none: sets and deletes (a section replace
    /// goes as a replay, so it cannot be encoded here).
    pub ops: Vec<Op>,
}

impl Update {
    /// An update with its cookie computed for a channel of `sections`
    /// sections.
    pub fn new(channel: u32, epoch: u32, opid: u64, ops: Vec<Op>, sections: SectionCount) -> Self {
        let cookie = cookie_of(&ops, sections);
        Update {
            channel,
            epoch,
            opid,
            cookie,
            ops,
        }
    }

    /// The request's attributes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut w = AttrWriter::new();
        w.put_u32(update::CHANNEL, self.channel)
            .put_u32(update::EPOCH, self.epoch)
            .put_u64(update::OPID, self.opid)
            .put_u64(update::COOKIE, self.cookie);
        for o in &self.ops {
            encode_op(o, &mut w)?;
        }
        Ok(w.finish()?)
    }
}

/// The kernel's acknowledgement of an update (also `ack-ntf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Channel id.
    pub channel: u32,
    /// The epoch of the update at `opid`: the sender's when applied, the
    /// one the cookie log holds for a duplicate. `None` from a module that
    /// does not report it, or for a duplicate the log has forgotten.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// The acknowledged opid.
    pub opid: u64,
    /// The update's cookie (for a replay, the replayed sections).
    pub cookie: u64,
    /// The opid was at or below the register: nothing was applied.
    pub duplicate: bool,
}

impl Ack {
    /// Parses the attributes of an `update` reply or `ack-ntf`.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut channel = None;
        let mut epoch = None;
        let mut opid = None;
        let mut cookie = None;
        let mut duplicate = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = update::name(a.kind).unwrap_or("?");
            match a.kind {
                update::CHANNEL => set_once(&mut channel, a.u32(n)?, n)?,
                update::EPOCH => set_once(&mut epoch, a.u32(n)?, n)?,
                update::OPID => set_once(&mut opid, a.uint(n)?, n)?,
                update::COOKIE => set_once(&mut cookie, a.uint(n)?, n)?,
                update::DUPLICATE => set_once(&mut duplicate, a.flag(n)?, n)?,
                _ => {}
            }
        }
        Ok(Ack {
            channel: channel.ok_or(ParseError::Missing("channel"))?,
            epoch,
            opid: opid.ok_or(ParseError::Missing("opid"))?,
            cookie: cookie.ok_or(ParseError::Missing("cookie"))?,
            duplicate: duplicate.unwrap_or(false),
        })
    }

    /// Parses an ACK answering `u`.
    pub(crate) fn answering(u: &Update, attrs: &[u8]) -> Result<Self, ParseError> {
        let ack = Ack::from_attrs(attrs)?;
        check_echo("channel", u.channel, ack.channel)?;
        Ok(ack)
    }
}

impl Client {
    /// Applies one update and waits for its ACK. Use
    /// [`Client::update_batch`] to keep many in flight.
    pub fn update(&mut self, u: &Update) -> Result<Ack, Error> {
        let attrs = self.call(cmd::UPDATE, &u.encode()?)?;
        Ok(Ack::answering(u, &attrs)?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::tests::{name, raw, raw_nest, sample, sample_bytes};

    pub(crate) fn sample_update() -> Update {
        Update::new(
            3,
            2,
            1 << 33,
            vec![Op::Set(sample()), Op::Del(name("lo"))],
            SectionCount::MAX,
        )
    }

    #[test]
    fn cookie_is_computed() {
        // eth0 -> section 4, lo -> section 0x2c (kmod/kunit/vectors.rs).
        assert_eq!(sample_update().cookie, 1 << 4 | 1 << 0x2c);
    }

    #[test]
    fn encodes_to_kernel_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        raw(&mut want, 2, &2u32.to_ne_bytes());
        raw(&mut want, 3, &(1u64 << 33).to_ne_bytes());
        raw(&mut want, 4, &(1u64 << 4 | 1 << 0x2c).to_ne_bytes());
        let mut o = Vec::new();
        raw(&mut o, 1, &0u32.to_ne_bytes());
        raw_nest(&mut o, 2, &sample_bytes());
        raw_nest(&mut want, 5, &o);
        let mut o = Vec::new();
        raw(&mut o, 1, &1u32.to_ne_bytes());
        let mut i = Vec::new();
        raw(&mut i, 1, b"lo\0");
        raw_nest(&mut o, 2, &i);
        raw_nest(&mut want, 5, &o);
        assert_eq!(sample_update().encode().expect("small"), want);
        let mut u = sample_update();
        u.ops.push(Op::ReplaceSection {
            section: 0,
            records: Vec::new(),
        });
        assert!(matches!(u.encode(), Err(Error::Unencodable(_))));
    }

    pub(crate) fn ack_bytes(channel: u32, opid: u64, cookie: u64, dup: bool) -> Vec<u8> {
        let mut b = Vec::new();
        raw(&mut b, 1, &channel.to_ne_bytes());
        raw(&mut b, 3, &opid.to_ne_bytes());
        raw(&mut b, 4, &(cookie as u32).to_ne_bytes());
        if dup {
            raw(&mut b, 6, &[]);
        }
        b
    }

    #[test]
    fn parses_acks() {
        let u = sample_update();
        assert_eq!(
            Ack::answering(&u, &ack_bytes(3, 7, 16, false)),
            Ok(Ack {
                channel: 3,
                epoch: None,
                opid: 7,
                cookie: 16,
                duplicate: false
            })
        );
        let mut b = ack_bytes(3, 7, 16, false);
        raw(&mut b, 2, &5u32.to_ne_bytes());
        assert_eq!(Ack::from_attrs(&b).map(|a| a.epoch), Ok(Some(5)));
        assert!(
            Ack::from_attrs(&ack_bytes(3, 7, 16, true))
                .expect("valid")
                .duplicate
        );
        assert_eq!(
            Ack::answering(&u, &ack_bytes(4, 7, 16, false)),
            Err(ParseError::Invalid {
                attr: "channel",
                why: "does not match the request"
            })
        );
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        raw(&mut b, 4, &0u32.to_ne_bytes());
        assert_eq!(Ack::from_attrs(&b), Err(ParseError::Missing("opid")));
        let mut b = ack_bytes(3, 7, 16, false);
        raw(&mut b, 6, &[1]);
        assert!(matches!(
            Ack::from_attrs(&b),
            Err(ParseError::BadLength {
                attr: "duplicate",
                ..
            })
        ));
    }
}
