//! Netlink message framing: requests out, replies in, as bytes.
//!
//! Framing is done here rather than by neli so that many requests can share
//! one `sendmsg` (see [`crate::batch`]), so that `NLMSG_ERROR` and
//! `NLMSG_DONE` keep every extended-ACK attribute (hasync puts a register or
//! an epoch in the extack cookie), and so that every reply is classified by
//! a pure function testable with byte fixtures.

use crate::attr::{align, Attr, Attrs, ParseError};
use crate::error::KernelError;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct genlmsghdr`: cmd, version, two reserved bytes.
pub const GENL_HDRLEN: usize = 4;

// <linux/netlink.h> message types.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

/// `nlmsg_flags` bits a request uses.
pub mod flags {
    /// A request (as opposed to a reply).
    pub const REQUEST: u16 = 0x1;
    /// Ask for an ACK (`NLMSG_ERROR` with error 0) after success.
    pub const ACK: u16 = 0x4;
    /// A dump (`NLM_F_ROOT | NLM_F_MATCH`).
    pub const DUMP: u16 = 0x300;
    // Flags on NLMSG_ERROR / NLMSG_DONE.
    pub(crate) const CAPPED: u16 = 0x100;
    pub(crate) const ACK_TLVS: u16 = 0x200;
}

// <linux/netlink.h> enum nlmsgerr_attrs: UNUSED, MSG, OFFS, COOKIE,
// POLICY, MISS_TYPE, MISS_NEST. The tests' fixtures spell the numbers out.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_COOKIE: u16 = 3;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

/// Appends one generic netlink request to `buf`.
pub fn put_request(
    buf: &mut Vec<u8>,
    nl_type: u16,
    nl_flags: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    attrs: &[u8],
) {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
    // A request never nears 4 GiB: the sender bounds its buffers far lower.
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len32.to_ne_bytes());
    buf.extend_from_slice(&nl_type.to_ne_bytes());
    buf.extend_from_slice(&nl_flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id 0: the kernel
    buf.extend_from_slice(&[cmd, version, 0, 0]);
    buf.extend_from_slice(attrs);
    buf.resize(align(buf.len()), 0);
}

/// Bytes [`put_request`] appends for `attrs_len` bytes of attributes.
pub const fn request_len(attrs_len: usize) -> usize {
    align(NLMSG_HDRLEN + GENL_HDRLEN + attrs_len)
}

/// One netlink message of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`: a family id, or `NLMSG_ERROR` / `NLMSG_DONE` / ….
    pub nl_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`: the request's for replies, 0 for notifications.
    pub seq: u32,
    /// The payload after the header, without padding.
    pub payload: &'a [u8],
}

/// Iterates over the messages of one datagram; stops after the first error.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Messages<'a> {
    /// The messages laid out back to back in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf, offset: 0 }
    }
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.offset..).filter(|r| !r.is_empty())?;
        let offset = self.offset;
        let len = rest
            .get(..NLMSG_HDRLEN)
            .and_then(|h| usize::try_from(ne_u32(h)).ok())
            .filter(|len| (NLMSG_HDRLEN..=rest.len()).contains(len));
        let Some(len) = len else {
            self.offset = self.buf.len();
            return Some(Err(ParseError::TruncatedMessage { offset }));
        };
        self.offset += align(len).min(rest.len());
        Some(Ok(Message {
            nl_type: ne_u16(&rest[4..]),
            flags: ne_u16(&rest[6..]),
            seq: ne_u32(&rest[8..]),
            payload: &rest[NLMSG_HDRLEN..len],
        }))
    }
}

/// What a received message means to the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A message of the family: its command and attributes.
    Data {
        /// `genlmsghdr.cmd`.
        cmd: u8,
        /// The attributes after the generic netlink header.
        attrs: &'a [u8],
    },
    /// `NLMSG_ERROR` with error 0: the request succeeded.
    Ack,
    /// `NLMSG_ERROR` with an errno, or `NLMSG_DONE` of a failed dump.
    Error(KernelError),
    /// `NLMSG_DONE`: a dump ended well.
    Done,
    /// `NLMSG_NOOP` / `NLMSG_OVERRUN`: nothing to act on.
    Ignore,
}

/// Classifies one message.
pub fn classify<'a>(msg: &Message<'a>) -> Result<Reply<'a>, ParseError> {
    let p = msg.payload;
    let errno = || {
        p.get(..4)
            .map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
            .ok_or(ParseError::ShortHeader(p.len()))
    };
    match msg.nl_type {
        NLMSG_ERROR => {
            let code = errno()?;
            if code == 0 {
                return Ok(Reply::Ack);
            }
            // struct nlmsgerr: the error, then the request's header (and,
            // unless capped, its payload), then the extack attributes.
            let echoed = match p.get(4..4 + NLMSG_HDRLEN) {
                Some(h) if msg.flags & flags::CAPPED == 0 => {
                    usize::try_from(ne_u32(h)).map_or(usize::MAX, align)
                }
                _ => NLMSG_HDRLEN,
            };
            let tlvs = (msg.flags & flags::ACK_TLVS != 0)
                .then(|| p.get(4usize.saturating_add(echoed)..))
                .flatten();
            Ok(Reply::Error(kernel_error(code, tlvs.unwrap_or(&[]))))
        }
        NLMSG_DONE => match p.len() {
            // Old kernels send an empty DONE.
            0 => Ok(Reply::Done),
            _ => match errno()? {
                0 => Ok(Reply::Done),
                code => {
                    let tlvs = (msg.flags & flags::ACK_TLVS != 0).then(|| &p[4..]);
                    Ok(Reply::Error(kernel_error(code, tlvs.unwrap_or(&[]))))
                }
            },
        },
        NLMSG_NOOP | NLMSG_OVERRUN => Ok(Reply::Ignore),
        _ => match (p.first(), p.get(GENL_HDRLEN..)) {
            (Some(&cmd), Some(attrs)) => Ok(Reply::Data { cmd, attrs }),
            _ => Err(ParseError::ShortHeader(p.len())),
        },
    }
}

/// Builds a [`KernelError`] from a (negative) error code and the extack
/// attributes. A garbled extack must not hide the errno it came with, so
/// unreadable attributes are skipped.
fn kernel_error(code: i32, tlvs: &[u8]) -> KernelError {
    let mut err = KernelError::new(code.saturating_neg());
    for attr in Attrs::new(tlvs).map_while(Result::ok) {
        let Attr { kind, payload } = attr;
        match kind {
            NLMSGERR_ATTR_MSG => err.message = attr.string("msg").ok().map(str::to_owned),
            NLMSGERR_ATTR_OFFS => err.bad_offset = attr.u32("offs").ok(),
            NLMSGERR_ATTR_MISS_TYPE => err.missing_attr = attr.u32("miss-type").ok(),
            NLMSGERR_ATTR_COOKIE => err.cookie = Some(payload.to_vec()),
            _ => {}
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrWriter;

    /// A message as the kernel lays it out.
    fn msg(nl_type: u16, nl_flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&nl_type.to_ne_bytes());
        m.extend_from_slice(&nl_flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&4242u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align(m.len()), 0);
        m
    }

    fn one(buf: &[u8]) -> Reply<'_> {
        let m = Messages::new(buf)
            .next()
            .expect("a message")
            .expect("valid");
        classify(&m).expect("classifies")
    }

    #[test]
    fn request_wire_bytes() {
        let mut buf = Vec::new();
        put_request(
            &mut buf,
            0x1a,
            flags::REQUEST | flags::ACK,
            7,
            5,
            1,
            &[1, 2, 3],
        );
        let mut want = Vec::new();
        want.extend_from_slice(&23u32.to_ne_bytes());
        want.extend_from_slice(&0x1au16.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[5, 1, 0, 0, 1, 2, 3, 0]);
        assert_eq!(buf, want);
        assert_eq!(request_len(3), buf.len());
    }

    #[test]
    fn splits_a_datagram_into_messages() {
        let mut buf = msg(0x1a, 2, 9, &[5, 1, 0, 0, 8, 0, 1, 0, 1, 0, 0, 0]);
        buf.extend(msg(NLMSG_DONE, 2, 9, &0i32.to_ne_bytes()));
        let msgs: Vec<_> = Messages::new(&buf)
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[0].nl_type, msgs[0].flags, msgs[0].seq), (0x1a, 2, 9));
        assert_eq!(
            classify(&msgs[0]),
            Ok(Reply::Data {
                cmd: 5,
                attrs: &[8, 0, 1, 0, 1, 0, 0, 0]
            })
        );
        assert_eq!(classify(&msgs[1]), Ok(Reply::Done));
    }

    #[test]
    fn truncated_messages_are_errors() {
        let buf = msg(0x1a, 0, 1, &[5, 1, 0, 0]);
        for cut in [3, NLMSG_HDRLEN - 1, buf.len() - 1] {
            let mut it = Messages::new(&buf[..cut]);
            assert_eq!(
                it.next(),
                Some(Err(ParseError::TruncatedMessage { offset: 0 }))
            );
            assert_eq!(it.next(), None);
        }
        let mut short_len = buf.clone();
        short_len[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(Messages::new(&short_len).next().expect("one").is_err());
        // A family message too short for its genetlink header.
        let bare = msg(0x1a, 0, 1, &[5]);
        let m = Messages::new(&bare).next().expect("one").expect("framed");
        assert_eq!(classify(&m), Err(ParseError::ShortHeader(1)));
    }

    #[test]
    fn ack_and_capped_error_with_extack_cookie() {
        let mut ack = 0i32.to_ne_bytes().to_vec();
        ack.extend(msg(0x1a, 5, 3, &[]));
        assert_eq!(one(&msg(NLMSG_ERROR, flags::CAPPED, 3, &ack)), Reply::Ack);

        let mut p = (-libc::EPROTO).to_ne_bytes().to_vec();
        // The echoed request header claims 64 bytes; capped, so only 16 follow.
        let mut hdr = msg(0x1a, 5, 3, &[]);
        hdr[..4].copy_from_slice(&64u32.to_ne_bytes());
        p.extend(hdr);
        let mut w = AttrWriter::new();
        w.put_str(1, "opid 9 is not register + 1")
            .put(3, &7u64.to_ne_bytes())
            .put_u32(2, 20) // NLMSGERR_ATTR_OFFS
            .put_u32(5, 7); // NLMSGERR_ATTR_MISS_TYPE
        p.extend(w.finish().expect("small"));
        let Reply::Error(e) = one(&msg(NLMSG_ERROR, flags::CAPPED | flags::ACK_TLVS, 3, &p)) else {
            panic!("not an error")
        };
        assert_eq!(e.errno, libc::EPROTO);
        assert_eq!(e.message.as_deref(), Some("opid 9 is not register + 1"));
        assert_eq!(e.gap_register(), Some(7));
        assert_eq!(e.missing_attr, Some(7));
    }

    #[test]
    fn uncapped_error_skips_the_echoed_request() {
        let mut p = (-libc::ESTALE).to_ne_bytes().to_vec();
        p.extend(msg(0x1a, 5, 3, &[5, 1, 0, 0, 8, 0, 1, 0, 1, 0, 0, 0]));
        let mut w = AttrWriter::new();
        w.put(3, &4u32.to_ne_bytes());
        p.extend(w.finish().expect("small"));
        let Reply::Error(e) = one(&msg(NLMSG_ERROR, flags::ACK_TLVS, 3, &p)) else {
            panic!("not an error")
        };
        assert_eq!(e.fenced_epoch(), Some(4));
        assert_eq!(e.message, None);
    }

    #[test]
    fn garbled_extack_keeps_the_errno() {
        let mut p = (-libc::EINVAL).to_ne_bytes().to_vec();
        p.extend(msg(0x1a, 5, 3, &[]));
        p.extend([200, 0, 1, 0, b'x']); // attribute longer than the rest
        let Reply::Error(e) = one(&msg(NLMSG_ERROR, flags::CAPPED | flags::ACK_TLVS, 3, &p)) else {
            panic!("not an error")
        };
        assert_eq!(e, KernelError::new(libc::EINVAL));
        // An error message too short for its errno is malformed.
        let m = msg(NLMSG_ERROR, 0, 3, &[1, 2]);
        let m = Messages::new(&m).next().expect("one").expect("framed");
        assert_eq!(classify(&m), Err(ParseError::ShortHeader(2)));
    }

    #[test]
    fn done_with_error_and_message() {
        assert_eq!(one(&msg(NLMSG_DONE, 2, 1, &[])), Reply::Done);
        let mut p = (-libc::ENOENT).to_ne_bytes().to_vec();
        let mut w = AttrWriter::new();
        w.put_str(1, "no such channel");
        p.extend(w.finish().expect("small"));
        let Reply::Error(e) = one(&msg(NLMSG_DONE, 2 | flags::ACK_TLVS, 1, &p)) else {
            panic!("not an error")
        };
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(e.message.as_deref(), Some("no such channel"));
        assert_eq!(one(&msg(NLMSG_NOOP, 0, 1, &[])), Reply::Ignore);
    }
}
