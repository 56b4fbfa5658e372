//! Errors of the TIPC layer.

use std::io;

use thiserror::Error;

use crate::addr::ServiceRange;

/// Everything that can go wrong on a TIPC socket.
#[derive(Debug, Error)]
pub enum Error {
    /// A system call failed; `op` names it (`"connect"`, `"recv"`, …).
    #[error("tipc {op}: {source}")]
    Io {
        /// The operation, for the message.
        op: &'static str,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The message is larger than
    /// [`TIPC_MAX_USER_MSG_SIZE`](crate::TIPC_MAX_USER_MSG_SIZE); refused
    /// before it reaches the kernel (which would say `EMSGSIZE`).
    #[error("message of {len} bytes exceeds the TIPC maximum of {max} bytes")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An empty message: TIPC delivers no zero-length data message (the
    /// receiver skips it), and on a connection `recv` returning 0 means
    /// the peer has closed, so we refuse to send one.
    #[error("empty message (TIPC does not deliver zero-length messages)")]
    EmptyMessage,
    /// A received message did not fit the buffer; its tail is lost.
    #[error("received message truncated to the {0}-byte buffer")]
    Truncated(usize),
    /// A subscription for a range with `lower > upper`, which would make the
    /// topology server close the connection.
    #[error("invalid service range {0}: lower > upper")]
    InvalidRange(ServiceRange),
    /// The topology server closed the connection (it does so when it
    /// rejects a subscription: see `tipc_conn_rcv_from_sock()`).
    #[error("the TIPC topology server closed the connection")]
    TopologyClosed,
    /// The kernel handed us bytes we do not understand.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl Error {
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }

    /// The `io::ErrorKind`, for the I/O errors.
    pub fn kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// The errno, for the I/O errors.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Whether a nonblocking socket just has nothing to do yet (`EAGAIN`);
    /// poll and retry.
    pub fn is_would_block(&self) -> bool {
        self.kind() == Some(io::ErrorKind::WouldBlock)
    }
}

/// So that the socket calls fit `io::Result` closures (a reactor's
/// `try_io`); the kind survives, and the other variants become
/// `InvalidInput` (our refusals) or `InvalidData` (the kernel's bytes).
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io { source, .. } => source.kind(),
            Error::MessageTooLarge { .. } | Error::EmptyMessage | Error::InvalidRange(_) => {
                io::ErrorKind::InvalidInput
            }
            Error::TopologyClosed => io::ErrorKind::UnexpectedEof,
            Error::Truncated(_) | Error::Decode(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Bytes from the kernel that do not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Wrong size for the struct.
    #[error("{what}: {len} bytes, expected {expected}")]
    Length {
        /// The C struct.
        what: &'static str,
        /// What we got.
        len: usize,
        /// Its size.
        expected: usize,
    },
    /// `sockaddr_tipc.family` is not `AF_TIPC`.
    #[error("sockaddr_tipc: family {0}, expected AF_TIPC (30)")]
    Family(u16),
    /// Unknown `sockaddr_tipc.addrtype`.
    #[error("sockaddr_tipc: unknown addrtype {0}")]
    AddrType(u8),
    /// Unknown `sockaddr_tipc.scope`.
    #[error("sockaddr_tipc: unknown scope {0}")]
    Scope(i8),
    /// Unknown `tipc_event.event`.
    #[error("tipc_event: unknown event {0}")]
    Event(u32),
    /// A subscription filter with neither `TIPC_SUB_PORTS` nor
    /// `TIPC_SUB_SERVICE`.
    #[error("tipc_subscr: filter {0:#x} has neither TIPC_SUB_PORTS nor TIPC_SUB_SERVICE")]
    Filter(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_conversion_keeps_kind() {
        let e = Error::Io {
            op: "recv",
            source: io::Error::from_raw_os_error(libc::EAGAIN),
        };
        assert!(e.is_would_block());
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::WouldBlock);
        let e = Error::MessageTooLarge {
            len: 66001,
            max: 66000,
        };
        assert_eq!(
            e.to_string(),
            "message of 66001 bytes exceeds the TIPC maximum of 66000 bytes"
        );
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::InvalidInput);
    }
}
