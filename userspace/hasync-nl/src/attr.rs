//! Netlink attributes (TLVs): a strict reader and a small writer.
//!
//! Replies are parsed here rather than through neli's `GenlBuffer` so that a
//! malformed reply becomes an error naming the attribute, and so that every
//! parser is a pure function over bytes, testable without a kernel.

use thiserror::Error;

/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;

// NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the top bits of nla_type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Rounds `len` up to netlink's 4-byte alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Why a message from the kernel could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The attribute at `offset` claims more bytes than there are, or fewer
    /// than its own header.
    #[error("attribute at offset {offset} is truncated")]
    Truncated {
        /// Byte offset of the attribute's header in the attribute stream.
        offset: usize,
    },
    /// A required attribute is absent.
    #[error("missing attribute \"{0}\"")]
    Missing(&'static str),
    /// A fixed-size attribute has the wrong size.
    #[error("attribute \"{attr}\" has {got} bytes, expected {expected}")]
    BadLength {
        /// Spec name of the attribute.
        attr: &'static str,
        /// The size(s) its type allows.
        expected: &'static str,
        /// The size it had.
        got: usize,
    },
    /// A string attribute is not UTF-8.
    #[error("attribute \"{0}\" is not a UTF-8 string")]
    BadString(&'static str),
    /// A single-valued attribute appears more than once.
    #[error("attribute \"{0}\" appears more than once")]
    Duplicate(&'static str),
    /// The message is too short for its generic netlink header.
    #[error("message of {0} bytes has no room for its generic netlink header")]
    ShortHeader(usize),
    /// An attribute has a value its type allows but the protocol does not.
    #[error("attribute \"{attr}\" is invalid: {why}")]
    Invalid {
        /// Spec name of the attribute.
        attr: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A netlink message header claims more bytes than the datagram holds,
    /// or fewer than itself.
    #[error("netlink message at offset {offset} is truncated")]
    TruncatedMessage {
        /// Byte offset of the message header in the datagram.
        offset: usize,
    },
    /// The reply carries a different command than the request.
    #[error("reply carries command {got}, expected {expected}")]
    UnexpectedCmd {
        /// The request's command.
        expected: u8,
        /// The reply's command.
        got: u8,
    },
}

/// One attribute: its type (flag bits removed) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// `nla_type` without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub kind: u16,
    /// The payload, without padding.
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    fn fixed<const N: usize>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<[u8; N], ParseError> {
        self.payload.try_into().map_err(|_| ParseError::BadLength {
            attr: name,
            expected,
            got: self.payload.len(),
        })
    }

    /// The payload as a `u8`.
    pub fn u8(&self, name: &'static str) -> Result<u8, ParseError> {
        self.fixed::<1>(name, "1").map(u8::from_ne_bytes)
    }

    /// The payload as a `u16` (host byte order).
    pub fn u16(&self, name: &'static str) -> Result<u16, ParseError> {
        self.fixed::<2>(name, "2").map(u16::from_ne_bytes)
    }

    /// The payload as a `u32` (host byte order).
    pub fn u32(&self, name: &'static str) -> Result<u32, ParseError> {
        self.fixed::<4>(name, "4").map(u32::from_ne_bytes)
    }

    /// The payload as a `u64` (host byte order).
    pub fn u64(&self, name: &'static str) -> Result<u64, ParseError> {
        self.fixed::<8>(name, "8").map(u64::from_ne_bytes)
    }

    /// The payload as YNL's `uint`: the kernel's `nla_put_uint()` sends 4
    /// bytes when the value fits, else 8.
    pub fn uint(&self, name: &'static str) -> Result<u64, ParseError> {
        match self.payload.len() {
            4 => self.u32(name).map(u64::from),
            _ => self.fixed::<8>(name, "4 or 8").map(u64::from_ne_bytes),
        }
    }

    /// A flag: present, with no payload.
    pub fn flag(&self, name: &'static str) -> Result<bool, ParseError> {
        self.fixed::<0>(name, "0").map(|_| true)
    }

    /// The payload as a string; the kernel's `nla_put_string()` includes
    /// the terminating NUL, which is not part of the value.
    pub fn string(&self, name: &'static str) -> Result<&'a str, ParseError> {
        std::str::from_utf8(self.text()).map_err(|_| ParseError::BadString(name))
    }

    /// The payload up to its NUL, as bytes: a kernel string, which need
    /// not be UTF-8.
    pub fn text(&self) -> &'a [u8] {
        match self.payload.iter().position(|&b| b == 0) {
            Some(nul) => &self.payload[..nul],
            None => self.payload,
        }
    }

    /// The attributes nested in this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

/// Iterates over a stream of attributes; stops after the first error.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Attrs<'a> {
    /// Attributes laid out back to back in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { buf, offset: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.offset..).filter(|r| !r.is_empty())?;
        let offset = self.offset;
        let header = rest.get(..NLA_HDRLEN).map(|h| {
            (
                usize::from(u16::from_ne_bytes([h[0], h[1]])),
                u16::from_ne_bytes([h[2], h[3]]),
            )
        });
        match header {
            Some((len, kind)) if (NLA_HDRLEN..=rest.len()).contains(&len) => {
                // The last attribute's padding may be cut off by the
                // message end; that is harmless.
                self.offset += align(len).min(rest.len());
                Some(Ok(Attr {
                    kind: kind & NLA_TYPE_MASK,
                    payload: &rest[NLA_HDRLEN..len],
                }))
            }
            _ => {
                self.offset = self.buf.len();
                Some(Err(ParseError::Truncated { offset }))
            }
        }
    }
}

/// Stores an attribute's value, rejecting a second occurrence.
pub fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), ParseError> {
    match slot {
        Some(_) => Err(ParseError::Duplicate(name)),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// Builds a stream of attributes for a request.
#[derive(Debug, Default, Clone)]
pub struct AttrWriter {
    buf: Vec<u8>,
    overflow: bool,
}

/// An attribute or nest would exceed the 64 KiB an `nla_len` can describe.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("netlink attribute larger than 64 KiB")]
pub struct TooLarge;

impl AttrWriter {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn header(&mut self, kind: u16, len: usize) {
        let len = u16::try_from(len).unwrap_or_else(|_| {
            self.overflow = true;
            0
        });
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// Appends an attribute with a raw payload.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        self.header(kind, NLA_HDRLEN + payload.len());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    /// Appends attributes already encoded.
    pub fn put_raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(encoded);
        self.pad();
        self
    }

    /// Appends a `u8` attribute.
    pub fn put_u8(&mut self, kind: u16, value: u8) -> &mut Self {
        self.put(kind, &[value])
    }

    /// Appends a `u16` attribute (host byte order).
    pub fn put_u16(&mut self, kind: u16, value: u16) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a flag (an attribute with no payload).
    pub fn put_flag(&mut self, kind: u16) -> &mut Self {
        self.put(kind, &[])
    }

    /// Appends a `u32` attribute.
    pub fn put_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a `u64` attribute.
    pub fn put_u64(&mut self, kind: u16, value: u64) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// Appends a NUL-terminated string attribute, as `NLA_NUL_STRING`
    /// policies require.
    pub fn put_str(&mut self, kind: u16, value: &str) -> &mut Self {
        self.put_text(kind, value.as_bytes())
    }

    /// [`AttrWriter::put_str`] for text that need not be UTF-8 (a kernel
    /// string is bytes up to the NUL); `value` holds no NUL.
    pub fn put_text(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        self.header(kind, NLA_HDRLEN + value.len() + 1);
        self.buf.extend_from_slice(value);
        self.buf.push(0);
        self.pad();
        self
    }

    /// Appends a nest whose contents `fill` writes.
    pub fn nest(&mut self, kind: u16, fill: impl FnOnce(&mut Self)) -> &mut Self {
        const NLA_F_NESTED: u16 = 1 << 15;
        let start = self.buf.len();
        self.header(kind | NLA_F_NESTED, 0);
        fill(self);
        match u16::try_from(self.buf.len() - start) {
            Ok(len) => self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes()),
            Err(_) => self.overflow = true,
        }
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded stream.
    pub fn finish(self) -> Result<Vec<u8>, TooLarge> {
        if self.overflow {
            Err(TooLarge)
        } else {
            Ok(self.buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }

    #[test]
    fn writer_matches_kernel_layout() {
        let mut w = AttrWriter::new();
        w.put_u32(1, 7).put_str(2, "ab").put(3, &[]);
        let got = w.finish().expect("small");
        let mut want = Vec::new();
        want.extend_from_slice(&ne16(8));
        want.extend_from_slice(&ne16(1));
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&ne16(7));
        want.extend_from_slice(&ne16(2));
        want.extend_from_slice(b"ab\0\0");
        want.extend_from_slice(&ne16(4));
        want.extend_from_slice(&ne16(3));
        assert_eq!(got, want);
    }

    #[test]
    fn reader_round_trips_and_strips_flags() {
        let mut w = AttrWriter::new();
        w.put_u64(5, u64::MAX - 1).nest(6, |n| {
            n.put_u32(1, 42);
        });
        let buf = w.finish().expect("small");
        let attrs: Vec<_> = Attrs::new(&buf).collect::<Result<_, _>>().expect("valid");
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0].u64("a"), Ok(u64::MAX - 1));
        assert_eq!(attrs[1].kind, 6);
        let inner: Vec<_> = attrs[1].nested().collect::<Result<_, _>>().expect("valid");
        assert_eq!(inner[0].u32("b"), Ok(42));
    }

    #[test]
    fn reader_accepts_missing_final_padding() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&ne16(5));
        buf.extend_from_slice(&ne16(1));
        buf.push(9);
        let attrs: Vec<_> = Attrs::new(&buf).collect::<Result<_, _>>().expect("valid");
        assert_eq!(attrs[0].u8("x"), Ok(9));
    }

    #[test]
    fn reader_rejects_truncation() {
        let mut w = AttrWriter::new();
        w.put_u32(1, 1).put_u32(2, 2);
        let buf = w.finish().expect("small");
        // Second attribute cut short, and a stray partial header.
        for (cut, offset) in [(buf.len() - 1, 8), (10, 8), (4, 0)] {
            let mut it = Attrs::new(&buf[..cut]);
            if offset > 0 {
                assert!(matches!(it.next(), Some(Ok(_))));
            }
            assert_eq!(it.next(), Some(Err(ParseError::Truncated { offset })));
            assert_eq!(it.next(), None, "stops after an error");
        }
        // A length below the header size would never advance.
        let mut bad = Vec::new();
        bad.extend_from_slice(&ne16(2));
        bad.extend_from_slice(&ne16(1));
        assert_eq!(
            Attrs::new(&bad).next(),
            Some(Err(ParseError::Truncated { offset: 0 }))
        );
    }

    #[test]
    fn scalar_sizes_are_strict() {
        let a = Attr {
            kind: 1,
            payload: &[1, 2],
        };
        assert_eq!(
            a.u32("x"),
            Err(ParseError::BadLength {
                attr: "x",
                expected: "4",
                got: 2
            })
        );
        assert!(a.uint("x").is_err());
        let four = Attr {
            kind: 1,
            payload: &7u32.to_ne_bytes(),
        };
        assert_eq!(four.uint("x"), Ok(7));
        let eight = Attr {
            kind: 1,
            payload: &(1u64 << 40).to_ne_bytes(),
        };
        assert_eq!(eight.uint("x"), Ok(1 << 40));
    }

    #[test]
    fn strings_stop_at_nul_and_must_be_utf8() {
        let a = Attr {
            kind: 1,
            payload: b"0.1.0\0",
        };
        assert_eq!(a.string("v"), Ok("0.1.0"));
        let bare = Attr {
            kind: 1,
            payload: b"x",
        };
        assert_eq!(bare.string("v"), Ok("x"));
        let bad = Attr {
            kind: 1,
            payload: &[0xff, 0],
        };
        assert_eq!(bad.string("v"), Err(ParseError::BadString("v")));
    }

    #[test]
    fn small_scalars_and_flags() {
        let mut w = AttrWriter::new();
        w.put_u8(1, 7).put_u16(2, 0x0102).put_flag(3);
        let buf = w.finish().expect("small");
        let mut want = Vec::new();
        want.extend_from_slice(&ne16(5));
        want.extend_from_slice(&ne16(1));
        want.extend_from_slice(&[7, 0, 0, 0]);
        want.extend_from_slice(&ne16(6));
        want.extend_from_slice(&ne16(2));
        want.extend_from_slice(&0x0102u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&ne16(4));
        want.extend_from_slice(&ne16(3));
        assert_eq!(buf, want);
        let attrs: Vec<_> = Attrs::new(&buf).collect::<Result<_, _>>().expect("valid");
        assert_eq!(attrs[1].u16("v"), Ok(0x0102));
        assert_eq!(attrs[2].flag("f"), Ok(true));
        assert!(attrs[0].flag("f").is_err(), "a flag has no payload");
    }

    #[test]
    fn oversized_attribute_is_an_error() {
        let mut w = AttrWriter::new();
        w.put(1, &vec![0; 70_000]);
        assert_eq!(w.finish(), Err(TooLarge));
    }
}
