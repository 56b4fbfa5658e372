//! A connection to the own node's topology server, the service
//! `{TIPC_TOP_SRV, TIPC_TOP_SRV}` every node publishes with node scope.
//!
//! Send it [`Subscription`]s and read [`TopologyEvent`]s: one per
//! publication present when a subscription arrives, then one per change.
//! This is how a standby learns, within milliseconds, that the primary's
//! process died (its socket's publication is withdrawn when the socket
//! closes) or, after the link tolerance, that its node is gone (every
//! publication of a lost node is withdrawn, its `TIPC_NODE_STATE` one
//! included). Message layouts and byte order: [`crate::subscr`].

use std::os::fd::{AsFd, OwnedFd};

use crate::addr::{ServiceAddr, SockaddrTipc};
use crate::error::Error;
use crate::socket::{impl_fd, recv_message, Result};
use crate::subscr::{Subscription, TopologyEvent};
use crate::sys;
use crate::uapi::{TIPC_EVENT_LEN, TIPC_TOP_SRV};

/// The topology server's own service address.
pub const TOPOLOGY_SERVICE: ServiceAddr = ServiceAddr::new(TIPC_TOP_SRV, TIPC_TOP_SRV);

/// One connection to the topology server, holding any number of
/// subscriptions (up to 65535 per node); they all end when it closes.
#[derive(Debug)]
pub struct TopologyConnection {
    fd: OwnedFd,
}

impl TopologyConnection {
    /// Connect (blocking; the server is local, so this is quick). Works
    /// before the node has an identity, too.
    pub fn connect() -> Result<Self> {
        let fd = sys::socket(libc::SOCK_SEQPACKET, false).map_err(Error::io("socket"))?;
        sys::connect(fd.as_fd(), &SockaddrTipc::new(TOPOLOGY_SERVICE).encode())
            .map_err(Error::io("connect(topology server)"))?;
        Ok(Self { fd })
    }

    /// Add a subscription. Ranges with `lower > upper` are refused here,
    /// because the server would answer them by closing the connection.
    pub fn subscribe(&self, sub: &Subscription) -> Result<()> {
        if !sub.range.is_valid() {
            return Err(Error::InvalidRange(sub.range));
        }
        self.send(&sub.encode(), "send(subscription)")
    }

    /// Cancel a subscription made with exactly these values.
    pub fn cancel(&self, sub: &Subscription) -> Result<()> {
        self.send(&sub.encode_cancel(), "send(cancel)")
    }

    fn send(&self, msg: &[u8], op: &'static str) -> Result<()> {
        sys::send(self.fd.as_fd(), msg).map_err(Error::io(op))?;
        Ok(())
    }

    /// The next event; blocks unless nonblocking.
    /// [`Error::TopologyClosed`] if the server has closed the connection.
    pub fn recv(&self) -> Result<TopologyEvent> {
        // Room for more than an event, so that a wrong size is reported
        // as such by the decoder rather than as truncation.
        let mut buf = [0u8; 2 * TIPC_EVENT_LEN];
        let (len, _) = recv_message(self.fd.as_fd(), &mut buf)?;
        if len == 0 {
            return Err(Error::TopologyClosed);
        }
        Ok(TopologyEvent::decode(&buf[..len])?)
    }
}

impl_fd!(TopologyConnection);
