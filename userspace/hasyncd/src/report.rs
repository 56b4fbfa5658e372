//! The takeover report (seed 001 FIG. 6 as it happened): built from the
//! planner's plan and the new primary's tables, logged, and kept for
//! `hasync status`.

use hasync_ctl::{ChannelReport, TakeoverReport};
use hasync_engine::planner::Plan;
use hasync_engine::primary::Primary;
use hasync_engine::Epoch;

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

/// One log line per report and per out-of-sync channel.
pub fn log(r: &TakeoverReport) {
    tracing::info!(
        reason = %r.reason,
        epoch = r.epoch,
        previous_epoch = r.previous_epoch,
        detection_ms = r.detection_ms,
        total_ms = r.total_ms,
        channels = r.channels_total,
        in_sync = r.channels_in_sync,
        entries_replayed = r.entries_replayed,
        "takeover complete"
    );
    for c in &r.channels {
        tracing::info!(
            channel = c.channel,
            register = c.register,
            applied_from_pending = c.applied_from_pending,
            replayed_ops = c.replayed_ops,
            discarded = c.discarded,
            replayed_sections = format_args!("{:#x}", c.replayed_sections),
            replayed_entries = c.replayed_entries,
            whole_channel = c.whole_channel,
            relearned = c.relearned,
            "takeover channel"
        );
    }
}
