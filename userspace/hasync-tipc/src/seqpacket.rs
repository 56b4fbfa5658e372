//! Connections: `SOCK_SEQPACKET`, reliable and in order, message
//! boundaries kept, one message per `send` up to
//! [`TIPC_MAX_USER_MSG_SIZE`](crate::TIPC_MAX_USER_MSG_SIZE) bytes.
//!
//! The server binds a service (publishes it) and listens; a client
//! connects by service name, from any node of the cluster, and learns the
//! server's socket address from the connection.
//!
//! How a connection ends, as `recv` sees it (`tipc_recvmsg()`): `Ok(0)`
//! only after the peer's [`SeqPacketStream::shutdown`] (`TIPC_CONN_SHUTDOWN`);
//! an error with `ECONNRESET` when the peer's socket was closed, its
//! process died (`tipc_release()` says `TIPC_ERR_NO_PORT`) or its node was
//! lost (`TIPC_ERR_NO_NODE`).
//!
//! Nonblocking connect ([`SeqPacketStream::connect_nonblocking`]): wait
//! for the socket to become readable *or* writable. Writable means
//! established; a refused connect shows only as readable + hang-up
//! (`tipc_poll()` in `TIPC_DISCONNECTING`), with `ECONNREFUSED` in
//! [`TipcSocket::take_error`].

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use crate::addr::{Addr, Scope, ServiceAddr, ServiceRange, SockaddrTipc, SocketAddr};
use crate::error::Error;
use crate::socket::{check_send_len, impl_fd, recv_message, socket_name, Result, TipcSocket};
use crate::sys;

/// Backlog passed to `listen()`; TIPC only uses it as a hint.
const BACKLOG: libc::c_int = 64;

/// A listening socket publishing one or more service ranges.
#[derive(Debug)]
pub struct SeqPacketListener {
    fd: OwnedFd,
}

impl SeqPacketListener {
    /// Publish `service` with `scope` and listen. Blocking; see
    /// [`TipcSocket::set_nonblocking`].
    pub fn bind(service: ServiceAddr, scope: Scope) -> Result<Self> {
        Self::bind_range(ServiceRange::single(service), scope)
    }

    /// Publish a range of instances and listen.
    pub fn bind_range(range: ServiceRange, scope: Scope) -> Result<Self> {
        let fd = sys::socket(libc::SOCK_SEQPACKET, false).map_err(Error::io("socket"))?;
        let listener = Self { fd };
        listener.publish(range, scope)?;
        sys::listen(listener.fd.as_fd(), BACKLOG).map_err(Error::io("listen"))?;
        Ok(listener)
    }

    /// Publish one more range on the same socket. Service types below 64
    /// are the kernel's (`EACCES`).
    pub fn publish(&self, range: ServiceRange, scope: Scope) -> Result<()> {
        let sa = SockaddrTipc::with_scope(Addr::Range(range), scope);
        sys::bind(self.fd.as_fd(), &sa.encode()).map_err(Error::io("bind"))
    }

    /// Withdraw a range published with `scope`; clients see
    /// [`TopologyEvent::Withdrawn`](crate::TopologyEvent::Withdrawn). The
    /// socket keeps listening.
    pub fn withdraw(&self, range: ServiceRange, scope: Scope) -> Result<()> {
        let sa = SockaddrTipc::with_scope(Addr::Range(range), scope);
        sys::bind(self.fd.as_fd(), &sa.encode_withdrawal()).map_err(Error::io("bind(withdraw)"))
    }

    /// Take one incoming connection and the client's socket address. The
    /// new stream is blocking unless `nonblocking`.
    pub fn accept(&self, nonblocking: bool) -> Result<(SeqPacketStream, SocketAddr)> {
        let (fd, name, len) =
            sys::accept(self.fd.as_fd(), nonblocking).map_err(Error::io("accept"))?;
        let peer = socket_name(&name[..len])?;
        Ok((SeqPacketStream { fd }, peer))
    }
}

/// One end of a connection.
#[derive(Debug)]
pub struct SeqPacketStream {
    fd: OwnedFd,
}

impl SeqPacketStream {
    /// Connect to whichever socket publishes `service` (any node; the own
    /// node's first), waiting at most the socket's connect timeout (8 s by
    /// default). Fails at once with `EHOSTUNREACH` if nobody publishes it,
    /// and with `ECONNREFUSED` if the publisher does not accept.
    pub fn connect(service: ServiceAddr) -> Result<Self> {
        Self::connect_addr(service.into(), None)
    }

    /// The same, waiting at most `timeout` (`TIPC_CONN_TIMEOUT`).
    pub fn connect_timeout(service: ServiceAddr, timeout: Duration) -> Result<Self> {
        Self::connect_addr(service.into(), Some(timeout))
    }

    /// Connect to `addr`: a service (looked up on node `lookup_node` only,
    /// unless that is 0) or a socket address; ranges are refused by the
    /// kernel (`EINVAL`). `timeout` sets `TIPC_CONN_TIMEOUT` first.
    pub fn connect_addr(addr: Addr, timeout: Option<Duration>) -> Result<Self> {
        let fd = sys::socket(libc::SOCK_SEQPACKET, false).map_err(Error::io("socket"))?;
        let stream = Self { fd };
        if let Some(t) = timeout {
            stream.set_conn_timeout(t)?;
        }
        sys::connect(stream.fd.as_fd(), &SockaddrTipc::new(addr).encode())
            .map_err(Error::io("connect"))?;
        Ok(stream)
    }

    /// Start connecting on a nonblocking socket and return at once; see
    /// the module documentation for how to learn the outcome.
    pub fn connect_nonblocking(addr: Addr) -> Result<Self> {
        let fd = sys::socket(libc::SOCK_SEQPACKET, true).map_err(Error::io("socket"))?;
        match sys::connect(fd.as_fd(), &SockaddrTipc::new(addr).encode()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(source) => {
                return Err(Error::Io {
                    op: "connect",
                    source,
                })
            }
        }
        Ok(Self { fd })
    }

    /// Send one message, whole. Empty messages and messages over
    /// [`TIPC_MAX_USER_MSG_SIZE`](crate::TIPC_MAX_USER_MSG_SIZE) are
    /// refused with [`Error::EmptyMessage`] / [`Error::MessageTooLarge`].
    /// Blocks while the link is congested unless nonblocking.
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        check_send_len(msg.len())?;
        let n = sys::send(self.fd.as_fd(), msg).map_err(Error::io("send"))?;
        if n != msg.len() {
            // tipc_send_packet() sends a message whole or not at all.
            return Err(Error::Io {
                op: "send",
                source: io::Error::new(io::ErrorKind::WriteZero, "partial message sent"),
            });
        }
        Ok(())
    }

    /// Receive one message into `buf`; its length, 0 when the peer has
    /// closed. A message longer than `buf` is [`Error::Truncated`]; a
    /// buffer of `TIPC_MAX_USER_MSG_SIZE` always suffices.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        recv_message(self.fd.as_fd(), buf).map(|(len, _)| len)
    }

    /// The peer's socket address (`getpeername`): its node and port.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        let (name, len) = sys::peer_name(self.fd.as_fd()).map_err(Error::io("getpeername"))?;
        socket_name(&name[..len])
    }

    /// End the connection in order: the peer's `recv` returns 0, where a
    /// plain close (drop) makes it fail with `ECONNRESET`.
    pub fn shutdown(&self) -> Result<()> {
        sys::shutdown(self.fd.as_fd()).map_err(Error::io("shutdown"))
    }
}

impl_fd!(SeqPacketListener, SeqPacketStream);
