//! Replication messages between control units and their codec.
//!
//! # Frame
//!
//! ```text
//! 0      2        3       4            8
//! +------+--------+-------+------------+---------------- - -
//! | "HS" | version| type  | length u32 | payload (length bytes)
//! +------+--------+-------+------------+---------------- - -
//! ```
//!
//! All integers are big-endian. `length` counts payload bytes only and is at
//! most [`MAX_PAYLOAD`], checked *before* anything is allocated, so a hostile
//! length cannot make the decoder reserve memory. Every count inside a
//! payload is bounded by a protocol limit and by the bytes that remain, every
//! record is validated with the same rules as the kernel ([`crate::table`]),
//! and a payload must be consumed exactly (no trailing bytes). Any violation
//! is a typed [`WireError`]; the decoder never panics (fuzzed by a proptest).
//!
//! Records use the canonical encoding of [`crate::table`], so the bytes that
//! travel are the bytes that are hashed.
//!
//! # Versions
//!
//! The version byte is the format of that frame: a frame is written in the
//! oldest format that can carry it, so every message the first release
//! knows travels byte for byte as the first release wrote it, and only a
//! frame holding something newer says so (format 2: an update with a
//! rename op, or any message with a record of release 2: a known speed or
//! a description over 64 bytes, [`IfRecord::release`]). A message whose
//! form changed rather than grew has one variant per form: release 2's
//! receipt watermark dropped release 1's queue depth, so `Have` is format
//! 2 and release 1's form is `HaveDepth`, format 1. A decoder accepts `MIN_VERSION..=VERSION`, rejects the rest
//! with [`WireError::Version`] and refuses, in an older format's frame,
//! what that format lacks. What a peer of an older release can take is
//! decided above this codec, at the handshake ([`crate::release`]), and
//! what it cannot is transformed there ([`crate::transform`]).
//!
//! Message types were added within format 1 only where the first release
//! could not have worked without them: a checkpoint *part* (type 13) is
//! sent only for a section whose content does not fit one TIPC message,
//! which a first-release standby could never receive at all. Every section
//! that fits still travels as the first release's checkpoint.

use crate::election::{Candidacy, ChannelMode, ChannelState};
use crate::table::{
    IfName, IfRecord, Op, Prefix, MAX_ADDRS, MAX_OPS, MAX_REPLACE_RECORDS, NAME_MAX,
};
use crate::tcp_state::TcpState;
use crate::{ChannelId, Epoch, NodeId, Opid};

/// Frame magic.
pub const MAGIC: [u8; 2] = *b"HS";
/// Newest format version this code writes (for frames that need it).
pub const VERSION: u8 = 2;
/// Oldest format version this code reads.
pub const MIN_VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = 8;
/// Largest payload: a full section of maximal records fits with room.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Most channel entries in one NewPrimary message.
pub const MAX_CHANNELS: usize = 65536;

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not enough bytes for the header or for the declared payload.
    #[error("truncated frame")]
    Truncated,
    /// First two bytes are not "HS".
    #[error("bad magic")]
    Magic,
    /// Version outside what we read.
    #[error("unsupported version {0}")]
    Version(u8),
    /// Unknown message type.
    #[error("unknown message type {0}")]
    Type(u8),
    /// The frame's format is not the oldest that carries its content (one
    /// form per message: older content in a newer frame is refused too).
    #[error("frame format {frame} for content of format {content}")]
    Format {
        /// The frame's version byte.
        frame: u8,
        /// The oldest format that carries the content.
        content: u8,
    },
    /// Declared payload longer than [`MAX_PAYLOAD`].
    #[error("payload length {0} too large")]
    TooLong(u32),
    /// Payload ended inside a field.
    #[error("payload ends inside field {0}")]
    Short(&'static str),
    /// Payload has bytes after the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A count exceeds its protocol limit.
    #[error("{0} count over limit")]
    Limit(&'static str),
    /// An enum tag or flag byte has no meaning.
    #[error("bad tag in {0}")]
    Tag(&'static str),
    /// A field contradicts another (order, range).
    #[error("inconsistent field {0}")]
    Inconsistent(&'static str),
    /// A record or op breaks a table rule.
    #[error("invalid record: {0}")]
    Record(#[from] crate::table::TableError),
}

/// A state update, with the issuing primary's epoch for fencing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Channel.
    pub channel: ChannelId,
    /// Epoch of the primary that issued it.
    pub epoch: Epoch,
    /// Operation id.
    pub opid: Opid,
    /// Sections touched.
    pub cookie: u64,
    /// Ops, applied atomically.
    pub ops: Vec<Op>,
}

/// A (possibly cumulative) acknowledgement: the kernel applied every opid
/// `<= opid` on `channel`; `epoch` is the epoch of the op at `opid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Channel.
    pub channel: ChannelId,
    /// Epoch of the acknowledged op.
    pub epoch: Epoch,
    /// Highest applied opid.
    pub opid: Opid,
    /// Cookie of that op.
    pub cookie: u64,
}

/// What a follower must do with a channel when a new primary takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebase {
    /// Channel.
    pub channel: ChannelId,
    /// The new primary's table holds the stream up to here (plus `dirty`
    /// sections being replayed); a follower needs at least this much.
    pub base: Opid,
    /// Kernel register at takeover; the new stream continues after it.
    pub register: Opid,
    /// Sections the new primary is replaying; the follower's copy of them
    /// is unreliable until it applies their ReplaceSection.
    pub dirty: u64,
}

/// One connection of the control API's TCP face, as a standby holds it
/// to take it over: its transport state and where its authentication
/// stands (`hasync_ctl::auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConn {
    /// The primary's handle for it (stable while the connection lives).
    pub id: u64,
    /// The nonce of its greeting.
    pub nonce: [u8; 16],
    /// The sequence number of the first request not answered: the one the
    /// unanswered bytes in `state.inq` start with.
    pub next: u64,
    /// Transport state; `inq` holds every byte not yet answered.
    pub state: TcpState,
}

/// Most TCP face connections in one [`Message::TcpConns`].
pub const MAX_TCP_CONNS: usize = 256;

/// Messages between control units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Primary → standby: an update to hold until its ACK.
    Update(Update),
    /// Primary → standby: a forwarded kernel ACK.
    Ack(Ack),
    /// Standby → primary: contiguous receipt watermark (format 2).
    Have {
        /// Channel.
        channel: ChannelId,
        /// Epoch of the stream the standby follows.
        epoch: Epoch,
        /// Every update `<= opid` is held or applied.
        opid: Opid,
    },
    /// [`Message::Have`] as release 1 sends it (format 1), with the
    /// standby's queue depth, which no primary ever read: release 2
    /// dropped the field, so only the transforms
    /// ([`crate::transform`]) make or take this form.
    HaveDepth {
        /// Channel.
        channel: ChannelId,
        /// Epoch of the stream the standby follows.
        epoch: Epoch,
        /// Every update `<= opid` is held or applied.
        opid: Opid,
        /// Updates waiting in the pending queue.
        pending: u32,
    },
    /// Standby → primary: (re)start a bulk sync of this channel.
    SyncRequest {
        /// Channel.
        channel: ChannelId,
    },
    /// Primary → syncing standby: one section of a snapshot.
    Checkpoint {
        /// Channel.
        channel: ChannelId,
        /// Which sync attempt.
        sync_id: u64,
        /// Chunk number within the attempt.
        seq: u32,
        /// Stream position when the sync began: the standby keeps every
        /// update after it for the redo at the declaration.
        base: Opid,
        /// Primary's opid when the section was read.
        opid: Opid,
        /// Section.
        section: u32,
        /// Section content sorted by name.
        records: Vec<IfRecord>,
    },
    /// Primary → syncing standby: one page of a section too large for one
    /// message: the records of `section` named in `(after, upto]` (`None`:
    /// open at that end), which replace what the standby holds there.
    CheckpointPart {
        /// Channel.
        channel: ChannelId,
        /// Which sync attempt.
        sync_id: u64,
        /// Chunk number within the attempt.
        seq: u32,
        /// Stream position when the sync began.
        base: Opid,
        /// Primary's opid when the page was read.
        opid: Opid,
        /// Section.
        section: u32,
        /// Names after this one (from the section's start when `None`).
        after: Option<IfName>,
        /// Names up to and including this one (to the end when `None`).
        upto: Option<IfName>,
        /// The range's content sorted by name.
        records: Vec<IfRecord>,
    },
    /// Standby → primary: chunk received.
    CheckpointAck {
        /// Channel.
        channel: ChannelId,
        /// Sync attempt.
        sync_id: u64,
        /// Chunk number.
        seq: u32,
    },
    /// Primary → standby: all chunks acked and the kernel acked `opid`;
    /// redo updates `base+1..=opid` on the snapshot and the channel is hot.
    SyncDeclaration {
        /// Channel.
        channel: ChannelId,
        /// Sync attempt.
        sync_id: u64,
        /// Stream position when the snapshot began.
        base: Opid,
        /// Consistent point: the highest chunk opid, kernel-acked.
        opid: Opid,
        /// Number of chunks sent.
        chunks: u32,
    },
    /// Audit: a node's per-section digests at a given opid.
    Digests {
        /// Channel.
        channel: ChannelId,
        /// Opid the digests describe.
        opid: Opid,
        /// One digest per section.
        digests: Vec<u64>,
    },
    /// Audit: sections whose digests differ at `opid`.
    DigestReport {
        /// Channel.
        channel: ChannelId,
        /// Opid compared at.
        opid: Opid,
        /// Mismatched sections.
        mismatch: u64,
    },
    /// New primary → followers after a failover.
    NewPrimary {
        /// New primary.
        node: NodeId,
        /// Its epoch.
        epoch: Epoch,
        /// Epoch of the stream the new primary followed; a follower on any
        /// other stream cannot rebase and bulk syncs instead.
        prev_epoch: Epoch,
        /// Per channel rebase instructions.
        channels: Vec<Rebase>,
    },
    /// A (re)starting node asks the primary to bulk sync it.
    Hello {
        /// The node.
        node: NodeId,
    },
    /// Standby → standbys when the primary is lost: the sender's state for
    /// the election ([`crate::election`]).
    Candidacy {
        /// The receiver should answer with its own candidacy.
        ask: bool,
        /// The sender's frozen state.
        candidacy: Candidacy,
    },
    /// Primary → hot standbys: every TCP face connection as of commit
    /// round `round` (the whole set: it replaces the last one). Format 2.
    TcpConns {
        /// The primary's commit round.
        round: u64,
        /// The connections.
        conns: Vec<TcpConn>,
    },
    /// Standby → primary: it holds round `round`. Format 2.
    TcpConnsAck {
        /// The round held.
        round: u64,
    },
}

const T_UPDATE: u8 = 1;
const T_ACK: u8 = 2;
const T_HAVE: u8 = 3;
const T_SYNC_REQUEST: u8 = 4;
const T_CHECKPOINT: u8 = 5;
const T_CHECKPOINT_ACK: u8 = 6;
const T_SYNC_DECL: u8 = 7;
const T_DIGESTS: u8 = 8;
const T_DIGEST_REPORT: u8 = 9;
const T_NEW_PRIMARY: u8 = 10;
const T_HELLO: u8 = 11;
const T_CANDIDACY: u8 = 12;
const T_CHECKPOINT_PART: u8 = 13;
const T_TCP_CONNS: u8 = 14;
const T_TCP_CONNS_ACK: u8 = 15;

const MODE_COLD: u8 = 0;
const MODE_SYNCING: u8 = 1;
const MODE_HOT: u8 = 2;

const OP_SET: u8 = 1;
const OP_DEL: u8 = 2;
const OP_REPLACE: u8 = 3;
/// Format 2 on.
const OP_RENAME: u8 = 4;

impl Message {
    /// Encode as one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        let ty = match self {
            Message::Update(u) => {
                put_update(&mut p, u);
                T_UPDATE
            }
            Message::Ack(a) => {
                put_ack(&mut p, a);
                T_ACK
            }
            Message::Have {
                channel,
                epoch,
                opid,
            }
            | Message::HaveDepth {
                channel,
                epoch,
                opid,
                ..
            } => {
                p.extend_from_slice(&channel.to_be_bytes());
                p.extend_from_slice(&epoch.to_be_bytes());
                p.extend_from_slice(&opid.to_be_bytes());
                // Release 1's form ends with the queue depth.
                if let Message::HaveDepth { pending, .. } = self {
                    p.extend_from_slice(&pending.to_be_bytes());
                }
                T_HAVE
            }
            Message::SyncRequest { channel } => {
                p.extend_from_slice(&channel.to_be_bytes());
                T_SYNC_REQUEST
            }
            Message::Checkpoint {
                channel,
                sync_id,
                seq,
                base,
                opid,
                section,
                records,
            } => {
                put_chunk_head(&mut p, *channel, *sync_id, *seq, *base, *opid);
                put_section(&mut p, *section, records);
                T_CHECKPOINT
            }
            Message::CheckpointPart {
                channel,
                sync_id,
                seq,
                base,
                opid,
                section,
                after,
                upto,
                records,
            } => {
                put_chunk_head(&mut p, *channel, *sync_id, *seq, *base, *opid);
                put_bound(&mut p, after.as_ref());
                put_bound(&mut p, upto.as_ref());
                put_section(&mut p, *section, records);
                T_CHECKPOINT_PART
            }
            Message::CheckpointAck {
                channel,
                sync_id,
                seq,
            } => {
                p.extend_from_slice(&channel.to_be_bytes());
                p.extend_from_slice(&sync_id.to_be_bytes());
                p.extend_from_slice(&seq.to_be_bytes());
                T_CHECKPOINT_ACK
            }
            Message::SyncDeclaration {
                channel,
                sync_id,
                base,
                opid,
                chunks,
            } => {
                p.extend_from_slice(&channel.to_be_bytes());
                p.extend_from_slice(&sync_id.to_be_bytes());
                p.extend_from_slice(&base.to_be_bytes());
                p.extend_from_slice(&opid.to_be_bytes());
                p.extend_from_slice(&chunks.to_be_bytes());
                T_SYNC_DECL
            }
            Message::Digests {
                channel,
                opid,
                digests,
            } => {
                p.extend_from_slice(&channel.to_be_bytes());
                p.extend_from_slice(&opid.to_be_bytes());
                // At most 64 digests (one per section); validated on decode.
                p.push(digests.len() as u8);
                for d in digests {
                    p.extend_from_slice(&d.to_be_bytes());
                }
                T_DIGESTS
            }
            Message::DigestReport {
                channel,
                opid,
                mismatch,
            } => {
                p.extend_from_slice(&channel.to_be_bytes());
                p.extend_from_slice(&opid.to_be_bytes());
                p.extend_from_slice(&mismatch.to_be_bytes());
                T_DIGEST_REPORT
            }
            Message::NewPrimary {
                node,
                epoch,
                prev_epoch,
                channels,
            } => {
                p.extend_from_slice(&node.to_be_bytes());
                p.extend_from_slice(&epoch.to_be_bytes());
                p.extend_from_slice(&prev_epoch.to_be_bytes());
                p.extend_from_slice(&(channels.len() as u32).to_be_bytes());
                for r in channels {
                    p.extend_from_slice(&r.channel.to_be_bytes());
                    p.extend_from_slice(&r.base.to_be_bytes());
                    p.extend_from_slice(&r.register.to_be_bytes());
                    p.extend_from_slice(&r.dirty.to_be_bytes());
                }
                T_NEW_PRIMARY
            }
            Message::Hello { node } => {
                p.extend_from_slice(&node.to_be_bytes());
                T_HELLO
            }
            Message::Candidacy { ask, candidacy } => {
                p.extend_from_slice(&candidacy.node.to_be_bytes());
                p.extend_from_slice(&candidacy.epoch.to_be_bytes());
                p.push(u8::from(*ask));
                p.extend_from_slice(&(candidacy.channels.len() as u32).to_be_bytes());
                for c in &candidacy.channels {
                    p.extend_from_slice(&c.channel.to_be_bytes());
                    p.push(match c.mode {
                        ChannelMode::Cold => MODE_COLD,
                        ChannelMode::Syncing => MODE_SYNCING,
                        ChannelMode::Hot => MODE_HOT,
                    });
                    p.extend_from_slice(&c.applied.to_be_bytes());
                    p.extend_from_slice(&c.have.to_be_bytes());
                }
                T_CANDIDACY
            }
            Message::TcpConns { round, conns } => {
                p.extend_from_slice(&round.to_be_bytes());
                p.extend_from_slice(&(conns.len() as u16).to_be_bytes());
                for c in conns {
                    p.extend_from_slice(&c.id.to_be_bytes());
                    p.extend_from_slice(&c.nonce);
                    p.extend_from_slice(&c.next.to_be_bytes());
                    let st = c.state.encode();
                    p.extend_from_slice(&(st.len() as u32).to_be_bytes());
                    p.extend_from_slice(&st);
                }
                T_TCP_CONNS
            }
            Message::TcpConnsAck { round } => {
                p.extend_from_slice(&round.to_be_bytes());
                T_TCP_CONNS_ACK
            }
        };
        let mut f = Vec::with_capacity(HEADER_LEN + p.len());
        f.extend_from_slice(&MAGIC);
        f.push(self.format());
        f.push(ty);
        // Payloads we build stay far below 4 GiB; receivers enforce MAX_PAYLOAD.
        f.extend_from_slice(&(p.len() as u32).to_be_bytes());
        f.extend_from_slice(&p);
        f
    }

    /// The oldest frame format that carries this message (see the module
    /// docs).
    pub fn format(&self) -> u8 {
        let newest = |rs: &mut dyn Iterator<Item = &IfRecord>| rs.map(IfRecord::release).max();
        let records = match self {
            Message::Update(u) if u.ops.iter().any(|o| matches!(o, Op::Rename { .. })) => return 2,
            Message::Update(u) => newest(&mut u.ops.iter().flat_map(Op::records)),
            Message::Checkpoint { records, .. } | Message::CheckpointPart { records, .. } => {
                newest(&mut records.iter())
            }
            // Its form without the queue depth release 2 dropped.
            Message::Have { .. } => Some(2),
            Message::TcpConns { .. } | Message::TcpConnsAck { .. } => return 2,
            _ => None,
        };
        // Release numbers and formats have moved together so far.
        records.map_or(1, |r| r as u8)
    }

    /// Decode the first frame in `buf`. `Ok(None)` means "need more bytes"
    /// (stream transports); on success also returns the bytes consumed.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, WireError> {
        if buf.len() < HEADER_LEN {
            // Reject garbage early even before the header is complete.
            if buf.len() >= 2 && buf[..2] != MAGIC {
                return Err(WireError::Magic);
            }
            return Ok(None);
        }
        if buf[..2] != MAGIC {
            return Err(WireError::Magic);
        }
        let version = buf[2];
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(WireError::Version(version));
        }
        let ty = buf[3];
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if len as usize > MAX_PAYLOAD {
            return Err(WireError::TooLong(len));
        }
        let end = HEADER_LEN + len as usize;
        if buf.len() < end {
            return Ok(None);
        }
        let mut r = Reader {
            buf: &buf[HEADER_LEN..end],
        };
        let msg = decode_payload(ty, version, &mut r)?;
        if msg.format() != version {
            return Err(WireError::Format {
                frame: version,
                content: msg.format(),
            });
        }
        if !r.buf.is_empty() {
            return Err(WireError::Trailing(r.buf.len()));
        }
        Ok(Some((msg, end)))
    }

    /// Decode a buffer holding exactly one frame (datagram transports such
    /// as TIPC RDM/SEQPACKET).
    pub fn decode_exact(buf: &[u8]) -> Result<Message, WireError> {
        match Message::decode(buf)? {
            Some((m, n)) if n == buf.len() => Ok(m),
            Some((_, n)) => Err(WireError::Trailing(buf.len() - n)),
            None => Err(WireError::Truncated),
        }
    }
}

fn put_update(p: &mut Vec<u8>, u: &Update) {
    p.extend_from_slice(&u.channel.to_be_bytes());
    p.extend_from_slice(&u.epoch.to_be_bytes());
    p.extend_from_slice(&u.opid.to_be_bytes());
    p.extend_from_slice(&u.cookie.to_be_bytes());
    // Bounded by MAX_OPS (validated before an update is built and on decode).
    p.push(u.ops.len() as u8);
    for op in &u.ops {
        match op {
            Op::Set(rec) => {
                p.push(OP_SET);
                rec.encode(p);
            }
            Op::Del(n) => {
                p.push(OP_DEL);
                p.push(n.as_bytes().len() as u8);
                p.extend_from_slice(n.as_bytes());
            }
            Op::ReplaceSection { section, records } => {
                p.push(OP_REPLACE);
                put_section(p, *section, records);
            }
            Op::Rename { from, record } => {
                p.push(OP_RENAME);
                p.push(from.as_bytes().len() as u8);
                p.extend_from_slice(from.as_bytes());
                record.encode(p);
            }
        }
    }
}

fn put_section(p: &mut Vec<u8>, section: u32, records: &[IfRecord]) {
    // Sections are < 64 and records <= MAX_REPLACE_RECORDS (validated
    // ops, byte-bounded chunks): both fit their fields.
    p.push(section as u8);
    p.extend_from_slice(&(records.len() as u16).to_be_bytes());
    for rec in records {
        rec.encode(p);
    }
}

/// What every checkpoint chunk starts with: channel, sync id, seq, base,
/// opid.
fn put_chunk_head(
    p: &mut Vec<u8>,
    channel: ChannelId,
    sync_id: u64,
    seq: u32,
    base: Opid,
    opid: Opid,
) {
    p.extend_from_slice(&channel.to_be_bytes());
    p.extend_from_slice(&sync_id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&base.to_be_bytes());
    p.extend_from_slice(&opid.to_be_bytes());
}

/// A range bound: a name, or length 0 for an open end.
fn put_bound(p: &mut Vec<u8>, name: Option<&IfName>) {
    match name {
        // Names are at most NAME_MAX (15) bytes.
        Some(n) => {
            p.push(n.as_bytes().len() as u8);
            p.extend_from_slice(n.as_bytes());
        }
        None => p.push(0),
    }
}

fn put_ack(p: &mut Vec<u8>, a: &Ack) {
    p.extend_from_slice(&a.channel.to_be_bytes());
    p.extend_from_slice(&a.epoch.to_be_bytes());
    p.extend_from_slice(&a.opid.to_be_bytes());
    p.extend_from_slice(&a.cookie.to_be_bytes());
}

/// Reads big-endian fields off a byte slice, each shortfall a
/// [`WireError::Short`] naming the field (also the handshake's reader).
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    /// Bytes not read yet.
    pub(crate) fn left(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Short(what));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(a))
    }
    /// A count bounded by `max` and by what could fit in the bytes left
    /// (each element needs at least `min_size` bytes), so capacity
    /// reservations never exceed the frame size.
    fn count(
        &mut self,
        n: usize,
        max: usize,
        min_size: usize,
        what: &'static str,
    ) -> Result<usize, WireError> {
        if n > max {
            return Err(WireError::Limit(what));
        }
        if n.saturating_mul(min_size) > self.buf.len() {
            return Err(WireError::Short(what));
        }
        Ok(n)
    }
}

fn get_name(r: &mut Reader<'_>) -> Result<IfName, WireError> {
    let n = r.u8("name_len")? as usize;
    if n == 0 || n > NAME_MAX {
        return Err(crate::table::TableError::BadName.into());
    }
    Ok(IfName::new(r.take(n, "name")?)?)
}

fn get_chunk_head(r: &mut Reader<'_>) -> Result<(ChannelId, u64, u32, Opid, Opid), WireError> {
    Ok((
        r.u32("channel")?,
        r.u64("sync_id")?,
        r.u32("seq")?,
        r.u64("base")?,
        r.u64("opid")?,
    ))
}

fn get_bound(r: &mut Reader<'_>) -> Result<Option<IfName>, WireError> {
    let n = r.u8("bound_len")? as usize;
    if n == 0 {
        return Ok(None);
    }
    if n > NAME_MAX {
        return Err(crate::table::TableError::BadName.into());
    }
    Ok(Some(IfName::new(r.take(n, "bound")?)?))
}

/// A checkpoint page's records must be sorted, unique and inside its range.
fn check_page(
    after: Option<&IfName>,
    upto: Option<&IfName>,
    records: &[IfRecord],
) -> Result<(), WireError> {
    if let (Some(a), Some(u)) = (after, upto) {
        if a >= u {
            return Err(WireError::Tag("range"));
        }
    }
    let sorted = records.windows(2).all(|w| w[0].name < w[1].name);
    let inside = |n: &IfName| after.map_or(true, |a| n > a) && upto.map_or(true, |u| n <= u);
    if !sorted || !records.iter().all(|r| inside(&r.name)) {
        return Err(WireError::Tag("page order"));
    }
    Ok(())
}

fn get_record(r: &mut Reader<'_>) -> Result<IfRecord, WireError> {
    let name = get_name(r)?;
    let flags = r.u8("flags")?;
    if flags & !3 != 0 {
        return Err(crate::table::TableError::BadFlags.into());
    }
    let mtu = r.u32("mtu")?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(r.take(6, "mac")?);
    let vlan = r.u16("vlan")?;
    let n = r.u8("addr_count")? as usize;
    let n = r.count(n, MAX_ADDRS, 6, "addrs")?;
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let fam = r.u8("family")?;
        let plen = r.u8("prefix_len")?;
        addrs.push(match fam {
            4 => {
                let mut a = [0u8; 4];
                a.copy_from_slice(r.take(4, "addr4")?);
                Prefix::V4(a, plen)
            }
            6 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(r.take(16, "addr6")?);
                Prefix::V6(a, plen)
            }
            _ => return Err(WireError::Tag("family")),
        });
    }
    let dl = r.u8("desc_len")? as usize;
    let description = r.take(dl, "desc")?.to_vec();
    let speed = if flags & 2 != 0 {
        match r.u32("speed")? {
            // One form per record: an unknown speed is the flag clear.
            0 => return Err(WireError::Tag("speed")),
            v => v,
        }
    } else {
        0
    };
    let rec = IfRecord {
        name,
        admin_up: flags & 1 != 0,
        mtu,
        mac,
        vlan,
        addrs,
        description,
        speed,
    };
    rec.validate()?;
    Ok(rec)
}

fn get_section(r: &mut Reader<'_>) -> Result<(u32, Vec<IfRecord>), WireError> {
    let section = u32::from(r.u8("section")?);
    if section >= crate::table::MAX_SECTIONS {
        return Err(WireError::Tag("section"));
    }
    let n = r.u16("record_count")? as usize;
    // Smallest record: 1+1+1+4+6+2+1+1 = 17 bytes.
    let n = r.count(n, MAX_REPLACE_RECORDS, 17, "records")?;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        records.push(get_record(r)?);
    }
    Ok((section, records))
}

fn get_update(r: &mut Reader<'_>) -> Result<Update, WireError> {
    let channel = r.u32("channel")?;
    let epoch = r.u64("epoch")?;
    let opid = r.u64("opid")?;
    let cookie = r.u64("cookie")?;
    let n = r.u8("op_count")? as usize;
    if n == 0 {
        return Err(WireError::Limit("ops"));
    }
    let n = r.count(n, MAX_OPS, 2, "ops")?;
    let mut ops: Vec<Op> = Vec::with_capacity(n);
    for _ in 0..n {
        ops.push(match r.u8("op")? {
            OP_SET => Op::Set(get_record(r)?),
            OP_DEL => Op::Del(get_name(r)?),
            OP_REPLACE => {
                let (section, records) = get_section(r)?;
                Op::ReplaceSection { section, records }
            }
            OP_RENAME => Op::Rename {
                from: get_name(r)?,
                record: get_record(r)?,
            },
            _ => return Err(WireError::Tag("op")),
        });
    }
    if crate::table::weight_of(&ops) > MAX_OPS {
        return Err(WireError::Limit("ops"));
    }
    Ok(Update {
        channel,
        epoch,
        opid,
        cookie,
        ops,
    })
}

fn decode_payload(ty: u8, version: u8, r: &mut Reader<'_>) -> Result<Message, WireError> {
    Ok(match ty {
        T_UPDATE => Message::Update(get_update(r)?),
        T_ACK => Message::Ack(Ack {
            channel: r.u32("channel")?,
            epoch: r.u64("epoch")?,
            opid: r.u64("opid")?,
            cookie: r.u64("cookie")?,
        }),
        // One message type, two forms: release 1's has the queue depth.
        T_HAVE if version == 1 => Message::HaveDepth {
            channel: r.u32("channel")?,
            epoch: r.u64("epoch")?,
            opid: r.u64("opid")?,
            pending: r.u32("pending")?,
        },
        T_HAVE => Message::Have {
            channel: r.u32("channel")?,
            epoch: r.u64("epoch")?,
            opid: r.u64("opid")?,
        },
        T_SYNC_REQUEST => Message::SyncRequest {
            channel: r.u32("channel")?,
        },
        T_CHECKPOINT => {
            let (channel, sync_id, seq, base, opid) = get_chunk_head(r)?;
            let (section, records) = get_section(r)?;
            Message::Checkpoint {
                channel,
                sync_id,
                seq,
                base,
                opid,
                section,
                records,
            }
        }
        T_CHECKPOINT_PART => {
            let (channel, sync_id, seq, base, opid) = get_chunk_head(r)?;
            let after = get_bound(r)?;
            let upto = get_bound(r)?;
            let (section, records) = get_section(r)?;
            check_page(after.as_ref(), upto.as_ref(), &records)?;
            Message::CheckpointPart {
                channel,
                sync_id,
                seq,
                base,
                opid,
                section,
                after,
                upto,
                records,
            }
        }
        T_CHECKPOINT_ACK => Message::CheckpointAck {
            channel: r.u32("channel")?,
            sync_id: r.u64("sync_id")?,
            seq: r.u32("seq")?,
        },
        T_SYNC_DECL => Message::SyncDeclaration {
            channel: r.u32("channel")?,
            sync_id: r.u64("sync_id")?,
            base: r.u64("base")?,
            opid: r.u64("opid")?,
            chunks: r.u32("chunks")?,
        },
        T_DIGESTS => {
            let channel = r.u32("channel")?;
            let opid = r.u64("opid")?;
            let n = r.u8("digest_count")? as usize;
            let n = r.count(n, crate::table::MAX_SECTIONS as usize, 8, "digests")?;
            let mut digests = Vec::with_capacity(n);
            for _ in 0..n {
                digests.push(r.u64("digest")?);
            }
            Message::Digests {
                channel,
                opid,
                digests,
            }
        }
        T_DIGEST_REPORT => Message::DigestReport {
            channel: r.u32("channel")?,
            opid: r.u64("opid")?,
            mismatch: r.u64("mismatch")?,
        },
        T_NEW_PRIMARY => {
            let node = r.u32("node")?;
            let epoch = r.u64("epoch")?;
            let prev_epoch = r.u64("prev_epoch")?;
            let n = r.u32("channel_count")? as usize;
            let n = r.count(n, MAX_CHANNELS, 28, "channels")?;
            let mut channels = Vec::with_capacity(n);
            for _ in 0..n {
                channels.push(Rebase {
                    channel: r.u32("channel")?,
                    base: r.u64("base")?,
                    register: r.u64("register")?,
                    dirty: r.u64("dirty")?,
                });
            }
            Message::NewPrimary {
                node,
                epoch,
                prev_epoch,
                channels,
            }
        }
        T_HELLO => Message::Hello {
            node: r.u32("node")?,
        },
        T_CANDIDACY => {
            let node = r.u32("node")?;
            let epoch = r.u64("epoch")?;
            let ask = match r.u8("ask")? {
                0 => false,
                1 => true,
                _ => return Err(WireError::Tag("ask")),
            };
            let n = r.u32("channel_count")? as usize;
            // 4 + 1 + 8 + 8 bytes per channel.
            let n = r.count(n, MAX_CHANNELS, 21, "channels")?;
            let mut channels: Vec<ChannelState> = Vec::with_capacity(n);
            for _ in 0..n {
                let channel = r.u32("channel")?;
                let mode = match r.u8("mode")? {
                    MODE_COLD => ChannelMode::Cold,
                    MODE_SYNCING => ChannelMode::Syncing,
                    MODE_HOT => ChannelMode::Hot,
                    _ => return Err(WireError::Tag("mode")),
                };
                let applied = r.u64("applied")?;
                let have = r.u64("have")?;
                // One entry per channel, sorted: the election must not be
                // swayed by a list that repeats a channel.
                if channels.last().is_some_and(|l| l.channel >= channel) {
                    return Err(WireError::Inconsistent("channel order"));
                }
                if have < applied {
                    return Err(WireError::Inconsistent("have"));
                }
                channels.push(ChannelState {
                    channel,
                    mode,
                    applied,
                    have,
                });
            }
            Message::Candidacy {
                ask,
                candidacy: Candidacy {
                    node,
                    epoch,
                    channels,
                },
            }
        }
        T_TCP_CONNS => {
            let round = r.u64("round")?;
            let n = usize::from(r.u16("conn_count")?);
            // 8 + 16 + 8 + 4 bytes around each state.
            let n = r.count(n, MAX_TCP_CONNS, 36, "conns")?;
            let mut conns: Vec<TcpConn> = Vec::with_capacity(n);
            for _ in 0..n {
                let id = r.u64("id")?;
                let nonce = r
                    .take(16, "nonce")?
                    .try_into()
                    .map_err(|_| WireError::Short("nonce"))?;
                let next = r.u64("next")?;
                let len = r.u32("state_len")? as usize;
                let state = TcpState::decode(r.take(len, "state")?).map_err(|e| {
                    tracing::debug!(error = %e, "transport state refused");
                    WireError::Inconsistent("tcp state")
                })?;
                if next == 0 {
                    return Err(WireError::Inconsistent("next"));
                }
                if conns.iter().any(|c| c.id == id) {
                    return Err(WireError::Inconsistent("conn id"));
                }
                conns.push(TcpConn {
                    id,
                    nonce,
                    next,
                    state,
                });
            }
            Message::TcpConns { round, conns }
        }
        T_TCP_CONNS_ACK => Message::TcpConnsAck {
            round: r.u64("round")?,
        },
        other => return Err(WireError::Type(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{IfRecord, SectionCount};
    use proptest::prelude::*;

    fn rec(n: &str) -> IfRecord {
        let mut r = IfRecord::new(IfName::new(n.as_bytes()).expect("name"));
        r.addrs = vec![Prefix::V4([192, 0, 2, 1], 24), Prefix::V6([0xfe; 16], 64)];
        r.description = b"d".to_vec();
        r.canonicalize();
        r
    }

    /// `frame` with version byte `version` is refused as a frame of that
    /// format holding content of format `content`.
    fn refused_as(frame: &[u8], version: u8, content: u8) {
        let mut bad = frame.to_vec();
        bad[2] = version;
        assert_eq!(
            Message::decode(&bad),
            Err(WireError::Format {
                frame: version,
                content
            })
        );
    }

    /// A checkpoint of section 0 holding `records`.
    fn checkpoint(records: Vec<IfRecord>) -> Message {
        Message::Checkpoint {
            channel: 0,
            sync_id: 0,
            seq: 0,
            base: 0,
            opid: 0,
            section: 0,
            records,
        }
    }

    fn tcp_conn(id: u64) -> TcpConn {
        use crate::tcp_state::{opt, Window};
        TcpConn {
            id,
            nonce: [id as u8; 16],
            next: 3,
            state: TcpState {
                local: "10.0.0.100:7700".parse().expect("addr"),
                remote: "10.0.0.10:4000".parse().expect("addr"),
                rcv_nxt: 100,
                write_seq: 200,
                mss: 1460,
                snd_wscale: 7,
                rcv_wscale: 7,
                options: opt::ALL,
                timestamp: 5,
                window: Window::default(),
                unsent: 0,
                inq: b"3 ab {}".to_vec(),
                outq: Vec::new(),
            },
        }
    }

    #[test]
    fn tcp_conns_are_refused_when_repeated_unnumbered_or_malformed() {
        let enc = |conns| Message::TcpConns { round: 1, conns }.encode();
        let twice = enc(vec![tcp_conn(1), tcp_conn(1)]);
        assert_eq!(
            Message::decode_exact(&twice),
            Err(WireError::Inconsistent("conn id"))
        );
        let mut zero = tcp_conn(1);
        zero.next = 0;
        assert_eq!(
            Message::decode_exact(&enc(vec![zero])),
            Err(WireError::Inconsistent("next"))
        );
        let mut bad = enc(vec![tcp_conn(1)]);
        // The state's version byte, after the frame header, round, count,
        // id, nonce, next and length.
        bad[HEADER_LEN + 8 + 2 + 8 + 16 + 8 + 4] = 9;
        assert_eq!(
            Message::decode_exact(&bad),
            Err(WireError::Inconsistent("tcp state"))
        );
        // Only format 2 carries them.
        let mut old = enc(vec![tcp_conn(1)]);
        old[2] = 1;
        assert!(Message::decode_exact(&old).is_err());
    }

    fn samples() -> Vec<Message> {
        let sc = SectionCount::new(8).expect("sc");
        let a = rec("a");
        let s = sc.section_of(&a.name);
        vec![
            Message::Update(Update {
                channel: 7,
                epoch: 2,
                opid: 99,
                cookie: 5,
                ops: vec![
                    Op::Set(rec("eth0")),
                    Op::Del(IfName::new(b"eth1").expect("name")),
                    Op::ReplaceSection {
                        section: s,
                        records: vec![a],
                    },
                ],
            }),
            Message::Update(Update {
                channel: 7,
                epoch: 2,
                opid: 100,
                cookie: 6,
                ops: vec![
                    Op::Rename {
                        from: IfName::new(b"eth0").expect("name"),
                        record: rec("lan0"),
                    },
                    Op::Del(IfName::new(b"eth1").expect("name")),
                ],
            }),
            Message::Ack(Ack {
                channel: 1,
                epoch: 3,
                opid: u64::MAX,
                cookie: 0,
            }),
            Message::Have {
                channel: 1,
                epoch: 1,
                opid: 4,
            },
            Message::HaveDepth {
                channel: 1,
                epoch: 1,
                opid: 4,
                pending: 2,
            },
            Message::SyncRequest { channel: 9 },
            Message::Checkpoint {
                channel: 1,
                sync_id: 2,
                seq: 3,
                base: 1,
                opid: 4,
                section: 5,
                records: vec![rec("x")],
            },
            Message::CheckpointAck {
                channel: 1,
                sync_id: 2,
                seq: 3,
            },
            Message::CheckpointPart {
                channel: 1,
                sync_id: 2,
                seq: 4,
                base: 1,
                opid: 4,
                section: 0,
                after: Some(IfName::new(b"a").expect("name")),
                upto: None,
                records: vec![rec("b"), rec("c")],
            },
            Message::SyncDeclaration {
                channel: 1,
                sync_id: 2,
                base: 3,
                opid: 4,
                chunks: 5,
            },
            Message::Digests {
                channel: 1,
                opid: 2,
                digests: vec![1, 2, 3],
            },
            Message::DigestReport {
                channel: 1,
                opid: 2,
                mismatch: 0x10,
            },
            Message::NewPrimary {
                node: 2,
                epoch: 3,
                prev_epoch: 1,
                channels: vec![Rebase {
                    channel: 1,
                    base: 2,
                    register: 3,
                    dirty: 4,
                }],
            },
            Message::Hello { node: 4 },
            Message::TcpConns {
                round: 9,
                conns: vec![tcp_conn(1), tcp_conn(2)],
            },
            Message::TcpConnsAck { round: 9 },
            Message::Candidacy {
                ask: true,
                candidacy: Candidacy {
                    node: 3,
                    epoch: 2,
                    channels: vec![
                        ChannelState {
                            channel: 0,
                            mode: ChannelMode::Hot,
                            applied: 5,
                            have: 7,
                        },
                        ChannelState {
                            channel: 4,
                            mode: ChannelMode::Cold,
                            applied: 0,
                            have: 0,
                        },
                        ChannelState {
                            channel: 9,
                            mode: ChannelMode::Syncing,
                            applied: 0,
                            have: 3,
                        },
                    ],
                },
            },
        ]
    }

    #[test]
    fn roundtrip_all_types() {
        for m in samples() {
            let f = m.encode();
            assert_eq!(Message::decode_exact(&f), Ok(m.clone()));
            // Streams: a prefix asks for more, never errors or panics.
            for cut in 0..f.len() {
                assert_eq!(Message::decode(&f[..cut]).map(|o| o.is_some()), Ok(false));
            }
        }
    }

    #[test]
    fn typed_rejections() {
        let f = Message::Hello { node: 1 }.encode();
        let mut bad = f.clone();
        bad[0] = b'X';
        assert_eq!(Message::decode(&bad), Err(WireError::Magic));
        let mut bad = f.clone();
        bad[2] = 3;
        assert_eq!(Message::decode(&bad), Err(WireError::Version(3)));
        // Format 1 content in a format 2 frame, and a rename in a format 1
        // frame (what a first-release decoder would refuse by version).
        refused_as(&f, 2, 1);
        let newer = samples()
            .into_iter()
            .find(|m| m.format() == 2)
            .expect("a format 2 sample")
            .encode();
        assert_eq!(newer[2], 2);
        refused_as(&newer, 1, 2);
        // A record of release 2 (a speed, a description over 64 bytes)
        // makes its checkpoint a format 2 frame, and only that.
        for (speed, desc) in [(25_000, 1), (0, 65), (1, 255)] {
            let mut r = rec("wan0");
            r.speed = speed;
            r.description = vec![b'd'; desc];
            let m = checkpoint(vec![rec("a"), r]);
            let good = m.encode();
            assert_eq!(good[2], 2);
            assert_eq!(Message::decode_exact(&good), Ok(m));
            refused_as(&good, 1, 2);
        }
        // A speed flag over a zero speed: one form per record.
        let mut r = rec("a");
        r.speed = 7;
        let m = Message::Update(Update {
            channel: 0,
            epoch: 1,
            opid: 1,
            cookie: 1,
            ops: vec![Op::Set(r)],
        });
        let mut bad = m.encode();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Message::decode(&bad), Err(WireError::Tag("speed")));
        let mut bad = f.clone();
        bad[3] = 200;
        assert_eq!(Message::decode(&bad), Err(WireError::Type(200)));
        let mut bad = f.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Message::decode(&bad), Err(WireError::TooLong(u32::MAX)));
        let mut long = f.clone();
        long[7] += 1;
        long.push(0);
        assert_eq!(Message::decode(&long), Err(WireError::Trailing(1)));
        // A record with an out-of-range MTU is rejected with the table error.
        let mut r = rec("e");
        r.mtu = 10;
        let m = checkpoint(vec![r]);
        assert_eq!(
            Message::decode_exact(&m.encode()),
            Err(WireError::Record(crate::table::TableError::BadMtu(10)))
        );
        // A checkpoint page must hold its range, sorted.
        let name = |n: &str| IfName::new(n.as_bytes()).expect("name");
        let page = |after: &str, upto: &str, recs: &[&str]| Message::CheckpointPart {
            channel: 0,
            sync_id: 0,
            seq: 0,
            base: 0,
            opid: 0,
            section: 0,
            after: Some(name(after)),
            upto: Some(name(upto)),
            records: recs.iter().map(|n| rec(n)).collect(),
        };
        let ok = page("b", "d", &["c", "d"]);
        assert_eq!(Message::decode_exact(&ok.encode()), Ok(ok));
        for (bad, why) in [
            (page("b", "d", &["b"]), "page order"),
            (page("b", "d", &["e"]), "page order"),
            (page("b", "d", &["d", "c"]), "page order"),
            (page("b", "d", &["c", "c"]), "page order"),
            (page("d", "b", &[]), "range"),
            (page("d", "d", &[]), "range"),
        ] {
            assert_eq!(
                Message::decode_exact(&bad.encode()),
                Err(WireError::Tag(why))
            );
        }
        // A hostile record count cannot reserve memory beyond the frame.
        let mut p = vec![0u8; 4 + 8 + 4 + 8 + 8];
        p.push(0);
        p.extend_from_slice(&u16::MAX.to_be_bytes());
        let mut frame = vec![b'H', b'S', 1, T_CHECKPOINT];
        frame.extend_from_slice(&(p.len() as u32).to_be_bytes());
        frame.extend_from_slice(&p);
        assert_eq!(Message::decode(&frame), Err(WireError::Short("records")));
    }

    #[test]
    fn candidacy_decoder_rejections() {
        let Some(m @ Message::Candidacy { .. }) = samples().pop() else {
            panic!("last sample is the candidacy");
        };
        let f = m.encode();
        assert_eq!(Message::decode_exact(&f), Ok(m.clone()));
        // Payload offsets: node 0..4, epoch 4..12, ask 12, count 13..17,
        // then 21-byte entries: channel +0, mode +4, applied +5, have +13.
        let entry = |i: usize| HEADER_LEN + 17 + 21 * i;
        let mut bad = f.clone();
        bad[HEADER_LEN + 12] = 2;
        assert_eq!(Message::decode(&bad), Err(WireError::Tag("ask")));
        let mut bad = f.clone();
        bad[entry(1) + 4] = 3;
        assert_eq!(Message::decode(&bad), Err(WireError::Tag("mode")));
        // Second entry names the same channel as the first.
        let mut bad = f.clone();
        bad[entry(1)..entry(1) + 4].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            Message::decode(&bad),
            Err(WireError::Inconsistent("channel order"))
        );
        // Descending channel ids.
        let mut bad = f.clone();
        bad[entry(2)..entry(2) + 4].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(
            Message::decode(&bad),
            Err(WireError::Inconsistent("channel order"))
        );
        // Watermark below applied.
        let mut bad = f.clone();
        bad[entry(0) + 13..entry(0) + 21].copy_from_slice(&4u64.to_be_bytes());
        assert_eq!(Message::decode(&bad), Err(WireError::Inconsistent("have")));
        // Hostile counts: over the limit, or more than the bytes left.
        let mut bad = f.clone();
        bad[HEADER_LEN + 13..HEADER_LEN + 17].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Message::decode(&bad), Err(WireError::Limit("channels")));
        let mut bad = f.clone();
        bad[HEADER_LEN + 13..HEADER_LEN + 17].copy_from_slice(&4u32.to_be_bytes());
        assert_eq!(Message::decode(&bad), Err(WireError::Short("channels")));
        // Cut inside the last entry: caught by the count guard, before
        // anything is read or reserved.
        let mut short = f[..f.len() - 1].to_vec();
        short[7] -= 1;
        assert_eq!(Message::decode(&short), Err(WireError::Short("channels")));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic, and anything accepted re-encodes to
        /// the same bytes (one canonical form per message).
        #[test]
        fn fuzz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some((m, n))) = Message::decode(&bytes) {
                prop_assert_eq!(m.encode(), bytes[..n].to_vec());
            }
        }

        /// Valid header with arbitrary payload: exercises the field decoders.
        #[test]
        fn fuzz_payloads(
            version in MIN_VERSION..=VERSION,
            ty in 0u8..14,
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut f = vec![b'H', b'S', version, ty];
            f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            f.extend_from_slice(&payload);
            if let Ok(m) = Message::decode_exact(&f) {
                prop_assert_eq!(m.encode(), f);
            }
        }

        /// Any well-formed candidacy round-trips exactly.
        #[test]
        fn candidacy_roundtrip(
            node in any::<u32>(),
            epoch in any::<u64>(),
            ask in any::<bool>(),
            chans in proptest::collection::btree_map(any::<u32>(), (0u8..3, any::<u64>(), any::<u64>()), 0..40),
        ) {
            let channels = chans
                .into_iter()
                .map(|(channel, (m, a, b))| ChannelState {
                    channel,
                    mode: [ChannelMode::Cold, ChannelMode::Syncing, ChannelMode::Hot][m as usize],
                    applied: a.min(b),
                    have: a.max(b),
                })
                .collect();
            let m = Message::Candidacy { ask, candidacy: Candidacy { node, epoch, channels } };
            prop_assert_eq!(Message::decode_exact(&m.encode()), Ok(m));
        }

        /// Mutating one byte of a valid frame never panics.
        #[test]
        fn fuzz_mutations(which in 0usize..14, pos in any::<usize>(), val in any::<u8>()) {
            let mut f = samples()[which].encode();
            let i = pos % f.len();
            f[i] = val;
            let _ = Message::decode(&f);
        }
    }
}
