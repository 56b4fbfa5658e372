//! Section replay: `replay-begin`, `replay-entries`, `replay-commit`,
//! `replay-abort`. One replay may be open per socket, so per [`Client`];
//! dropping the client aborts it.

use hasync_model::IfRecord;
use serde::Serialize;

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::replay, cmd};
use crate::genl::Outcome;
use crate::record::encode_record;

/// Most attribute bytes per `replay-entries` message; more records go in
/// more messages (sent together).
pub const ENTRIES_MSG_MAX: usize = 16 * 1024;

/// A `replay-begin` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayBegin {
    /// Channel id.
    pub channel: u32,
    /// The replayer's epoch (fenced if below the owner's).
    pub epoch: u32,
    /// The register after the commit; at least the current register.
    pub opid: u64,
    /// Bitmask of the sections being replaced.
    pub sections: u64,
}

impl ReplayBegin {
    /// The request's attributes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut w = AttrWriter::new();
        w.put_u32(replay::CHANNEL, self.channel)
            .put_u32(replay::EPOCH, self.epoch)
            .put_u64(replay::OPID, self.opid)
            .put_u64(replay::SECTIONS, self.sections);
        Ok(w.finish()?)
    }
}

/// The reply to `replay-commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayDone {
    /// Channel id.
    pub channel: u32,
    /// The replay's epoch (`None` from a module that does not report it).
    pub epoch: Option<u32>,
    /// The register now.
    pub opid: u64,
    /// The sections replaced.
    pub sections: u64,
}

impl ReplayDone {
    /// Parses the attributes of a `replay-commit` reply.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut channel = None;
        let mut epoch = None;
        let mut opid = None;
        let mut sections = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = replay::name(a.kind).unwrap_or("?");
            match a.kind {
                replay::CHANNEL => set_once(&mut channel, a.u32(n)?, n)?,
                replay::EPOCH => set_once(&mut epoch, a.u32(n)?, n)?,
                replay::OPID => set_once(&mut opid, a.uint(n)?, n)?,
                replay::SECTIONS => set_once(&mut sections, a.uint(n)?, n)?,
                _ => {}
            }
        }
        Ok(ReplayDone {
            channel: channel.ok_or(ParseError::Missing("channel"))?,
            epoch,
            opid: opid.ok_or(ParseError::Missing("opid"))?,
            sections: sections.ok_or(ParseError::Missing("sections"))?,
        })
    }
}

fn channel_attr(channel: u32) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    w.put_u32(replay::CHANNEL, channel);
    Ok(w.finish()?)
}

/// The attributes of the `replay-entries` messages staging `records`: as
/// many records per message as fit in `max` bytes (at least one).
pub fn encode_replay_entries(
    channel: u32,
    records: &[IfRecord],
    max: usize,
) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let mut w = AttrWriter::new();
        w.put_u32(replay::CHANNEL, channel);
        let head = w.len();
        let mut n = 0;
        for r in rest {
            let mut one = AttrWriter::new();
            one.nest(replay::IFACE, |f| encode_record(r, f));
            let one = one.finish()?;
            if w.len() > head && w.len() + one.len() > max {
                break;
            }
            w.put_raw(&one);
            n += 1;
        }
        out.push(w.finish()?);
        rest = &rest[n..];
    }
    Ok(out)
}

impl Client {
    /// Opens a replay on this client's socket.
    pub fn replay_begin(&mut self, r: &ReplayBegin) -> Result<(), Error> {
        self.call_ack(cmd::REPLAY_BEGIN, &r.encode()?)
    }

    /// Stages records for the open replay (any number; sent as several
    /// messages together). Returns the first error.
    pub fn replay_entries(&mut self, channel: u32, records: &[IfRecord]) -> Result<(), Error> {
        let reqs = encode_replay_entries(channel, records, ENTRIES_MSG_MAX)?
            .into_iter()
            .map(|attrs| self.request(cmd::REPLAY_ENTRIES, true, attrs))
            .collect::<Vec<_>>();
        for o in self.pipeline(&reqs)? {
            if let Outcome::Failed(e) = o {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Installs the staged records in place of the replayed sections and
    /// sets the register, atomically.
    pub fn replay_commit(&mut self, channel: u32) -> Result<ReplayDone, Error> {
        let attrs = self.call(cmd::REPLAY_COMMIT, &channel_attr(channel)?)?;
        let done = ReplayDone::from_attrs(&attrs)?;
        check_echo("channel", channel, done.channel)?;
        Ok(done)
    }

    /// Discards the open replay.
    pub fn replay_abort(&mut self, channel: u32) -> Result<(), Error> {
        self.call_ack(cmd::REPLAY_ABORT, &channel_attr(channel)?)
    }

    /// A whole replay: begin, stage `records`, commit. On failure after the
    /// begin the replay is aborted (best effort) and the first error
    /// returned.
    pub fn replay(&mut self, r: &ReplayBegin, records: &[IfRecord]) -> Result<ReplayDone, Error> {
        self.replay_begin(r)?;
        let done = self
            .replay_entries(r.channel, records)
            .and_then(|()| self.replay_commit(r.channel));
        if done.is_err() {
            let _ = self.replay_abort(r.channel);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{name, raw, raw_nest};

    #[test]
    fn begin_bytes() {
        let r = ReplayBegin {
            channel: 3,
            epoch: 2,
            opid: 10,
            sections: 1 << 63 | 1,
        };
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        raw(&mut want, 2, &2u32.to_ne_bytes());
        raw(&mut want, 3, &10u64.to_ne_bytes());
        raw(&mut want, 4, &(1u64 << 63 | 1).to_ne_bytes());
        assert_eq!(r.encode().expect("small"), want);
        assert_eq!(channel_attr(3).expect("small"), want[..8]);
    }

    #[test]
    fn entries_are_split_by_size() {
        let ifaces: Vec<_> = (0..5)
            .map(|i| IfRecord::new(name(&format!("e{i}"))))
            .collect();
        // Each iface nest: 4 + 8 ("eN\0" padded) = 12 bytes; channel: 8.
        let msgs = encode_replay_entries(3, &ifaces, 8 + 2 * 12).expect("small");
        assert_eq!(msgs.len(), 3);
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        for name in [b"e0\0", b"e1\0"] {
            let mut i = Vec::new();
            raw(&mut i, 1, name);
            raw_nest(&mut want, 5, &i);
        }
        assert_eq!(msgs[0], want);
        assert_eq!(msgs[2].len(), 8 + 12);
        // A record larger than the limit still goes, alone.
        let one = encode_replay_entries(3, &ifaces[..2], 1).expect("small");
        assert_eq!(one.len(), 2);
        assert!(encode_replay_entries(3, &[], 100)
            .expect("small")
            .is_empty());
    }

    #[test]
    fn commit_reply() {
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        raw(&mut b, 3, &10u32.to_ne_bytes());
        raw(&mut b, 4, &(1u64 << 40).to_ne_bytes());
        assert_eq!(
            ReplayDone::from_attrs(&b),
            Ok(ReplayDone {
                channel: 3,
                epoch: None,
                opid: 10,
                sections: 1 << 40
            })
        );
        assert_eq!(
            ReplayDone::from_attrs(&b[..16]),
            Err(ParseError::Missing("sections"))
        );
    }
}
