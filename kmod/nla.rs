// SPDX-License-Identifier: GPL-2.0

//! A safe walk over netlink attributes.
//!
//! The genetlink core has already validated every attribute against the
//! policies generated from `hasync.yaml` (types, lengths, ranges, nesting)
//! before a handler runs, so the walk below never expects a malformed
//! stream; it still bounds-checks every step instead of trusting that, and
//! simply ends at anything it cannot read.

/// Attribute type bits that are flags, not part of the type.
const NLA_TYPE_MASK: u16 = !(1 << 15 | 1 << 14);
const NLA_HDRLEN: usize = 4;

/// One attribute, with its offset from the start of the outermost stream so
/// that errors can point the extack at it.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    pub(crate) kind: u16,
    pub(crate) payload: &'a [u8],
    pub(crate) offset: usize,
}

/// Iterator over a stream of attributes.
#[derive(Clone)]
pub(crate) struct Attrs<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Attrs<'a> {
    /// A top-level stream; offsets count from its first byte.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Attrs {
            buf,
            pos: 0,
            base: 0,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let hdr = self.buf.get(self.pos..self.pos.checked_add(NLA_HDRLEN)?)?;
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        let kind = u16::from_ne_bytes([hdr[2], hdr[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN {
            return None;
        }
        let payload = self
            .buf
            .get(self.pos + NLA_HDRLEN..self.pos.checked_add(len)?)?;
        let attr = Attr {
            kind,
            payload,
            offset: self.base + self.pos,
        };
        // NLA_ALIGN: attributes start on 4-byte boundaries.
        self.pos = self.pos.checked_add((len + 3) & !3)?;
        Some(attr)
    }
}

impl<'a> Attr<'a> {
    /// The attributes nested in this one.
    pub(crate) fn nested(&self) -> Attrs<'a> {
        Attrs {
            buf: self.payload,
            pos: 0,
            base: self.offset + NLA_HDRLEN,
        }
    }

    pub(crate) fn u8(&self) -> Option<u8> {
        self.payload.first().copied()
    }

    pub(crate) fn u16(&self) -> Option<u16> {
        let b = self.payload.get(..2)?;
        Some(u16::from_ne_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&self) -> Option<u32> {
        let b = self.payload.get(..4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An NLA_UINT: 4 or 8 bytes (the policy checked which).
    pub(crate) fn uint(&self) -> Option<u64> {
        match self.payload.len() {
            4 => self.u32().map(u64::from),
            8 => {
                let b = self.payload.get(..8)?;
                let mut v = [0u8; 8];
                v.copy_from_slice(b);
                Some(u64::from_ne_bytes(v))
            }
            _ => None,
        }
    }

    /// NLA_NUL_STRING without its terminator.
    pub(crate) fn string(&self) -> &'a [u8] {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        &self.payload[..end]
    }
}
