// SPDX-License-Identifier: GPL-2.0

//! Refusals: an errno, the class `stats` counts it under, and what the
//! extack tells the caller (a message, the offending or missing attribute,
//! and for the two protocol errors a machine-readable cookie with the value
//! to resync to).

use core::fmt::{self, Write};

use kernel::prelude::*;

use crate::uapi::ErrClass;

/// Errnos the 6.12 `kernel::error::code` module does not predeclare.
#[allow(non_snake_case)]
pub(crate) fn EPROTO() -> Error {
    Error::from_errno(-(kernel::bindings::EPROTO as i32))
}

#[allow(non_snake_case)]
pub(crate) fn ESTALE() -> Error {
    Error::from_errno(-(kernel::bindings::ESTALE as i32))
}

#[allow(non_snake_case)]
pub(crate) fn EMSGSIZE() -> Error {
    Error::from_errno(-(kernel::bindings::EMSGSIZE as i32))
}

#[allow(non_snake_case)]
pub(crate) fn EOPNOTSUPP() -> Error {
    Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32))
}

/// Longest extack message (`NETLINK_MAX_FMTMSG_LEN`).
pub(crate) const MSG_MAX: usize = 80;

/// A refused request.
pub(crate) struct Failure {
    pub(crate) errno: Error,
    pub(crate) class: ErrClass,
    pub(crate) msg: [u8; MSG_MAX],
    pub(crate) msg_len: u8,
    /// Offset of the offending attribute in the request's attribute stream.
    pub(crate) bad_attr: Option<u32>,
    /// Type of a required attribute the request lacks.
    pub(crate) missing: Option<u16>,
    /// Extack cookie: the register (8 bytes) or the owner epoch (4 bytes).
    pub(crate) cookie: [u8; 8],
    pub(crate) cookie_len: u8,
}

/// Writes into the fixed message buffer, cutting what does not fit.
struct MsgWriter<'a> {
    buf: &'a mut [u8; MSG_MAX],
    len: &'a mut u8,
}

impl Write for MsgWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the NUL the C side expects.
        let len = usize::from(*self.len);
        let room = MSG_MAX - 1 - len;
        let n = s.len().min(room);
        self.buf[len..len + n].copy_from_slice(&s.as_bytes()[..n]);
        // At most MSG_MAX - 1, which fits a u8.
        *self.len = (len + n) as u8;
        Ok(())
    }
}

impl Failure {
    pub(crate) fn new(errno: Error, class: ErrClass, args: fmt::Arguments<'_>) -> Self {
        let mut f = Failure {
            errno,
            class,
            msg: [0; MSG_MAX],
            msg_len: 0,
            bad_attr: None,
            missing: None,
            cookie: [0; 8],
            cookie_len: 0,
        };
        let mut w = MsgWriter {
            buf: &mut f.msg,
            len: &mut f.msg_len,
        };
        // Writing to a fixed buffer cannot fail; a long message is cut.
        let _ = w.write_fmt(args);
        f
    }

    pub(crate) fn at(mut self, offset: usize) -> Self {
        // Offsets within one netlink message fit a u32.
        self.bad_attr = u32::try_from(offset).ok();
        self
    }

    /// [`Failure::at`], unless the failure already points at one.
    pub(crate) fn or_at(self, offset: usize) -> Self {
        if self.bad_attr.is_some() {
            self
        } else {
            self.at(offset)
        }
    }

    pub(crate) fn missing(mut self, kind: u16) -> Self {
        self.missing = Some(kind);
        self
    }

    /// The message, without the NUL the buffer keeps after it.
    pub(crate) fn message(&self) -> &[u8] {
        &self.msg[..usize::from(self.msg_len)]
    }

    pub(crate) fn cookie_u64(mut self, v: u64) -> Self {
        self.cookie = v.to_ne_bytes();
        self.cookie_len = 8;
        self
    }

    pub(crate) fn cookie_u32(mut self, v: u32) -> Self {
        self.cookie[..4].copy_from_slice(&v.to_ne_bytes());
        self.cookie_len = 4;
        self
    }
}

/// `Failure::new` with format arguments.
macro_rules! fail {
    ($errno:expr, $class:ident, $($arg:tt)*) => {
        $crate::error::Failure::new($errno, $crate::uapi::ErrClass::$class, format_args!($($arg)*))
    };
}
pub(crate) use fail;

/// Result of a command handler.
pub(crate) type HResult<T> = core::result::Result<T, Failure>;

impl From<kernel::alloc::AllocError> for Failure {
    fn from(_: kernel::alloc::AllocError) -> Self {
        fail!(ENOMEM, Nomem, "out of memory")
    }
}

/// Errors of kernel calls inside a handler: an allocation failure, in
/// practice; anything else is named by its errno rather than passed off as
/// memory.
impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        if e == ENOMEM {
            fail!(e, Nomem, "out of memory")
        } else {
            fail!(e, Invalid, "internal error {}", e.to_errno())
        }
    }
}
