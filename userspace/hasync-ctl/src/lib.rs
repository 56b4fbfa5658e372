//! The control API of `hasyncd`: change requests, status, switchover and
//! audit, as JSON frames over TIPC `SOCK_SEQPACKET` (one frame per message).
//!
//! | service | scope | published by | used for |
//! |---|---|---|---|
//! | `{type, instance}` | cluster | the primary | replication stream (engine wire codec) |
//! | `{type + 1, instance}` | cluster | the primary | change requests, switchover, audit |
//! | `{type + 2, instance}` | node | every daemon | `status` of the daemon on this node |
//!
//! A client connects by service name, so the CLI reaches whichever daemon
//! is primary without knowing where it runs. Every request carries an id
//! echoed in its reply; a client may pipeline requests on one connection
//! and replies come back in completion order (a change is answered only
//! once the kernel ACKed it and every hot standby holds it).
//!
//! A frame that does not parse is answered with a `bad-request` error and
//! the connection is closed; the daemon's state is untouched.

pub mod client;
pub mod proto;
pub mod service;

pub use client::{Client, ClientError};
pub use proto::*;
pub use service::Services;
