//! Userspace side of the hasync generic netlink family.
//!
//! [`generated`] holds the wire numbers, generated from `hasync.yaml` by
//! `scripts/ynl-gen-rs`; [`Client`] talks to `hasync.ko` with them.
//!
//! The socket, message framing and error/extended-ACK decoding come from
//! `neli` 0.7, used through its plain `NlSocketHandle` rather than its
//! `NlRouter`: in 0.7.5 the router's typed error conversion
//! (`Nlmsgerr::to_typed`) drops the extended-ACK attributes, and those carry
//! the kernel's explanation of a rejected request; the router also runs its
//! own polling thread per socket, where the daemon wants to own its event
//! loop. Attributes are read and written by [`attr`], so every reply parser
//! is a pure function over bytes with errors that name the attribute.

pub mod attr;
mod client;
mod ctrl;
mod error;
pub mod generated;
mod info;

pub use client::Client;
pub use ctrl::Family;
pub use error::{Error, KernelError};
pub use info::Info;
