//! Peers of other releases: what was agreed at the handshake, and what
//! each frame becomes on its way to or from such a peer.
//!
//! The newer side does the work ([`crate::release`]): frames to an older
//! peer go down the transform steps, frames from one come up. What a step
//! cannot express gets its item's handling; the counts and the channels
//! left cold are kept for status.

use std::collections::BTreeSet;

use crate::release::{CommandSet, Diff, Handling, Release, RELEASE};
use crate::transform::{self, Cannot, Left};
use crate::wire::Message;
use crate::{ChannelId, NodeId};

use super::{Node, Role};

/// What crossed between releases, for status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompatStats {
    /// Updates and checkpoints rewritten for a peer of another release.
    pub transformed: u64,
    /// Values left out (a field a record had) or frames of no channel not
    /// sent, because their item is dropped with a warning.
    pub dropped: u64,
    /// The same for items on the don't-care list: not synced, silently.
    pub not_synced: u64,
    /// (peer, item) pairs already warned about: a dropped item warns once
    /// per peer connection, the count says the rest.
    warned: BTreeSet<(NodeId, &'static str)>,
}

impl CompatStats {
    /// A peer (re)attached: its dropped items warn again.
    pub(super) fn forget_warnings(&mut self, node: NodeId) {
        self.warned.retain(|(n, _)| *n != node);
    }
}

/// A connected peer of a known release, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRelease {
    /// Its name.
    pub name: String,
    /// Its release and command set.
    pub set: CommandSet,
    /// The diff lists between it and this build.
    pub diff: Diff,
    /// Channels it, a standby, is left cold on.
    pub cold: Vec<ChannelId>,
}

/// Log the diff lists with a peer, one line per item.
pub(super) fn log_diff(
    policy: &crate::release::LackingPolicy,
    we_lead: bool,
    name: &str,
    set: &CommandSet,
) {
    let role = if we_lead { "standby" } else { "primary" };
    let diff = Diff::under(policy, set, we_lead);
    if diff.is_empty() {
        tracing::info!(peer = %name, release = set.release, "{role} of release {}: same command set", set.release);
        return;
    }
    for (item, h) in &diff.peer_lacks {
        tracing::warn!(peer = %name, release = set.release, item = %item, handling = h.as_str(), "{role} lacks an item of this release");
    }
    for item in &diff.we_lack {
        if crate::release::dropped_here(item) {
            tracing::info!(peer = %name, release = set.release, item = %item, "{role} has an item this release dropped; transformed");
        } else {
            tracing::warn!(peer = %name, release = set.release, item = %item, "{role} has an item this release lacks");
        }
    }
}

/// The channel a frame that cannot cross belongs to, if any.
fn channel_of(m: &Message) -> Option<ChannelId> {
    match m {
        Message::Update(u) => Some(u.channel),
        Message::CheckpointPart { channel, .. } | Message::Checkpoint { channel, .. } => {
            Some(*channel)
        }
        _ => None,
    }
}

impl Node {
    /// `msg` as a peer of release `release` takes it; `None` when it is
    /// not to be sent (handled per its item). The release number picks
    /// the steps; the item lists are what the logs and status explain
    /// them with.
    pub(super) fn downgrade_for(
        &mut self,
        node: NodeId,
        release: Release,
        msg: Message,
    ) -> Option<Message> {
        if release >= RELEASE {
            return Some(msg);
        }
        let format = msg.format();
        let channel = channel_of(&msg);
        let msg = self.as_peer_holds(release, msg);
        match transform::down(msg, release) {
            Ok((m, left)) => {
                if !self.may_leave_out(node, channel, &left) {
                    return None;
                }
                // Counted where the content changed form: the receipt
                // watermark's form changes on every frame and says nothing.
                if m.format() != format && channel.is_some() {
                    self.compat.transformed += 1;
                }
                Some(m)
            }
            Err(c) => {
                self.cannot_send(node, channel, &c);
                None
            }
        }
    }

    /// An audit's digests, to a peer of release 1, over the records as it
    /// holds them (without the speeds it was never sent): a difference
    /// it reports is then one worth a repair.
    fn as_peer_holds(&self, release: Release, msg: Message) -> Message {
        let Message::Digests { channel, opid, .. } = msg else {
            return msg;
        };
        match (&self.role, release) {
            (Role::Primary(l), 1) => match l.engine.channels.get(&channel) {
                Some(c) => Message::Digests {
                    channel,
                    opid,
                    digests: c.table.release_1_digests(),
                },
                None => msg,
            },
            _ => msg,
        }
    }

    /// Whether a frame may go without what a step left out of it, by each
    /// item's handling: dropped with a warning (once per peer) or not
    /// synced, counted either way; any other handling leaves the standby
    /// cold on the frame's channel, and the frame is not sent.
    fn may_leave_out(&mut self, node: NodeId, channel: Option<ChannelId>, left: &Left) -> bool {
        for &(item, n) in &left.items {
            match self.cfg.lacking.handling(item) {
                Handling::DontCare => self.compat.not_synced += n,
                Handling::Drop => {
                    self.compat.dropped += n;
                    if self.compat.warned.insert((node, item)) {
                        let name = self.name_of(node);
                        tracing::warn!(peer = %name, item, "left out of what a peer of an older release is sent (warned once; `hasync status` counts them)");
                    }
                }
                h => {
                    let c = Cannot {
                        item,
                        why: format!("{n} value(s) the peer has no field for ({})", h.as_str()),
                    };
                    self.cannot_send(node, channel, &c);
                    return false;
                }
            }
        }
        true
    }

    /// A frame of a channel that cannot cross leaves the standby cold on
    /// that channel whatever its item's handling: the stream of a channel
    /// has no gaps, so a standby missing one frame of it could never be
    /// waited for again. Frames of no channel are dropped (or, on the
    /// don't-care list, skipped silently).
    fn cannot_send(&mut self, node: NodeId, channel: Option<ChannelId>, c: &Cannot) {
        let name = self.name_of(node);
        let handling = self.cfg.lacking.handling(c.item);
        let Some(ch) = channel else {
            self.compat.dropped += 1;
            if handling != Handling::DontCare {
                tracing::warn!(peer = %name, item = c.item, why = %c.why, "not sent to a peer of an older release");
            }
            return;
        };
        let Role::Primary(l) = &mut self.role else {
            return;
        };
        if !l.engine.is_cold(node, ch) {
            tracing::warn!(peer = %name, channel = ch, item = c.item, handling = handling.as_str(), why = %c.why, "standby of an older release left cold on this channel");
        }
        let acts = l.engine.leave_cold(node, ch);
        self.run(self.now, acts);
    }

    /// Log the updates of an older primary that did not apply to this
    /// standby's copy once upgraded (each left its channel cold, and the
    /// bulk sync that follows brings the copy back).
    pub(super) fn report_failed_applies(&mut self) {
        let Role::Standby(f) = &mut self.role else {
            return;
        };
        if f.engine.failures.is_empty() {
            return;
        }
        let leader = f.leader_name.clone().unwrap_or_default();
        for x in std::mem::take(&mut f.engine.failures) {
            tracing::warn!(primary = %leader, channel = x.channel, opid = x.opid, error = %x.error, "an update of an older primary does not apply here once upgraded; channel left cold, syncing again");
        }
    }

    /// What crossed between releases.
    pub fn compat_stats(&self) -> &CompatStats {
        &self.compat
    }

    /// The primary's release (standby) or each attached standby's
    /// (primary).
    pub fn peer_releases(&self) -> Vec<PeerRelease> {
        let mut out = Vec::new();
        let mut push = |name: &str, set: &CommandSet, we_lead: bool, cold: Vec<ChannelId>| {
            out.push(PeerRelease {
                name: name.to_owned(),
                set: set.clone(),
                diff: Diff::under(&self.cfg.lacking, set, we_lead),
                cold,
            })
        };
        match &self.role {
            Role::Primary(l) => {
                for p in l.peers.values() {
                    if let (Some(set), Some(node)) = (&p.set, p.node) {
                        push(&p.name, set, true, l.engine.cold_channels(node));
                    }
                }
            }
            Role::Standby(f) => {
                if let (Some(name), Some(set)) = (&f.leader_name, &f.leader_set) {
                    push(name, set, false, Vec::new());
                }
            }
            _ => {}
        }
        out
    }
}
