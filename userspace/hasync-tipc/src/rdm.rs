//! Datagrams: `SOCK_RDM`, reliable delivery of single messages without a
//! connection, addressed by service or by socket.
//!
//! "Reliable" means the link does not lose them; a message whose
//! destination socket has gone, or whose receive queue is full, is dropped
//! (connectionless sockets start with `TIPC_DEST_DROPPABLE` set, and this
//! crate leaves it). Sending to a service nobody publishes fails at once
//! with `EHOSTUNREACH`.

use std::os::fd::{AsFd, OwnedFd};

use crate::addr::{Addr, Scope, ServiceAddr, ServiceRange, SockaddrTipc, SocketAddr};
use crate::error::{DecodeError, Error};
use crate::socket::{check_send_len, impl_fd, recv_message, Result};
use crate::sys;

/// A `SOCK_RDM` socket.
#[derive(Debug)]
pub struct RdmSocket {
    fd: OwnedFd,
}

impl RdmSocket {
    /// An unbound socket (it can send, and receive replies at its socket
    /// address).
    pub fn new() -> Result<Self> {
        let fd = sys::socket(libc::SOCK_RDM, false).map_err(Error::io("socket"))?;
        Ok(Self { fd })
    }

    /// A socket publishing `service`.
    pub fn bind(service: ServiceAddr, scope: Scope) -> Result<Self> {
        let s = Self::new()?;
        s.publish(ServiceRange::single(service), scope)?;
        Ok(s)
    }

    /// Publish a range.
    pub fn publish(&self, range: ServiceRange, scope: Scope) -> Result<()> {
        let sa = SockaddrTipc::with_scope(Addr::Range(range), scope);
        sys::bind(self.fd.as_fd(), &sa.encode()).map_err(Error::io("bind"))
    }

    /// Withdraw a range published with `scope`.
    pub fn withdraw(&self, range: ServiceRange, scope: Scope) -> Result<()> {
        let sa = SockaddrTipc::with_scope(Addr::Range(range), scope);
        sys::bind(self.fd.as_fd(), &sa.encode_withdrawal()).map_err(Error::io("bind(withdraw)"))
    }

    /// Send one message to `to`: a service (one of its publishers), a
    /// socket, or, for a range, every publisher in it (multicast).
    pub fn send_to(&self, msg: &[u8], to: impl Into<Addr>) -> Result<()> {
        check_send_len(msg.len())?;
        let sa = SockaddrTipc::new(to);
        sys::send_to(self.fd.as_fd(), msg, &sa.encode()).map_err(Error::io("sendto"))?;
        Ok(())
    }

    /// Receive one message and the sender's socket address. A message
    /// longer than `buf` is [`Error::Truncated`].
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        let (len, from) = recv_message(self.fd.as_fd(), buf)?;
        let from = from.ok_or(Error::Decode(DecodeError::Length {
            what: "sockaddr_tipc",
            len: 0,
            expected: crate::uapi::SOCKADDR_TIPC_LEN,
        }))?;
        Ok((len, from))
    }
}

impl_fd!(RdmSocket);
