//! The control API of `hasyncd`: change requests, status, switchover and
//! audit, as JSON frames over TIPC `SOCK_SEQPACKET` (one frame per message).
//! `status` and `channels` are answered on either control service.
//!
//! | service | scope | published by | used for |
//! |---|---|---|---|
//! | `{type, instance}` | cluster | the primary | replication stream (engine wire codec) |
//! | `{type + 1, instance}` | cluster | the primary | change requests, switchover, audit |
//! | `{type + 2, instance}` | node | every daemon | `status` (and its `channels` pages) of the daemon on this node |
//!
//! A client connects by service name, so the CLI reaches whichever daemon
//! is primary without knowing where it runs. Every request carries an id
//! echoed in its reply; a client may pipeline requests on one connection
//! and replies come back in completion order (a change is answered only
//! once the kernel ACKed it and every hot standby holds it).
//!
//! Replies stay within one frame ([`FRAME_MAX`]): `status` carries as many
//! channels as fit and names the first one left out (`next_channel`);
//! `channels` requests fetch the rest page by page ([`page`],
//! [`Client::status_all`]), and the takeover report in `status` lists at
//! most [`REPORT_CHANNELS_MAX`] channels (the daemon's log has them all).
//!
//! A frame that does not parse is answered with a `bad-request` error and
//! the connection is closed; the daemon's state is untouched.

pub mod auth;
pub mod client;
pub mod events;
pub mod node_view;
pub mod page;
pub mod proto;
mod record;
pub mod service;
pub mod tcp;

pub use client::{Client, ClientError};
pub use proto::*;
pub use service::Services;
