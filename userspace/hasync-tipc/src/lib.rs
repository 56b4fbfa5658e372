//! TIPC transport for the hasync daemons: `AF_TIPC` sockets and
//! topology-server subscriptions, over libc.
//!
//! nix and libc have no TIPC address types, so this crate encodes the
//! structs of `<linux/tipc.h>` itself ([`addr`], [`subscr`]) as pure
//! functions over bytes, tested on any host; the sockets are thin
//! wrappers around `OwnedFd` whose system calls all live in one private
//! module (`sys`), the only `unsafe` code. Every socket type implements
//! `AsFd`/`AsRawFd`, so a caller can poll it with `poll`, mio or tokio's
//! `AsyncFd` after [`TipcSocket::set_nonblocking`]; [`Error`] converts to
//! `io::Error` keeping `WouldBlock`.
//!
//! | type | socket | use |
//! |---|---|---|
//! | [`SeqPacketListener`], [`SeqPacketStream`] | `SOCK_SEQPACKET` | the replication stream: connect by service name, message boundaries kept |
//! | [`RdmSocket`] | `SOCK_RDM` | datagrams to a service or socket |
//! | [`TopologyConnection`] | `SOCK_SEQPACKET` to `{1,1}` | [`Subscription`]s in, [`TopologyEvent`]s out: peer service and node up/down |
//! | [`TipcConfig`] | generic netlink, family `TIPCv2` | the bearers' link tolerance ([`link_tolerance`]), as `tipc bearer get/set tolerance` |
//!
//! No framing: SEQPACKET keeps message boundaries, one `send` is one
//! `recv`. Messages are at most [`TIPC_MAX_USER_MSG_SIZE`] bytes; larger
//! (and empty) ones are refused before the system call.
//!
//! The host kernel of the build machines has no TIPC: the socket code is
//! exercised in the test VM by `selftests/hasync/tipc_test.sh` with the
//! `tipc-probe` example, across two network namespaces set up by
//! `scripts/tipc-netns`.

// Unsafe code lives in `sys` alone, each block with its `// SAFETY:`.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod addr;
mod bytes;
mod error;
pub mod link_tolerance;
mod node;
mod rdm;
mod seqpacket;
mod socket;
pub mod subscr;
#[allow(unsafe_code)]
mod sys;
mod topology;
pub mod uapi;

pub use addr::{Addr, Scope, ServiceAddr, ServiceRange, SockaddrTipc, SocketAddr};
pub use error::{DecodeError, Error};
pub use link_tolerance::{Applied, Bearer, TipcConfig, ToleranceError};
pub use node::NodeId;
pub use rdm::RdmSocket;
pub use seqpacket::{SeqPacketListener, SeqPacketStream};
pub use socket::{Importance, Result, TipcSocket};
pub use subscr::{Filter, Subscription, TopologyEvent};
pub use topology::{TopologyConnection, TOPOLOGY_SERVICE};
pub use uapi::{TIPC_MAX_USER_MSG_SIZE, TIPC_NODE_STATE, TIPC_RESERVED_TYPES};
