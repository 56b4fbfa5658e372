//! What every TIPC socket of this crate can do: [`TipcSocket`], and the
//! helpers the socket types share.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::addr::{SockaddrTipc, SocketAddr};
use crate::error::{DecodeError, Error};
use crate::node::NodeId;
use crate::sys;
use crate::uapi::{
    SOL_TIPC, TIPC_CONN_TIMEOUT, TIPC_CRITICAL_IMPORTANCE, TIPC_HIGH_IMPORTANCE, TIPC_IMPORTANCE,
    TIPC_LOW_IMPORTANCE, TIPC_MAX_USER_MSG_SIZE, TIPC_MEDIUM_IMPORTANCE, TIPC_SOCK_RECVQ_DEPTH,
};

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Message importance (`TIPC_IMPORTANCE`). Higher importance gets larger
/// receive-queue limits before the kernel rejects or drops messages for
/// overload; the default is [`Importance::Low`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Importance {
    /// `TIPC_LOW_IMPORTANCE`.
    #[default]
    Low,
    /// `TIPC_MEDIUM_IMPORTANCE`.
    Medium,
    /// `TIPC_HIGH_IMPORTANCE`.
    High,
    /// `TIPC_CRITICAL_IMPORTANCE`.
    Critical,
}

impl Importance {
    const fn raw(self) -> u32 {
        match self {
            Importance::Low => TIPC_LOW_IMPORTANCE,
            Importance::Medium => TIPC_MEDIUM_IMPORTANCE,
            Importance::High => TIPC_HIGH_IMPORTANCE,
            Importance::Critical => TIPC_CRITICAL_IMPORTANCE,
        }
    }

    fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            TIPC_LOW_IMPORTANCE => Some(Importance::Low),
            TIPC_MEDIUM_IMPORTANCE => Some(Importance::Medium),
            TIPC_HIGH_IMPORTANCE => Some(Importance::High),
            TIPC_CRITICAL_IMPORTANCE => Some(Importance::Critical),
            _ => None,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// Options and names common to all the socket types here. Import it to
/// call them; the types also implement `AsFd`/`AsRawFd` for polling.
pub trait TipcSocket: AsFd + Sealed {
    /// The socket's own address `<node:port>` (`getsockname`).
    fn local_addr(&self) -> Result<SocketAddr> {
        let (name, len) = sys::local_name(self.as_fd()).map_err(Error::io("getsockname"))?;
        socket_name(&name[..len])
    }

    /// The own node's 32-bit address; 0 until the node has one (it gets
    /// it when the identity is set, after a short duplicate check).
    fn own_node(&self) -> Result<u32> {
        Ok(self.local_addr()?.node)
    }

    /// The 128-bit identity of the node with address `node`: the own node,
    /// or a peer the node has a link to (`EADDRNOTAVAIL` otherwise).
    fn node_id(&self, node: u32) -> Result<NodeId> {
        sys::node_id(self.as_fd(), node)
            .map(NodeId)
            .map_err(Error::io("SIOCGETNODEID"))
    }

    /// Set the importance of the messages this socket sends.
    fn set_importance(&self, importance: Importance) -> Result<()> {
        sys::set_u32_opt(self.as_fd(), SOL_TIPC, TIPC_IMPORTANCE, importance.raw())
            .map_err(Error::io("setsockopt(TIPC_IMPORTANCE)"))
    }

    /// The importance of the messages this socket sends.
    fn importance(&self) -> Result<Importance> {
        let raw = sys::get_u32_opt(self.as_fd(), SOL_TIPC, TIPC_IMPORTANCE)
            .map_err(Error::io("getsockopt(TIPC_IMPORTANCE)"))?;
        Importance::from_raw(raw).ok_or(Error::Io {
            op: "getsockopt(TIPC_IMPORTANCE)",
            source: io::Error::new(io::ErrorKind::InvalidData, "unknown importance"),
        })
    }

    /// How long a blocking `connect` waits for the peer (`TIPC_CONN_TIMEOUT`,
    /// default 8 s), in whole milliseconds.
    fn set_conn_timeout(&self, timeout: Duration) -> Result<()> {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        sys::set_u32_opt(self.as_fd(), SOL_TIPC, TIPC_CONN_TIMEOUT, ms)
            .map_err(Error::io("setsockopt(TIPC_CONN_TIMEOUT)"))
    }

    /// The connect timeout.
    fn conn_timeout(&self) -> Result<Duration> {
        sys::get_u32_opt(self.as_fd(), SOL_TIPC, TIPC_CONN_TIMEOUT)
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .map_err(Error::io("getsockopt(TIPC_CONN_TIMEOUT)"))
    }

    /// Messages waiting in the receive queue (`TIPC_SOCK_RECVQ_DEPTH`).
    fn recv_queue_depth(&self) -> Result<u32> {
        sys::get_u32_opt(self.as_fd(), SOL_TIPC, TIPC_SOCK_RECVQ_DEPTH)
            .map_err(Error::io("getsockopt(TIPC_SOCK_RECVQ_DEPTH)"))
    }

    /// Switch `O_NONBLOCK`: calls that would wait fail with
    /// [`Error::is_would_block`] instead.
    fn set_nonblocking(&self, on: bool) -> Result<()> {
        sys::set_nonblocking(self.as_fd(), on).map_err(Error::io("fcntl(O_NONBLOCK)"))
    }

    /// Make blocking receives give up after `timeout` (`SO_RCVTIMEO`)
    /// with [`Error::is_would_block`]; `None` waits forever. Shorter
    /// timeouts, zero included, are rounded up to a microsecond.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeval_opt(self.as_fd(), libc::SO_RCVTIMEO, round_up(timeout))
            .map_err(Error::io("setsockopt(SO_RCVTIMEO)"))
    }

    /// Make blocking sends give up after `timeout` (`SO_SNDTIMEO`), as
    /// [`TipcSocket::set_read_timeout`] does for receives.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeval_opt(self.as_fd(), libc::SO_SNDTIMEO, round_up(timeout))
            .map_err(Error::io("setsockopt(SO_SNDTIMEO)"))
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it: how a
    /// nonblocking connect that failed says why.
    fn take_error(&self) -> Result<Option<io::Error>> {
        let err = sys::get_u32_opt(self.as_fd(), libc::SOL_SOCKET, libc::SO_ERROR)
            .map_err(Error::io("getsockopt(SO_ERROR)"))?;
        Ok(match i32::try_from(err) {
            Ok(0) => None,
            Ok(errno) => Some(io::Error::from_raw_os_error(errno)),
            Err(_) => Some(io::Error::other("SO_ERROR out of range")),
        })
    }
}

/// `AsFd`, `AsRawFd`, `Into<OwnedFd>` and [`TipcSocket`] for socket types
/// that hold their descriptor in a field `fd: OwnedFd`.
macro_rules! impl_fd {
    ($($t:ty),*) => {$(
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.fd)
            }
        }
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.fd)
            }
        }
        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                s.fd
            }
        }
        impl $crate::socket::Sealed for $t {}
        impl $crate::socket::TipcSocket for $t {}
    )*};
}
pub(crate) use impl_fd;

/// A zero timeval means "forever" to the kernel: keep tiny timeouts finite.
fn round_up(timeout: Option<Duration>) -> Option<Duration> {
    timeout.map(|t| t.max(Duration::from_micros(1)))
}

/// Refuse what TIPC cannot carry as one message.
pub(crate) fn check_send_len(len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::EmptyMessage);
    }
    if len > TIPC_MAX_USER_MSG_SIZE {
        return Err(Error::MessageTooLarge {
            len,
            max: TIPC_MAX_USER_MSG_SIZE,
        });
    }
    Ok(())
}

/// A kernel-written name that must be a socket address.
pub(crate) fn socket_name(name: &[u8]) -> Result<SocketAddr> {
    let sa = SockaddrTipc::decode(name)?;
    sa.socket()
        .ok_or(Error::Decode(DecodeError::AddrType(name[2])))
}

/// Receive one message into `buf`; its length and the sender's socket.
/// A message longer than `buf` is an error, not a silent cut.
pub(crate) fn recv_message(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Option<SocketAddr>)> {
    let r = sys::recv(fd, buf).map_err(Error::io("recv"))?;
    if r.flags & libc::MSG_TRUNC != 0 {
        return Err(Error::Truncated(buf.len()));
    }
    let from = if r.name_len >= crate::uapi::SOCKADDR_TIPC_LEN {
        Some(socket_name(&r.name[..r.name_len])?)
    } else {
        None
    };
    Ok((r.len, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_lengths() {
        assert!(check_send_len(1).is_ok());
        assert!(check_send_len(TIPC_MAX_USER_MSG_SIZE).is_ok());
        assert!(matches!(check_send_len(0), Err(Error::EmptyMessage)));
        assert!(matches!(
            check_send_len(TIPC_MAX_USER_MSG_SIZE + 1),
            Err(Error::MessageTooLarge {
                len: 66001,
                max: 66000
            })
        ));
    }

    #[test]
    fn importance_round_trip() {
        for i in [
            Importance::Low,
            Importance::Medium,
            Importance::High,
            Importance::Critical,
        ] {
            assert_eq!(Importance::from_raw(i.raw()), Some(i));
        }
        assert_eq!(Importance::from_raw(4), None);
    }
}
