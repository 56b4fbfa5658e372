//! The engine's view of the kernel module, and a reference model of its rules.
//!
//! [`KernelCmd`] and [`KernelReply`] are what the netlink client translates
//! to and from generic netlink; [`ModelKernel`] is the executable
//! specification `hasync.ko` must match (the simulator runs it):
//!
//! 1. `epoch < owner` → [`KernelError::Fenced`], nothing applied. An update
//!    with `epoch > owner` raises the owner (an implicit claim).
//! 2. `opid <= register` → duplicate: re-ACK the opid with the epoch the
//!    log holds for it, nothing applied, so retransmission is always safe.
//! 3. `opid != register + 1` → [`KernelError::OutOfOrder`] carrying the
//!    register, nothing applied.
//! 4. Validation/limits fail → [`KernelError::Invalid`], nothing applied.
//! 5. Otherwise all ops apply atomically, `register = opid`, the
//!    `(opid, epoch, cookie)` triple enters the cookie log (last N), and an
//!    ACK is returned *and* multicast to listening standbys.
//!
//! Section replays are ordinary updates made of `ReplaceSection` ops, so
//! they follow the same rules and leave a trace in the cookie log: an
//! interrupted replay is visible to whoever takes over next.

use std::collections::{BTreeMap, VecDeque};

use crate::table::{IfRecord, Op, SectionCount, Table, TableError};
use crate::wire::{Ack, Update};
use crate::{ChannelId, Epoch, Opid};

/// Commands the engine sends to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCmd {
    /// Apply an update.
    Update(Update),
    /// Raise the channel's owner epoch (fence older owners) and read the
    /// register, which stands for every ACK the old primary's standbys
    /// may have missed.
    Claim {
        /// Channel.
        channel: ChannelId,
        /// New owner epoch.
        epoch: Epoch,
    },
    /// Cookie log entries for opids `after+1..=register`.
    Cookies {
        /// Channel.
        channel: ChannelId,
        /// Exclusive lower bound.
        after: Opid,
    },
    /// Read the records of some sections: to relearn a channel no standby
    /// holds, and to learn the sections where the kernel is ahead of the
    /// new primary (it is the witness of what was confirmed).
    Dump {
        /// Channel.
        channel: ChannelId,
        /// Sections to read (bit mask; `u64::MAX` for all).
        sections: u64,
    },
    /// Read every channel's register and epochs.
    Registers,
    /// Read per-section digests (audit).
    Digests {
        /// Channel.
        channel: ChannelId,
    },
}

/// One cookie log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieEntry {
    /// Opid.
    pub opid: Opid,
    /// Epoch of the op.
    pub epoch: Epoch,
    /// Sections it touched.
    pub cookie: u64,
}

/// One channel's register as [`KernelCmd::Registers`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterRead {
    /// Channel.
    pub channel: ChannelId,
    /// Register.
    pub register: Opid,
    /// Epoch of the op at the register (0 if none).
    pub register_epoch: Epoch,
    /// Owner epoch.
    pub owner: Epoch,
}

/// Why the kernel refused an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// The sender's epoch is below the channel's owner.
    #[error("fenced: owner epoch is {owner}")]
    Fenced {
        /// Current owner epoch.
        owner: Epoch,
    },
    /// Not the next opid.
    #[error("out of order: register is {register}")]
    OutOfOrder {
        /// Current register.
        register: Opid,
    },
    /// Attribute or limit violation.
    #[error("invalid: {0}")]
    Invalid(TableError),
    /// No such channel.
    #[error("no such channel")]
    NoChannel,
    /// Opid 0 names no update (opids start at 1, 0 is the empty register).
    #[error("opid 0")]
    ZeroOpid,
    /// A plain update's cookie is not the set of sections its ops touch
    /// (checked before anything else, duplicates included).
    #[error("cookie differs from the sections the ops touch ({expected:#x})")]
    BadCookie {
        /// The sections the ops touch.
        expected: u64,
    },
}

/// Replies from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelReply {
    /// Applied (or duplicate): register is now `opid`.
    Ack(Ack),
    /// Refused.
    Reject {
        /// Channel.
        channel: ChannelId,
        /// Opid of the refused update (0 for non-update commands).
        opid: Opid,
        /// Reason.
        error: KernelError,
    },
    /// Claim done.
    Claimed {
        /// Channel.
        channel: ChannelId,
        /// Owner epoch now.
        epoch: Epoch,
        /// Register.
        register: Opid,
        /// Epoch of the op at the register (0 if none).
        register_epoch: Epoch,
    },
    /// Cookie log answer.
    Cookies {
        /// Channel.
        channel: ChannelId,
        /// As asked.
        after: Opid,
        /// Entries `after+1..=register`, or `None` when the log no longer
        /// reaches back that far ("log too short").
        entries: Option<Vec<CookieEntry>>,
    },
    /// Table dump.
    Dump {
        /// Channel.
        channel: ChannelId,
        /// The sections read, as asked.
        sections: u64,
        /// Register.
        register: Opid,
        /// Epoch of the op at the register.
        register_epoch: Epoch,
        /// The records of those sections.
        records: Vec<IfRecord>,
    },
    /// Every channel's register.
    Registers(Vec<RegisterRead>),
    /// Digests.
    Digests {
        /// Channel.
        channel: ChannelId,
        /// Register.
        register: Opid,
        /// One per section.
        digests: Vec<u64>,
    },
}

/// What a model-kernel step produced: the reply to the sender and, for
/// applied updates, the ACK multicast to standbys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelOutput {
    /// Reply to the command's sender.
    pub reply: KernelReply,
    /// ACK published on the multicast group, if an update was applied.
    pub multicast: Option<Ack>,
}

/// One channel inside the model kernel.
#[derive(Debug, Clone)]
pub struct KChannel {
    /// The table.
    pub table: Table,
    /// Acked-opid register.
    pub register: Opid,
    /// Epoch of the op at the register.
    pub register_epoch: Epoch,
    /// Owner epoch (fencing).
    pub owner: Epoch,
    /// Last `cookie_log_len` applied ops.
    pub log: VecDeque<CookieEntry>,
}

/// Reference model of `hasync.ko`'s per-channel rules.
#[derive(Debug, Clone)]
pub struct ModelKernel {
    /// Channels.
    pub channels: BTreeMap<ChannelId, KChannel>,
    /// Cookie log capacity.
    pub cookie_log_len: usize,
    /// Every applied update in order: (channel, epoch, opid). For checkers.
    pub applied: Vec<(ChannelId, Epoch, Opid)>,
}

impl ModelKernel {
    /// A kernel with the given channels, all empty.
    pub fn new(channels: &[(ChannelId, SectionCount)], cookie_log_len: usize) -> Self {
        let channels = channels
            .iter()
            .map(|&(id, sc)| {
                (
                    id,
                    KChannel {
                        table: Table::new(sc),
                        register: 0,
                        register_epoch: 0,
                        owner: 0,
                        log: VecDeque::new(),
                    },
                )
            })
            .collect();
        ModelKernel {
            channels,
            cookie_log_len,
            applied: Vec::new(),
        }
    }

    /// Every channel's register, by channel id.
    pub fn registers(&self) -> Vec<RegisterRead> {
        self.channels
            .iter()
            .map(|(&channel, c)| RegisterRead {
                channel,
                register: c.register,
                register_epoch: c.register_epoch,
                owner: c.owner,
            })
            .collect()
    }

    /// Execute one command.
    pub fn handle(&mut self, cmd: &KernelCmd) -> KernelOutput {
        let plain = |reply| KernelOutput {
            reply,
            multicast: None,
        };
        let ch_id = match cmd {
            KernelCmd::Update(u) => u.channel,
            KernelCmd::Claim { channel, .. }
            | KernelCmd::Cookies { channel, .. }
            | KernelCmd::Dump { channel, .. }
            | KernelCmd::Digests { channel } => *channel,
            KernelCmd::Registers => {
                return plain(KernelReply::Registers(self.registers()));
            }
        };
        let Some(ch) = self.channels.get_mut(&ch_id) else {
            let opid = match cmd {
                KernelCmd::Update(u) => u.opid,
                _ => 0,
            };
            return plain(KernelReply::Reject {
                channel: ch_id,
                opid,
                error: KernelError::NoChannel,
            });
        };
        match cmd {
            KernelCmd::Update(u) => {
                let reject = |error| {
                    plain(KernelReply::Reject {
                        channel: u.channel,
                        opid: u.opid,
                        error,
                    })
                };
                // As hasync.ko (its policy): opids start at 1.
                if u.opid == 0 {
                    return reject(KernelError::ZeroOpid);
                }
                // As hasync.ko: the sender's cookie must be the sections
                // its ops touch (section replays carry none to check).
                let plain_ops = !u.ops.iter().any(|o| matches!(o, Op::ReplaceSection { .. }));
                let touched = crate::table::cookie_of(&u.ops, ch.table.section_count());
                if plain_ops && u.cookie != touched {
                    return reject(KernelError::BadCookie { expected: touched });
                }
                if u.epoch < ch.owner {
                    return reject(KernelError::Fenced { owner: ch.owner });
                }
                if u.opid <= ch.register {
                    // As hasync.ko: the request's opid and cookie echoed,
                    // with the epoch the log holds for that opid; where the
                    // log forgot it, the adapter takes the request's.
                    let logged = if u.opid == ch.register {
                        Some(ch.register_epoch)
                    } else {
                        ch.log.iter().find(|e| e.opid == u.opid).map(|e| e.epoch)
                    };
                    return plain(KernelReply::Ack(Ack {
                        channel: u.channel,
                        epoch: logged.unwrap_or(u.epoch),
                        opid: u.opid,
                        cookie: u.cookie,
                    }));
                }
                if u.opid != ch.register + 1 {
                    return reject(KernelError::OutOfOrder {
                        register: ch.register,
                    });
                }
                if let Err(e) = ch.table.apply(&u.ops) {
                    return reject(KernelError::Invalid(e));
                }
                let cookie = touched;
                ch.owner = ch.owner.max(u.epoch);
                ch.register = u.opid;
                ch.register_epoch = u.epoch;
                ch.log.push_back(CookieEntry {
                    opid: u.opid,
                    epoch: u.epoch,
                    cookie,
                });
                while ch.log.len() > self.cookie_log_len {
                    ch.log.pop_front();
                }
                self.applied.push((u.channel, u.epoch, u.opid));
                let ack = Ack {
                    channel: u.channel,
                    epoch: u.epoch,
                    opid: u.opid,
                    cookie,
                };
                KernelOutput {
                    reply: KernelReply::Ack(ack),
                    multicast: Some(ack),
                }
            }
            KernelCmd::Claim { channel, epoch } => {
                if *epoch < ch.owner {
                    return plain(KernelReply::Reject {
                        channel: *channel,
                        opid: 0,
                        error: KernelError::Fenced { owner: ch.owner },
                    });
                }
                ch.owner = *epoch;
                plain(KernelReply::Claimed {
                    channel: *channel,
                    epoch: ch.owner,
                    register: ch.register,
                    register_epoch: ch.register_epoch,
                })
            }
            KernelCmd::Cookies { channel, after } => {
                let entries = if *after >= ch.register {
                    Some(Vec::new())
                } else {
                    match ch.log.front() {
                        Some(first) if first.opid <= after + 1 => {
                            Some(ch.log.iter().filter(|e| e.opid > *after).copied().collect())
                        }
                        _ => None,
                    }
                };
                plain(KernelReply::Cookies {
                    channel: *channel,
                    after: *after,
                    entries,
                })
            }
            KernelCmd::Dump { channel, sections } => {
                let sc = ch.table.section_count();
                plain(KernelReply::Dump {
                    channel: *channel,
                    sections: *sections,
                    register: ch.register,
                    register_epoch: ch.register_epoch,
                    records: ch
                        .table
                        .iter()
                        .filter(|r| sections & (1u64 << sc.section_of(&r.name)) != 0)
                        .cloned()
                        .collect(),
                })
            }
            KernelCmd::Registers => plain(KernelReply::Registers(Vec::new())),
            KernelCmd::Digests { channel } => plain(KernelReply::Digests {
                channel: *channel,
                register: ch.register,
                digests: ch.table.digests(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::IfName;

    fn upd(epoch: Epoch, opid: Opid, name: &str) -> KernelCmd {
        let r = IfRecord::new(IfName::new(name.as_bytes()).expect("name"));
        let ops = vec![Op::Set(r)];
        KernelCmd::Update(Update {
            channel: 1,
            epoch,
            opid,
            cookie: crate::table::cookie_of(&ops, SectionCount::new(4).expect("sc")),
            ops,
        })
    }

    #[test]
    fn rules() {
        let sc = SectionCount::new(4).expect("sc");
        let mut k = ModelKernel::new(&[(1, sc)], 2);
        // A cookie that is not the touched sections: refused before
        // anything else, as hasync.ko does.
        let KernelCmd::Update(mut bad) = upd(1, 1, "a") else {
            unreachable!()
        };
        let expected = bad.cookie;
        bad.cookie ^= 0xf0;
        assert_eq!(
            k.handle(&KernelCmd::Update(bad)).reply,
            KernelReply::Reject {
                channel: 1,
                opid: 1,
                error: KernelError::BadCookie { expected }
            }
        );
        assert!(matches!(k.handle(&upd(1, 1, "a")).reply, KernelReply::Ack(a) if a.opid == 1));
        // Duplicate: re-ACK without applying.
        let out = k.handle(&upd(1, 1, "zz"));
        assert!(matches!(out.reply, KernelReply::Ack(a) if a.opid == 1) && out.multicast.is_none());
        assert_eq!(k.channels[&1].table.len(), 1);
        // Gap.
        assert!(matches!(
            k.handle(&upd(1, 3, "b")).reply,
            KernelReply::Reject {
                error: KernelError::OutOfOrder { register: 1 },
                ..
            }
        ));
        k.handle(&upd(1, 2, "b"));
        k.handle(&upd(1, 3, "c"));
        // Fencing.
        assert!(matches!(
            k.handle(&KernelCmd::Claim {
                channel: 1,
                epoch: 5
            })
            .reply,
            KernelReply::Claimed {
                register: 3,
                register_epoch: 1,
                ..
            }
        ));
        assert!(matches!(
            k.handle(&upd(1, 4, "d")).reply,
            KernelReply::Reject {
                error: KernelError::Fenced { owner: 5 },
                ..
            }
        ));
        // Cookie log keeps the last 2 entries.
        let c = |after| match k
            .clone()
            .handle(&KernelCmd::Cookies { channel: 1, after })
            .reply
        {
            KernelReply::Cookies { entries, .. } => entries.map(|e| e.len()),
            _ => None,
        };
        assert_eq!(c(1), Some(2));
        assert_eq!(c(0), None);
        assert_eq!(c(3), Some(0));
        assert_eq!(k.applied.len(), 3);
        assert_eq!(
            k.handle(&KernelCmd::Registers).reply,
            KernelReply::Registers(vec![RegisterRead {
                channel: 1,
                register: 3,
                register_epoch: 1,
                owner: 5
            }])
        );
        // A dump of some sections holds their records only.
        let sc = k.channels[&1].table.section_count();
        let mut names = |sections| match k
            .handle(&KernelCmd::Dump {
                channel: 1,
                sections,
            })
            .reply
        {
            KernelReply::Dump { records, .. } => records.len(),
            _ => usize::MAX,
        };
        let a = IfName::new(b"a").expect("name");
        assert_eq!(names(u64::MAX), 3);
        assert_eq!(names(0), 0);
        assert!(names(1u64 << sc.section_of(&a)) >= 1);
    }
}
