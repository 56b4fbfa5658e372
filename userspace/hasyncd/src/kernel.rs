//! The adapter between the engine's view of the kernel
//! ([`hasync_engine::kernel`]: [`KernelCmd`] out, [`KernelReply`] in) and
//! the netlink client ([`hasync_nl`]).
//!
//! Like WireGuard's `netlink.c`, it only translates: the conversions are
//! pure functions (tested on the host without a kernel), and
//! [`KernelAdapter::execute`] runs a batch of commands through a [`Port`]
//! (a [`hasync_nl::Client`] in the daemon, a script in the tests),
//! returning one result per command, in order:
//!
//! | engine command | netlink |
//! |---|---|
//! | runs of `Update` (set/del ops) | one `update_batch` per run, up to `max_batch` |
//! | `Update` of `ReplaceSection` ops | `replay-begin` + `-entries` + `-commit` |
//! | runs of `Claim` with one epoch | one brief `claim` of all their ids and one brief `channel-get` dump, whatever their number; on a refusal the dump tells which channels refuse and the rest are claimed at once |
//! | `Cookies` | a `cookies` dump: the log's `(opid, epoch, sections)` entries |
//! | `Dump` | `channel-get` + `entry-get` dump (one per section unless all) + `channel-get` (register unchanged?) |
//! | `Registers` | brief `channel-get` dump |
//! | `Digests` | `channel-get` |
//!
//! The module reports what the engine's model of it keeps: the epoch of
//! every logged update and of the one at the register, and the ACK's
//! epoch. A module that leaves the register's epoch out (one older than
//! these replies) is a [`Fault::Malformed`]: the adapter never guesses it.

use std::fmt;
use std::sync::Arc;

use hasync_engine::kernel::{CookieEntry, KernelCmd, KernelError, KernelReply, RegisterRead};
use hasync_engine::table::{IfRecord, Op, TableError};
use hasync_engine::wire::{Ack, Update};
use hasync_engine::{ChannelId, Epoch, Opid};
use hasync_nl as nl;

use crate::config::ChannelConfig;

/// Default most updates per `update_batch` call: the replies to one send
/// must fit the socket's receive buffer (`ENOBUFS` otherwise).
pub const DEFAULT_MAX_BATCH: usize = 256;

/// A command the adapter could not turn into a [`KernelReply`]. The engine
/// has no reply for these: the loop logs them and lets the engine's timers
/// resend (or, for [`Fault::Kernel`], stops: the kernel and the engine
/// disagree on a rule).
#[derive(Debug, Clone)]
pub enum Fault {
    /// The kernel refused with an error the engine has no variant for
    /// (`EINVAL` on a validated update, `EBUSY`, `EPERM`, …).
    Kernel {
        /// The netlink command.
        cmd: &'static str,
        /// Channel.
        channel: ChannelId,
        /// The kernel's errno and extack.
        error: nl::KernelError,
    },
    /// The command cannot be expressed on the netlink interface.
    Unencodable {
        /// Channel.
        channel: ChannelId,
        /// What stands in the way.
        why: String,
    },
    /// The kernel's answer does not fit the engine's types.
    Malformed {
        /// Channel.
        channel: ChannelId,
        /// What is wrong with it.
        why: String,
    },
    /// The socket or a reply failed: whether the command took effect is
    /// unknown (read the register).
    Io {
        /// Channel.
        channel: ChannelId,
        /// The client's error, shared by every command of the failed call.
        error: Arc<nl::Error>,
    },
}

impl Fault {
    /// The channel the failed command was about.
    pub fn channel(&self) -> ChannelId {
        match self {
            Fault::Kernel { channel, .. }
            | Fault::Unencodable { channel, .. }
            | Fault::Malformed { channel, .. }
            | Fault::Io { channel, .. } => *channel,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kernel {
                cmd,
                channel,
                error,
            } => write!(f, "channel {channel}: {cmd}: {error}"),
            Fault::Unencodable { channel, why } => {
                write!(f, "channel {channel}: cannot send to the kernel: {why}")
            }
            Fault::Malformed { channel, why } => {
                write!(f, "channel {channel}: unusable kernel answer: {why}")
            }
            Fault::Io { channel, error } => write!(f, "channel {channel}: {error}"),
        }
    }
}

impl std::error::Error for Fault {}

/// One command's outcome.
pub type Outcome = Result<KernelReply, Fault>;

// ---------------------------------------------------------------------------
// Pure conversions: engine → netlink.

/// An engine update as netlink requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NlUpdate {
    /// Set/del ops: an `update`.
    Update(nl::Update),
    /// Whole-section replacements: a section replay.
    Replay(nl::ReplayBegin, Vec<IfRecord>),
}

fn epoch32(channel: ChannelId, epoch: Epoch) -> Result<u32, Fault> {
    u32::try_from(epoch).map_err(|_| Fault::Unencodable {
        channel,
        why: format!("epoch {epoch} does not fit the kernel's 32 bits"),
    })
}

/// The netlink form of an engine update: an `update` for set/del ops, a
/// section replay for `ReplaceSection` ops. An update mixing both has no
/// netlink form (the engine never builds one).
pub fn nl_update(u: &Update) -> Result<NlUpdate, Fault> {
    let channel = u.channel;
    let bad = |why: String| Fault::Unencodable { channel, why };
    let epoch = epoch32(channel, u.epoch)?;
    let replaces = u
        .ops
        .iter()
        .filter(|o| matches!(o, Op::ReplaceSection { .. }))
        .count();
    if replaces == 0 {
        return Ok(NlUpdate::Update(nl::Update {
            channel,
            epoch,
            opid: u.opid,
            cookie: u.cookie,
            ops: u.ops.clone(),
        }));
    }
    if replaces != u.ops.len() {
        return Err(bad(format!(
            "opid {} mixes section replaces with set/del ops",
            u.opid
        )));
    }
    let mut sections = 0u64;
    let mut staged = Vec::new();
    for o in &u.ops {
        if let Op::ReplaceSection { section, records } = o {
            if *section >= 64 {
                return Err(bad(format!("section {section} is beyond 63")));
            }
            sections |= 1u64 << section;
            staged.extend_from_slice(records);
        }
    }
    Ok(NlUpdate::Replay(
        nl::ReplayBegin {
            channel,
            epoch,
            opid: u.opid,
            sections,
        },
        staged,
    ))
}

// ---------------------------------------------------------------------------
// Pure conversions: netlink → engine.

/// The engine's reading of a kernel error; `None` when it has no variant
/// for it. `enoent_is_channel`: whether `ENOENT` can only mean "no such
/// channel" for this command (not so for replays: "no replay open").
pub fn kernel_error(e: &nl::KernelError, enoent_is_channel: bool) -> Option<KernelError> {
    if let Some(register) = e.gap_register() {
        return Some(KernelError::OutOfOrder { register });
    }
    if let Some(owner) = e.fenced_epoch() {
        return Some(KernelError::Fenced {
            owner: Epoch::from(owner),
        });
    }
    match e.errno {
        libc::ENOENT if enoent_is_channel => Some(KernelError::NoChannel),
        libc::ENOSPC => Some(KernelError::Invalid(TableError::TooManyEntries)),
        _ => None,
    }
}

/// A refusal as a reply, or a [`Fault`] the engine has no reply for.
fn reject(
    cmd: &'static str,
    channel: ChannelId,
    opid: Opid,
    e: nl::KernelError,
    enoent_is_channel: bool,
) -> Outcome {
    match kernel_error(&e, enoent_is_channel) {
        Some(error) => Ok(KernelReply::Reject {
            channel,
            opid,
            error,
        }),
        None => Err(Fault::Kernel {
            cmd,
            channel,
            error: e,
        }),
    }
}

/// The reply to update `u` from what `update_batch` said about it.
pub fn update_reply(u: &Update, r: Result<nl::Ack, nl::KernelError>) -> Outcome {
    match r {
        Ok(a) if a.opid == u.opid && a.channel == u.channel => Ok(KernelReply::Ack(Ack {
            channel: a.channel,
            // The epoch of the update the kernel holds at the opid: this
            // one's, or (a duplicate the log forgot) taken to be this one.
            epoch: a.epoch.map_or(u.epoch, Epoch::from),
            opid: a.opid,
            cookie: a.cookie,
        })),
        Ok(a) => Err(Fault::Malformed {
            channel: u.channel,
            why: format!(
                "ACK for channel {} opid {} answers channel {} opid {}",
                a.channel, a.opid, u.channel, u.opid
            ),
        }),
        Err(e) => reject("update", u.channel, u.opid, e, true),
    }
}

/// The reply to a replay-made update `u` (see [`nl_update`]).
///
/// The kernel takes a replay at any opid not below the register; below it
/// answers the gap error. The engine's rule makes that a duplicate (safe
/// retransmission: every opid up to the register is applied), so it
/// becomes a duplicate ACK, as for updates.
pub fn replay_reply(u: &Update, sections: u64, r: Result<nl::ReplayDone, nl::Error>) -> Outcome {
    let channel = u.channel;
    match r {
        Ok(d) if d.channel == channel && d.opid == u.opid => Ok(KernelReply::Ack(Ack {
            channel,
            epoch: d.epoch.map_or(u.epoch, Epoch::from),
            opid: d.opid,
            cookie: d.sections,
        })),
        Ok(d) => Err(Fault::Malformed {
            channel,
            why: format!(
                "replay commit for channel {} opid {} answers channel {channel} opid {}",
                d.channel, d.opid, u.opid
            ),
        }),
        Err(nl::Error::Kernel(e)) => match e.gap_register() {
            Some(register) if register >= u.opid => Ok(KernelReply::Ack(Ack {
                channel,
                epoch: u.epoch,
                opid: u.opid,
                cookie: sections,
            })),
            _ => reject("replay", channel, u.opid, e, false),
        },
        Err(e) => failed("replay", channel, u.opid, e, false),
    }
}

/// What a module too old for the adapter's questions leaves out.
fn unreported(channel: ChannelId, what: &str) -> Fault {
    Fault::Malformed {
        channel,
        why: format!("hasync.ko does not report {what}: it predates this hasyncd"),
    }
}

/// A claimed channel as the engine's reply.
pub fn claimed_reply(c: &nl::Claimed) -> Outcome {
    let register_epoch = c
        .register_epoch
        .ok_or_else(|| unreported(c.id, "the register's epoch"))?;
    Ok(KernelReply::Claimed {
        channel: c.id,
        epoch: Epoch::from(c.epoch),
        register: c.register,
        register_epoch: Epoch::from(register_epoch),
    })
}

/// A channel of a brief dump as what a claim of it reports.
pub fn claimed_of(c: &nl::Channel) -> nl::Claimed {
    nl::Claimed {
        id: c.id,
        register: c.register,
        epoch: c.epoch,
        register_epoch: c.register_epoch,
    }
}

/// A `cookies` dump as the engine's cookie-log entries above `after`;
/// `None` ("log too short") when the log no longer reaches back there.
pub fn cookies_reply(channel: ChannelId, after: Opid, log: nl::CookieLog) -> KernelReply {
    let entries = (!log.log_short).then(|| {
        log.entries
            .iter()
            .map(|e| CookieEntry {
                opid: e.opid,
                epoch: Epoch::from(e.epoch),
                cookie: e.sections,
            })
            .collect()
    });
    KernelReply::Cookies {
        channel,
        after,
        entries,
    }
}

/// A channel's per-section digests, one per section in index order.
pub fn digests_reply(c: &nl::Channel) -> Outcome {
    let n = c.sections as usize;
    let mut digests = vec![0u64; n];
    let mut seen = vec![false; n];
    for s in &c.section {
        let i = s.index as usize;
        match seen.get_mut(i) {
            Some(false) => {
                seen[i] = true;
                digests[i] = s.digest;
            }
            _ => {
                return Err(Fault::Malformed {
                    channel: c.id,
                    why: format!("section {} repeated or beyond {}", s.index, c.sections),
                })
            }
        }
    }
    if seen.contains(&false) {
        return Err(Fault::Malformed {
            channel: c.id,
            why: format!("{} of {} section digests", c.section.len(), c.sections),
        });
    }
    Ok(KernelReply::Digests {
        channel: c.id,
        register: c.register,
        digests,
    })
}

/// A channel's records as the engine's dump reply.
pub fn dump_reply(c: &nl::Channel, sections: u64, entries: &[nl::Entry]) -> Outcome {
    let register_epoch = c
        .register_epoch
        .ok_or_else(|| unreported(c.id, "the register's epoch"))?;
    let records = entries
        .iter()
        .map(|e| {
            if e.channel != c.id {
                return Err(format!("record of channel {} in the dump", e.channel));
            }
            Ok(e.record.clone())
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| Fault::Malformed { channel: c.id, why })?;
    Ok(KernelReply::Dump {
        channel: c.id,
        sections,
        register: c.register,
        register_epoch: Epoch::from(register_epoch),
        records,
    })
}

/// An `ack-ntf` from the `acks` multicast group (the direct ACK path) as
/// the engine's ACK; `stream_epoch`, the epoch of the stream the standby
/// follows, stands in only where the module sends none.
pub fn ack_from_ntf(a: &nl::Ack, stream_epoch: Epoch) -> Ack {
    Ack {
        channel: a.channel,
        epoch: a.epoch.map_or(stream_epoch, Epoch::from),
        opid: a.opid,
        cookie: a.cookie,
    }
}

// ---------------------------------------------------------------------------
// Execution.

/// The kernel calls the adapter makes: [`nl::Client`] in the daemon.
pub trait Port {
    /// `update`, pipelined.
    fn update_batch(
        &mut self,
        updates: &[nl::Update],
    ) -> Result<Vec<Result<nl::Ack, nl::KernelError>>, nl::Error>;
    /// `claim` of the given channels, all or none, with their registers.
    fn claim(&mut self, epoch: u32, ids: &[ChannelId]) -> Result<Vec<nl::Claimed>, nl::Error>;
    /// Every channel's register and epochs (a brief `channel-get` dump).
    fn registers(&mut self) -> Result<Vec<nl::Channel>, nl::Error>;
    /// The cookie log's entries above `after` (a `cookies` dump).
    fn cookie_log(&mut self, channel: ChannelId, after: Opid) -> Result<nl::CookieLog, nl::Error>;
    /// `channel-get` (do).
    fn channel(&mut self, id: ChannelId) -> Result<nl::Channel, nl::Error>;
    /// `entry-get` dump of one channel, or of one of its sections.
    fn entries(
        &mut self,
        channel: ChannelId,
        section: Option<u32>,
    ) -> Result<Vec<nl::Entry>, nl::Error>;
    /// A whole section replay.
    fn replay(
        &mut self,
        begin: &nl::ReplayBegin,
        records: &[IfRecord],
    ) -> Result<nl::ReplayDone, nl::Error>;
}

impl Port for nl::Client {
    fn update_batch(
        &mut self,
        updates: &[nl::Update],
    ) -> Result<Vec<Result<nl::Ack, nl::KernelError>>, nl::Error> {
        nl::Client::update_batch(self, updates)
    }

    /// Two round trips whatever the number of channels: a brief claim,
    /// then a brief dump for the registers.
    fn claim(&mut self, epoch: u32, ids: &[ChannelId]) -> Result<Vec<nl::Claimed>, nl::Error> {
        nl::Client::claim_brief(self, epoch, &nl::ClaimTarget::Ids(ids.to_vec()))?;
        let wanted: std::collections::BTreeSet<ChannelId> = ids.iter().copied().collect();
        Ok(self
            .channels_brief()?
            .iter()
            .filter(|c| wanted.contains(&c.id))
            .map(claimed_of)
            .collect())
    }

    fn registers(&mut self) -> Result<Vec<nl::Channel>, nl::Error> {
        self.channels_brief()
    }

    fn cookie_log(&mut self, channel: ChannelId, after: Opid) -> Result<nl::CookieLog, nl::Error> {
        nl::Client::cookie_log(self, channel, after)
    }

    fn channel(&mut self, id: ChannelId) -> Result<nl::Channel, nl::Error> {
        nl::Client::channel(self, id)
    }

    fn entries(
        &mut self,
        channel: ChannelId,
        section: Option<u32>,
    ) -> Result<Vec<nl::Entry>, nl::Error> {
        nl::Client::entries(
            self,
            &nl::EntryFilter {
                channel: Some(channel),
                section,
            },
        )
    }

    fn replay(
        &mut self,
        begin: &nl::ReplayBegin,
        records: &[IfRecord],
    ) -> Result<nl::ReplayDone, nl::Error> {
        nl::Client::replay(self, begin, records)
    }
}

/// Runs the engine's kernel commands through a [`Port`].
pub struct KernelAdapter<P> {
    port: P,
    max_batch: usize,
}

impl<P: Port> KernelAdapter<P> {
    /// An adapter sending at most `max_batch` updates per batch (at least 1).
    pub fn new(port: P, max_batch: usize) -> Self {
        KernelAdapter {
            port,
            max_batch: max_batch.max(1),
        }
    }

    /// The port (for calls outside the engine's commands).
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    /// Executes `cmds` in order; one outcome per command, in order.
    pub fn execute(&mut self, cmds: &[KernelCmd]) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(cmds.len());
        let mut i = 0;
        while i < cmds.len() {
            let run = match &cmds[i] {
                KernelCmd::Update(u) if is_plain(u) => {
                    let n = cmds[i..]
                        .iter()
                        .take(self.max_batch)
                        .take_while(|c| matches!(c, KernelCmd::Update(u) if is_plain(u)))
                        .count();
                    self.updates(&cmds[i..i + n], &mut out);
                    n
                }
                KernelCmd::Update(u) => {
                    out.push(self.replay(u));
                    1
                }
                KernelCmd::Claim { epoch, .. } => {
                    let n = cmds[i..]
                        .iter()
                        .take_while(
                            |c| matches!(c, KernelCmd::Claim { epoch: e, .. } if e == epoch),
                        )
                        .count();
                    self.claims(&cmds[i..i + n], *epoch, &mut out);
                    n
                }
                KernelCmd::Cookies { channel, after } => {
                    out.push(self.cookies(*channel, *after));
                    1
                }
                KernelCmd::Dump { channel, sections } => {
                    out.push(self.dump(*channel, *sections));
                    1
                }
                KernelCmd::Registers => {
                    out.push(self.registers());
                    1
                }
                KernelCmd::Digests { channel } => {
                    out.push(self.digests(*channel));
                    1
                }
            };
            i += run;
        }
        out
    }

    fn updates(&mut self, cmds: &[KernelCmd], out: &mut Vec<Outcome>) {
        // Encode all; the encodable ones go in one batch, the others fault
        // in place (the kernel then reports a gap for the ones after).
        let mut slots: Vec<Option<Outcome>> = Vec::with_capacity(cmds.len());
        let mut sent: Vec<(usize, &Update)> = Vec::new();
        let mut batch = Vec::new();
        for cmd in cmds {
            let KernelCmd::Update(u) = cmd else { continue };
            match nl_update(u) {
                Ok(NlUpdate::Update(n)) => {
                    sent.push((slots.len(), u));
                    batch.push(n);
                    slots.push(None);
                }
                Ok(NlUpdate::Replay(..)) => slots.push(Some(Err(Fault::Unencodable {
                    channel: u.channel,
                    why: "section replace in a run of plain updates".into(),
                }))),
                Err(f) => slots.push(Some(Err(f))),
            }
        }
        if !batch.is_empty() {
            let answers = self.port.update_batch(&batch);
            let shared = match &answers {
                Ok(r) if r.len() != sent.len() => {
                    Some(format!("{} answers to {} updates", r.len(), sent.len()))
                }
                _ => None,
            };
            match (answers, shared) {
                (Ok(results), None) => {
                    for ((slot, u), r) in sent.into_iter().zip(results) {
                        slots[slot] = Some(update_reply(u, r));
                    }
                }
                (Ok(_), Some(why)) => {
                    for (slot, u) in sent {
                        slots[slot] = Some(Err(Fault::Malformed {
                            channel: u.channel,
                            why: why.clone(),
                        }));
                    }
                }
                (Err(e), _) => {
                    let e = Arc::new(e);
                    for (slot, u) in sent {
                        slots[slot] = Some(Err(Fault::Io {
                            channel: u.channel,
                            error: e.clone(),
                        }));
                    }
                }
            }
        }
        out.extend(slots.into_iter().flatten());
    }

    fn replay(&mut self, u: &Update) -> Outcome {
        match nl_update(u)? {
            NlUpdate::Replay(begin, ifaces) => {
                let r = self.port.replay(&begin, &ifaces);
                replay_reply(u, begin.sections, r)
            }
            NlUpdate::Update(_) => Err(Fault::Unencodable {
                channel: u.channel,
                why: "plain update taken for a replay".into(),
            }),
        }
    }

    fn claims(&mut self, cmds: &[KernelCmd], epoch: Epoch, out: &mut Vec<Outcome>) {
        let ids: Vec<ChannelId> = cmds
            .iter()
            .filter_map(|c| match c {
                KernelCmd::Claim { channel, .. } => Some(*channel),
                _ => None,
            })
            .collect();
        let Some(&first) = ids.first() else { return };
        let e32 = match epoch32(first, epoch) {
            Ok(e) => e,
            Err(_) => {
                for &id in &ids {
                    out.push(Err(Fault::Unencodable {
                        channel: id,
                        why: format!("epoch {epoch} does not fit the kernel's 32 bits"),
                    }));
                }
                return;
            }
        };
        match self.port.claim(e32, &ids) {
            Ok(claimed) => Self::claimed(&ids, &claimed, out),
            // All or nothing in the kernel: one brief dump says which
            // channels refuse (absent, or owned by a newer epoch); the
            // others are claimed again, at once.
            Err(nl::Error::Kernel(_)) if ids.len() > 1 => {
                self.claim_around_refusals(&ids, e32, out)
            }
            Err(e @ nl::Error::Kernel(_)) => out.push(failed("claim", first, 0, e, true)),
            Err(e) => Self::io_all(&ids, e, out),
        }
    }

    fn claimed(ids: &[ChannelId], claimed: &[nl::Claimed], out: &mut Vec<Outcome>) {
        for &id in ids {
            out.push(match claimed.iter().find(|c| c.id == id) {
                Some(c) => claimed_reply(c),
                None => Err(Fault::Malformed {
                    channel: id,
                    why: "claim reply lacks the channel".into(),
                }),
            });
        }
    }

    fn io_all(ids: &[ChannelId], e: nl::Error, out: &mut Vec<Outcome>) {
        let e = Arc::new(e);
        for &id in ids {
            out.push(Err(Fault::Io {
                channel: id,
                error: e.clone(),
            }));
        }
    }

    fn claim_around_refusals(&mut self, ids: &[ChannelId], epoch: u32, out: &mut Vec<Outcome>) {
        let now = match self.port.registers() {
            Ok(r) => r,
            Err(e) => return Self::io_all(ids, e, out),
        };
        let mut verdicts: Vec<Option<Outcome>> = Vec::with_capacity(ids.len());
        let mut rest = Vec::new();
        for &id in ids {
            let refusal = match now.iter().find(|c| c.id == id) {
                None => Some(KernelError::NoChannel),
                Some(c) if c.epoch > epoch => Some(KernelError::Fenced {
                    owner: Epoch::from(c.epoch),
                }),
                Some(_) => None,
            };
            verdicts.push(refusal.map(|error| {
                Ok(KernelReply::Reject {
                    channel: id,
                    opid: 0,
                    error,
                })
            }));
            if verdicts.last().is_some_and(Option::is_none) {
                rest.push(id);
            }
        }
        let mut claimed = Vec::new();
        if !rest.is_empty() {
            match self.port.claim(epoch, &rest) {
                Ok(c) => Self::claimed(&rest, &c, &mut claimed),
                // Refused again: the channels changed in between; each is
                // asked alone (rare, and each answer is then exact).
                Err(nl::Error::Kernel(_)) => {
                    for &id in &rest {
                        match self.port.claim(epoch, &[id]) {
                            Ok(c) => Self::claimed(&[id], &c, &mut claimed),
                            Err(e) => claimed.push(failed("claim", id, 0, e, true)),
                        }
                    }
                }
                Err(e) => Self::io_all(&rest, e, &mut claimed),
            }
        }
        let mut claimed = claimed.into_iter();
        for v in verdicts {
            out.push(match v {
                Some(o) => o,
                None => claimed.next().unwrap_or_else(|| {
                    Err(Fault::Malformed {
                        channel: 0,
                        why: "claim outcomes out of step".into(),
                    })
                }),
            });
        }
    }

    /// `channel-get`; on failure, the command's outcome.
    fn read_channel(&mut self, id: ChannelId) -> Result<nl::Channel, Outcome> {
        self.port
            .channel(id)
            .map_err(|e| failed("channel-get", id, 0, e, true))
    }

    fn cookies(&mut self, channel: ChannelId, after: Opid) -> Outcome {
        match self.port.cookie_log(channel, after) {
            Ok(log) => Ok(cookies_reply(channel, after, log)),
            Err(e) => failed("cookies", channel, 0, e, true),
        }
    }

    fn digests(&mut self, channel: ChannelId) -> Outcome {
        match self.read_channel(channel) {
            Ok(c) => digests_reply(&c),
            Err(o) => o,
        }
    }

    /// Every channel's register; one that lacks the register's epoch
    /// (a module older than this daemon) faults the read.
    fn registers(&mut self) -> Outcome {
        let channels = match self.port.registers() {
            Ok(c) => c,
            Err(e) => return failed("channel-get", 0, 0, e, false),
        };
        let reads = channels
            .iter()
            .map(|c| {
                Ok(RegisterRead {
                    channel: c.id,
                    register: c.register,
                    register_epoch: Epoch::from(
                        c.register_epoch
                            .ok_or_else(|| unreported(c.id, "the register's epoch"))?,
                    ),
                    owner: Epoch::from(c.epoch),
                })
            })
            .collect::<Result<Vec<_>, Fault>>()?;
        Ok(KernelReply::Registers(reads))
    }

    /// The records of `sections`: one dump when that is all of them, else
    /// one per section (a takeover learns few), between two register reads
    /// that must agree.
    fn dump(&mut self, channel: ChannelId, sections: u64) -> Outcome {
        let before = match self.read_channel(channel) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let all = match before.sections {
            64.. => u64::MAX,
            n => (1u64 << n) - 1,
        };
        let mut entries = Vec::new();
        if sections & all == all {
            match self.port.entries(channel, None) {
                Ok(e) => entries = e,
                Err(e) => return failed("entry-get", channel, 0, e, true),
            }
        } else {
            for s in (0..before.sections.min(64)).filter(|s| sections & (1u64 << s) != 0) {
                match self.port.entries(channel, Some(s)) {
                    Ok(e) => entries.extend(e),
                    Err(e) => return failed("entry-get", channel, 0, e, true),
                }
            }
        }
        let after = match self.read_channel(channel) {
            Ok(c) => c,
            Err(o) => return o,
        };
        if after.register != before.register {
            return Err(Fault::Malformed {
                channel,
                why: format!(
                    "register moved from {} to {} during the dump",
                    before.register, after.register
                ),
            });
        }
        dump_reply(&before, sections, &entries)
    }
}

fn is_plain(u: &Update) -> bool {
    !u.ops.iter().any(|o| matches!(o, Op::ReplaceSection { .. }))
}

/// The outcome of a call that failed: a reply if the engine has one for
/// the kernel's refusal, else a fault.
fn failed(
    cmd: &'static str,
    channel: ChannelId,
    opid: Opid,
    e: nl::Error,
    enoent_is_channel: bool,
) -> Outcome {
    match e {
        nl::Error::Kernel(k) => reject(cmd, channel, opid, k, enoent_is_channel),
        e => Err(Fault::Io {
            channel,
            error: Arc::new(e),
        }),
    }
}

#[cfg(test)]
mod tests;

/// The per-channel record limit: the configuration's `limits.max_records`,
/// or the module's `max_entries` when it names none. More than the module
/// holds is refused, so that a request the daemon accepts never fails in
/// the kernel for its size.
pub fn record_limit(configured: Option<u32>, module: u32) -> Result<usize, String> {
    match configured {
        Some(n) if n > module => Err(format!(
            "limits.max_records {n} is above the module's max_entries {module} \
             (load hasync.ko with max_entries={n} or lower the limit)"
        )),
        Some(n) => Ok(n as usize),
        None => Ok(module as usize),
    }
}

/// What this hasyncd needs of hasync.ko beyond the first release's
/// requests, each looked up in the module's policy (`GETPOLICY`): the
/// command, the attribute its request must accept, and what it stands
/// for. Claims at any size came with the register's epoch in every reply,
/// which takeovers need to tell whose stream a register counts; a module
/// without them cannot serve this hasyncd (see docs/upgrade.md).
const NEEDED: &[(u8, u16, &str)] = &[(
    nl::generated::cmd::CLAIM,
    nl::generated::attr::channel::BRIEF,
    "claims at any size (`claim brief`) and the register's epoch in every reply",
)];

/// Refuse a module (its `info`) that predates this hasyncd, before
/// anything changes in it: one message naming what it lacks, instead of
/// commands retried against answers this hasyncd cannot use.
pub fn check_module(client: &mut nl::Client, info: &nl::Info) -> Result<(), String> {
    let mut lacks = Vec::new();
    for &(cmd, attr, what) in NEEDED {
        let has = client
            .accepts(cmd, attr)
            .map_err(|e| format!("cannot read the module's policy: {e}"))?;
        if !has {
            lacks.push(what);
        }
    }
    if lacks.is_empty() {
        tracing::info!(version = %info.version, proto = info.proto_version, "hasync.ko has what this hasyncd needs");
        return Ok(());
    }
    Err(format!(
        "hasync.ko {} (proto {}) predates this hasyncd {}: it lacks {}; load the hasync.ko of this release \
         (the previous release's hasyncd runs on this module)",
        info.version,
        info.proto_version,
        env!("CARGO_PKG_VERSION"),
        lacks.join(", ")
    ))
}

/// Create the configured channels that do not exist; refuse to run on a
/// channel whose section count differs from the configuration.
pub fn ensure_channels(channels: &[ChannelConfig], client: &mut nl::Client) -> Result<(), String> {
    let mut created = Vec::new();
    for c in channels {
        match client.channel(c.id) {
            Ok(k) if k.sections == c.sections.get() => {}
            Ok(k) => {
                return Err(format!(
                    "channel {} exists with {} sections; the configuration says {}",
                    c.id,
                    k.sections,
                    c.sections.get()
                ))
            }
            Err(_) => {
                let req = nl::NewChannel {
                    id: c.id,
                    name: c.name.clone(),
                    sections: Some(c.sections.get()),
                };
                if let Err(e) = client.channel_new(&req) {
                    // Another daemon may have created it meanwhile.
                    match client.channel(c.id) {
                        Ok(k) if k.sections == c.sections.get() => {}
                        _ => return Err(format!("cannot create channel {}: {e}", c.id)),
                    }
                } else {
                    tracing::debug!(
                        channel = c.id,
                        sections = c.sections.get(),
                        "channel created"
                    );
                    created.push(c.id);
                }
            }
        }
    }
    // One line, not one per channel (a thousand at every start at scale).
    match created[..] {
        [] => {}
        [id] => tracing::info!(channel = id, "channel created"),
        [first, .., last] => tracing::info!(count = created.len(), first, last, "channels created"),
    }
    Ok(())
}
