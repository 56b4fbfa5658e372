//! Peers of other releases: what was agreed at the handshake, and what
//! each frame becomes on its way to or from such a peer.
//!
//! The newer side does the work ([`crate::release`]): frames to an older
//! peer go down the transform steps, frames from one come up. What a step
//! cannot express gets its item's handling; the counts and the channels
//! left cold are kept for status.

use crate::release::{CommandSet, Diff, Handling, Release, RELEASE};
use crate::transform::{self, Cannot};
use crate::wire::Message;
use crate::{ChannelId, NodeId};

use super::{Node, Role};

/// What crossed between releases, for status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompatStats {
    /// Frames rewritten for, or from, a peer of another release.
    pub transformed: u64,
    /// Frames of no channel not sent because their item is dropped or on
    /// the don't-care list.
    pub dropped: u64,
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
pub(super) fn log_diff(we_lead: bool, name: &str, set: &CommandSet) {
    let role = if we_lead { "standby" } else { "primary" };
    let diff = Diff::with(set, we_lead);
    if diff.is_empty() {
        tracing::info!(peer = %name, release = set.release, "{role} of release {}: same command set", set.release);
        return;
    }
    for (item, h) in &diff.peer_lacks {
        tracing::warn!(peer = %name, release = set.release, item = %item, handling = h.as_str(), "{role} lacks an item of this release");
    }
    for item in &diff.we_lack {
        tracing::warn!(peer = %name, release = set.release, item = %item, "{role} has an item this release lacks");
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
        match transform::down(msg, release) {
            Ok(m) => {
                if m.format() != format {
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

    /// A frame of a channel that cannot cross leaves the standby cold on
    /// that channel whatever its item's handling: the stream of a channel
    /// has no gaps, so a standby missing one frame of it could never be
    /// waited for again. Frames of no channel are dropped (or, on the
    /// don't-care list, skipped silently).
    fn cannot_send(&mut self, node: NodeId, channel: Option<ChannelId>, c: &Cannot) {
        let name = self.name_of(node);
        let handling = crate::release::handling(c.item);
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
                diff: Diff::with(set, we_lead),
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
