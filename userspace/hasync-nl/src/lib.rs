//! Userspace side of the hasync generic netlink family.
//!
//! Records, ops and sections are [`hasync_model`]'s; this crate codes them.
//! [`generated`] holds the wire numbers, generated from `hasync.yaml` by
//! `scripts/ynl-gen-rs`; [`Client`] talks to `hasync.ko` with them, and
//! [`Monitor`] follows its multicast groups.
//!
//! The socket comes from `neli` 0.7 (its plain [`neli::socket::NlSocket`]);
//! message framing ([`nlmsg`]) and attributes ([`attr`]) are our own, so
//! that many requests can share one `sendmsg` ([`Client::update_batch`]),
//! so that an error keeps every extended-ACK attribute (hasync puts the
//! register or the owner epoch in the extack cookie), and so that every
//! reply parser is a pure function over bytes with errors that name the
//! attribute. [`Genl`], the socket, serves other families too (TIPC's, in
//! `hasync-tipc`). One module per command family:
//!
//! | module | commands |
//! |---|---|
//! | [`info`](Info) | `info` |
//! | `channel` | `channel-new`, `channel-del`, `channel-get` |
//! | `claim` | `claim` |
//! | `update`, `batch` | `update`, one at a time or pipelined |
//! | `cookies` | `cookies` (do: the OR; dump: the log's entries) |
//! | `replay` | `replay-begin`, `-entries`, `-commit`, `-abort` |
//! | `entry` | `entry-get` |
//! | `stats` | `stats` |
//! | `monitor` | `ack-ntf`, `entry-ntf`, `channel-ntf` |

pub mod attr;
mod bad_attr;
mod baseline;
mod batch;
mod channel;
mod claim;
mod client;
mod cookies;
mod ctrl;
mod entry;
mod error;
pub mod generated;
mod genl;
mod info;
mod monitor;
pub mod nlmsg;
mod policy;
mod record;
mod replay;
mod stats;
mod update;

pub use baseline::CtrlBaseline;
pub use batch::{EncodedUpdates, MAX_SEND};
pub use channel::{Channel, NewChannel, SectionInfo};
pub use claim::{encode_claim, parse_brief_claim_reply, parse_claim_reply, ClaimTarget, Claimed};
pub use client::Client;
pub use cookies::{encode_cookies, CookieEntry, CookieLog, Cookies, CookiesReply};
pub use ctrl::Family;
pub use entry::{encode_entry_get, Entry, EntryFilter};
pub use error::{Error, KernelError};
pub use genl::Genl;
pub use info::Info;
pub use monitor::{decode_event, Event, Groups, Monitor};
pub use policy::OpPolicy;
pub use replay::{encode_replay_entries, ReplayBegin, ReplayDone, ENTRIES_MSG_MAX};
pub use stats::{CmdStats, ErrStats, Stats};
pub use update::{Ack, Update};
