//! The takeover report, what a takeover did channel by channel: built from the
//! planner's plan and the new primary's tables, kept for `hasync status`
//! (the control API carries it as it is) and logged by the daemon.

use serde::{Deserialize, Serialize};

use crate::planner::Plan;
use crate::primary::Primary;
use crate::Epoch;

/// Why a takeover happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The primary's process or node was lost.
    PrimaryLost,
    /// The primary handed over in order (switchover, SIGTERM).
    Switchover,
    /// This daemon started as primary.
    Start,
    /// Another daemon claimed with a newer epoch and then disappeared.
    Fenced,
}

impl Reason {
    /// As reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::PrimaryLost => "primary lost",
            Reason::Switchover => "switchover",
            Reason::Start => "start",
            Reason::Fenced => "fenced",
        }
    }
}

/// What a takeover did, logged and kept for `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeoverReport {
    /// The node that took over.
    pub node: String,
    /// Why: `primary lost`, `switchover`, `start`.
    pub reason: String,
    /// New epoch.
    pub epoch: u64,
    /// Epoch of the stream followed before.
    pub previous_epoch: u64,
    /// Milliseconds from the loss of the old primary being noticed (its
    /// connection ending or its service withdrawn) to the verdict that it
    /// is gone (0 for a start or a switchover). A node's loss is noticed
    /// after TIPC's link tolerance, which this does not include.
    pub detection_ms: f64,
    /// Milliseconds from noticing the loss to being primary with every
    /// replayed update ACKed by the kernel; 0 while the replay runs, never
    /// 0 once it is done (see `node::promote::took`).
    pub total_ms: f64,
    /// Channels in total.
    pub channels_total: u32,
    /// Channels that needed nothing.
    pub channels_in_sync: u32,
    /// Entries (records) sent in section replays.
    pub entries_replayed: u64,
    /// Out-of-sync channels only, by channel id. In `status` at most
    /// [`REPORT_CHANNELS_MAX`] of them (the lowest ids), the rest counted
    /// in `channels_omitted`; the daemon's log lists every one.
    pub channels: Vec<ChannelReport>,
    /// Out-of-sync channels left out of `channels` (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub channels_omitted: u32,
}

/// Most [`ChannelReport`] entries a [`TakeoverReport`] carries in `status`
/// (64 entries are about 20 KB of JSON, a third of a frame).
pub const REPORT_CHANNELS_MAX: usize = 64;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl TakeoverReport {
    /// This report with at most `max` channel entries, the lowest channel
    /// ids, and the others counted in `channels_omitted`.
    pub fn capped(mut self, max: usize) -> Self {
        if self.channels.len() > max {
            self.channels.sort_by_key(|c| c.channel);
            let omitted = self.channels.len() - max;
            self.channels.truncate(max);
            self.channels_omitted = self
                .channels_omitted
                .saturating_add(u32::try_from(omitted).unwrap_or(u32::MAX));
        }
        self
    }
}

/// One out-of-sync channel in a takeover report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelReport {
    /// Channel.
    pub channel: u32,
    /// Kernel register at the claim.
    pub register: u64,
    /// Pending updates the kernel had applied (ACKs lost): applied locally.
    pub applied_from_pending: u64,
    /// Trailing updates sent to the kernel again.
    pub replayed_ops: u64,
    /// Pending updates dropped (trailing policy, or after a gap).
    pub discarded: u64,
    /// Sections replayed from the standby's table (bit mask).
    pub replayed_sections: u64,
    /// Entries those sections held.
    pub replayed_entries: u64,
    /// The cookie log did not reach back: every section replayed.
    pub whole_channel: bool,
    /// No standby state: the table was relearned from the kernel.
    pub relearned: bool,
}

/// A report for `plan`, executed by `primary`; times are filled in by the
/// caller as they become known.
pub fn build(
    node: &str,
    reason: Reason,
    previous_epoch: Epoch,
    plan: &Plan,
    primary: &Primary,
    detection_ms: f64,
) -> TakeoverReport {
    let mut entries_replayed = 0;
    let channels: Vec<ChannelReport> = plan
        .channels
        .iter()
        .map(|p| {
            let replayed_entries = primary
                .channels
                .get(&p.channel)
                .map_or(0, |c| c.table.count_in(p.replay_sections) as u64);
            entries_replayed += replayed_entries;
            ChannelReport {
                channel: p.channel,
                register: p.register,
                applied_from_pending: p.applied_ops.len() as u64,
                replayed_ops: p.replay_ops.len() as u64,
                discarded: p.discard_ops.len() as u64,
                replayed_sections: p.replay_sections,
                replayed_entries,
                whole_channel: p.whole_channel,
                relearned: p.relearn,
            }
        })
        .collect();
    let total = primary.channels.len() as u32;
    TakeoverReport {
        node: node.to_owned(),
        reason: reason.as_str().to_owned(),
        epoch: plan.epoch,
        previous_epoch,
        detection_ms,
        total_ms: 0.0,
        channels_total: total,
        channels_in_sync: total.saturating_sub(channels.len() as u32),
        entries_replayed,
        channels,
        channels_omitted: 0,
    }
}
