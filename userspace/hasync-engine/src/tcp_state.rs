//! The transport state of one TCP connection of the control API's TCP
//! face: what a unit needs to recreate the connection with `TCP_REPAIR`
//! after another unit held it, and its codec.
//!
//! It holds the connection's endpoints, both sequence numbers, the
//! options negotiated at the handshake, the timestamp clock, the windows,
//! and the bytes still queued: received and not yet read, written and not
//! yet acknowledged by the client. Nothing the client already
//! acknowledged, or that the server already consumed, is in it.
//!
//! # Encoding
//!
//! ```text
//! 0         1         7          13
//! +---------+---------+----------+-----------------------------------
//! | version | local   | remote   | rcv_nxt u32 | write_seq u32 |
//! |    1    | ip,port | ip,port  | mss u16 | wscale snd u8, rcv u8 |
//! +---------+---------+----------+ options u8 | timestamp u32 |
//!   snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup (u32 each) |
//!   unsent u32 | inq len u32, bytes | outq len u32, bytes
//! ```
//!
//! Big-endian integers. Both queues are bounded by [`QUEUE_MAX`], checked
//! before anything is allocated; `unsent` is at most the send queue's
//! length; window scales are at most 14 (RFC 7323); unknown option bits
//! and trailing bytes are refused.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Format version of an encoded state.
pub const VERSION: u8 = 1;
/// Most bytes in either queue (a connection's socket buffers at their
/// default limits hold less).
pub const QUEUE_MAX: usize = 4 << 20;
/// Largest window scale shift (RFC 7323).
pub const WSCALE_MAX: u8 = 14;

/// Options negotiated at the handshake (`tcpi_options` bits).
pub mod opt {
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 1;
    /// Selective acknowledgements.
    pub const SACK: u8 = 2;
    /// Window scaling.
    pub const WSCALE: u8 = 4;
    /// Every bit this format knows.
    pub const ALL: u8 = TIMESTAMPS | SACK | WSCALE;
}

/// The windows, as `TCP_REPAIR_WINDOW` reads and writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Sequence number of the segment that last updated `snd_wnd`.
    pub snd_wl1: u32,
    /// The client's advertised window.
    pub snd_wnd: u32,
    /// The largest window the client advertised.
    pub max_window: u32,
    /// The window we advertise.
    pub rcv_wnd: u32,
    /// `rcv_nxt` when we last advertised it.
    pub rcv_wup: u32,
}

/// One connection's transport state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpState {
    /// Our end: the service address and port.
    pub local: SocketAddrV4,
    /// The client's end.
    pub remote: SocketAddrV4,
    /// Next sequence number expected from the client (after `inq`).
    pub rcv_nxt: u32,
    /// Sequence number after the last byte written (after `outq`).
    pub write_seq: u32,
    /// The client's MSS (`mss_clamp`).
    pub mss: u16,
    /// Window scale we apply to the client's window.
    pub snd_wscale: u8,
    /// Window scale the client applies to ours.
    pub rcv_wscale: u8,
    /// [`opt`] bits.
    pub options: u8,
    /// Our timestamp clock when the state was read (with its offset).
    pub timestamp: u32,
    /// Windows.
    pub window: Window,
    /// Bytes at the end of `outq` never transmitted.
    pub unsent: u32,
    /// Received, not yet read by the server.
    pub inq: Vec<u8>,
    /// Written by the server, not yet acknowledged by the client.
    pub outq: Vec<u8>,
}

/// Why an encoded state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Another format.
    #[error("transport state format {0} (this build reads {VERSION})")]
    Version(u8),
    /// Ends inside a field.
    #[error("transport state ends inside {0}")]
    Short(&'static str),
    /// A queue over [`QUEUE_MAX`].
    #[error("transport state queue {0} over {QUEUE_MAX} bytes")]
    Queue(&'static str),
    /// A field out of its range.
    #[error("transport state field {0} out of range")]
    Range(&'static str),
    /// Bytes after the last field.
    #[error("transport state has {0} trailing bytes")]
    Trailing(usize),
}

impl TcpState {
    /// Sequence number of the first byte of `outq` (the client's
    /// acknowledgement point).
    pub fn snd_una(&self) -> u32 {
        self.write_seq.wrapping_sub(self.outq.len() as u32)
    }

    /// Sequence number of the first byte of `inq`.
    pub fn copied_seq(&self) -> u32 {
        self.rcv_nxt.wrapping_sub(self.inq.len() as u32)
    }

    /// The encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64 + self.inq.len() + self.outq.len());
        b.push(VERSION);
        for a in [self.local, self.remote] {
            b.extend_from_slice(&a.ip().octets());
            b.extend_from_slice(&a.port().to_be_bytes());
        }
        b.extend_from_slice(&self.rcv_nxt.to_be_bytes());
        b.extend_from_slice(&self.write_seq.to_be_bytes());
        b.extend_from_slice(&self.mss.to_be_bytes());
        b.extend_from_slice(&[self.snd_wscale, self.rcv_wscale, self.options]);
        b.extend_from_slice(&self.timestamp.to_be_bytes());
        let w = self.window;
        for v in [w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&self.unsent.to_be_bytes());
        for q in [&self.inq, &self.outq] {
            b.extend_from_slice(&(q.len() as u32).to_be_bytes());
            b.extend_from_slice(q);
        }
        b
    }

    /// Decodes a state, checking every bound before it allocates.
    pub fn decode(buf: &[u8]) -> Result<Self, StateError> {
        let mut r = Reader { buf };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(StateError::Version(version));
        }
        let local = r.addr("local")?;
        let remote = r.addr("remote")?;
        let rcv_nxt = r.u32("rcv_nxt")?;
        let write_seq = r.u32("write_seq")?;
        let mss = r.u16("mss")?;
        let snd_wscale = r.u8("snd_wscale")?;
        let rcv_wscale = r.u8("rcv_wscale")?;
        if snd_wscale > WSCALE_MAX {
            return Err(StateError::Range("snd_wscale"));
        }
        if rcv_wscale > WSCALE_MAX {
            return Err(StateError::Range("rcv_wscale"));
        }
        let options = r.u8("options")?;
        if options & !opt::ALL != 0 {
            return Err(StateError::Range("options"));
        }
        if mss == 0 {
            return Err(StateError::Range("mss"));
        }
        let timestamp = r.u32("timestamp")?;
        let window = Window {
            snd_wl1: r.u32("snd_wl1")?,
            snd_wnd: r.u32("snd_wnd")?,
            max_window: r.u32("max_window")?,
            rcv_wnd: r.u32("rcv_wnd")?,
            rcv_wup: r.u32("rcv_wup")?,
        };
        let unsent = r.u32("unsent")?;
        let inq = r.queue("inq")?;
        let outq = r.queue("outq")?;
        if unsent as usize > outq.len() {
            return Err(StateError::Range("unsent"));
        }
        if !r.buf.is_empty() {
            return Err(StateError::Trailing(r.buf.len()));
        }
        Ok(TcpState {
            local,
            remote,
            rcv_nxt,
            write_seq,
            mss,
            snd_wscale,
            rcv_wscale,
            options,
            timestamp,
            window,
            unsent,
            inq,
            outq,
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], StateError> {
        if self.buf.len() < n {
            return Err(StateError::Short(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, StateError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, StateError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, StateError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn addr(&mut self, what: &'static str) -> Result<SocketAddrV4, StateError> {
        let b = self.take(4, what)?;
        let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        Ok(SocketAddrV4::new(ip, self.u16(what)?))
    }

    fn queue(&mut self, what: &'static str) -> Result<Vec<u8>, StateError> {
        let len = self.u32(what)? as usize;
        if len > QUEUE_MAX {
            return Err(StateError::Queue(what));
        }
        Ok(self.take(len, what)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> TcpState {
        TcpState {
            local: "10.77.0.100:7700".parse().expect("addr"),
            remote: "10.77.0.10:40000".parse().expect("addr"),
            rcv_nxt: 0xffff_fff0,
            write_seq: 12,
            mss: 1448,
            snd_wscale: 7,
            rcv_wscale: 9,
            options: opt::ALL,
            timestamp: 123_456,
            window: Window {
                snd_wl1: 0xffff_ffe0,
                snd_wnd: 64_000,
                max_window: 64_000,
                rcv_wnd: 65_483,
                rcv_wup: 0xffff_fff0,
            },
            unsent: 2,
            inq: b"1 00 {}".to_vec(),
            outq: b"{\"id\":1}\n".to_vec(),
        }
    }

    #[test]
    fn sequence_numbers_of_the_queue_heads_wrap() {
        let s = sample();
        assert_eq!(s.snd_una(), 12u32.wrapping_sub(9));
        assert_eq!(s.copied_seq(), 0xffff_fff0 - 7);
    }

    #[test]
    fn every_bound_is_checked() {
        let good = sample().encode();
        assert_eq!(TcpState::decode(&good), Ok(sample()));
        let mut v = good.clone();
        v[0] = 2;
        assert_eq!(TcpState::decode(&v), Err(StateError::Version(2)));
        for cut in [0, 5, 20, good.len() - 1] {
            assert!(matches!(
                TcpState::decode(&good[..cut]),
                Err(StateError::Short(_) | StateError::Version(_))
            ));
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(TcpState::decode(&long), Err(StateError::Trailing(1)));
        let mut s = sample();
        s.snd_wscale = 15;
        assert_eq!(
            TcpState::decode(&s.encode()),
            Err(StateError::Range("snd_wscale"))
        );
        let mut s = sample();
        s.options = 8;
        assert_eq!(
            TcpState::decode(&s.encode()),
            Err(StateError::Range("options"))
        );
        let mut s = sample();
        s.unsent = 100;
        assert_eq!(
            TcpState::decode(&s.encode()),
            Err(StateError::Range("unsent"))
        );
        // A queue length over the bound is refused before any allocation.
        let mut huge = sample().encode();
        let at = huge.len() - 4 - sample().outq.len();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(TcpState::decode(&huge), Err(StateError::Queue("outq")));
    }

    fn state() -> impl Strategy<Value = TcpState> {
        (
            (
                any::<[u8; 4]>(),
                any::<u16>(),
                any::<[u8; 4]>(),
                any::<u16>(),
            ),
            (
                any::<u32>(),
                any::<u32>(),
                1..=u16::MAX,
                0..=WSCALE_MAX,
                0..=WSCALE_MAX,
            ),
            (0..=opt::ALL, any::<u32>(), any::<[u32; 5]>()),
            (
                proptest::collection::vec(any::<u8>(), 0..64),
                proptest::collection::vec(any::<u8>(), 0..64),
                any::<u32>(),
            ),
        )
            .prop_map(
                |((li, lp, ri, rp), (rcv, wr, mss, sw, rw), (o, ts, w), (inq, outq, un))| {
                    let unsent = if outq.is_empty() {
                        0
                    } else {
                        un % (outq.len() as u32 + 1)
                    };
                    TcpState {
                        local: SocketAddrV4::new(li.into(), lp),
                        remote: SocketAddrV4::new(ri.into(), rp),
                        rcv_nxt: rcv,
                        write_seq: wr,
                        mss,
                        snd_wscale: sw,
                        rcv_wscale: rw,
                        options: o,
                        timestamp: ts,
                        window: Window {
                            snd_wl1: w[0],
                            snd_wnd: w[1],
                            max_window: w[2],
                            rcv_wnd: w[3],
                            rcv_wup: w[4],
                        },
                        unsent,
                        inq,
                        outq,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(s in state()) {
            prop_assert_eq!(TcpState::decode(&s.encode()), Ok(s));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = TcpState::decode(&b);
        }
    }
}
