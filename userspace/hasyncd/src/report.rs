//! The takeover report in the log: one line per report and one per
//! out-of-sync channel (the engine builds it, `hasync status` shows it).
//! A channel only relearned from the kernel (a primary's start: every
//! channel, a thousand lines at a thousand channels) is counted on the
//! report's line instead.

use hasync_engine::report::{ChannelReport, TakeoverReport};

/// One log line per report and per out-of-sync channel that was not just
/// relearned.
pub fn log(r: &TakeoverReport) {
    let relearned = r.channels.iter().filter(|c| c.relearned).count();
    tracing::info!(
        reason = %r.reason,
        epoch = r.epoch,
        previous_epoch = r.previous_epoch,
        detection_ms = r.detection_ms,
        total_ms = r.total_ms,
        channels = r.channels_total,
        in_sync = r.channels_in_sync,
        entries_replayed = r.entries_replayed,
        relearned,
        "takeover complete"
    );
    for c in listed(r) {
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

/// The channels with a line of their own: all but those only relearned.
fn listed(r: &TakeoverReport) -> impl Iterator<Item = &ChannelReport> {
    r.channels.iter().filter(|c| {
        !(c.relearned
            && c.applied_from_pending == 0
            && c.replayed_ops == 0
            && c.discarded == 0
            && c.replayed_sections == 0
            && c.replayed_entries == 0
            && !c.whole_channel)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relearned_channels_are_counted_not_listed() {
        let mut r = TakeoverReport::default();
        let plain = ChannelReport {
            channel: 1,
            relearned: true,
            ..ChannelReport::default()
        };
        let replayed = ChannelReport {
            channel: 2,
            replayed_sections: 0x4,
            replayed_entries: 3,
            ..ChannelReport::default()
        };
        let relearned_and_replayed = ChannelReport {
            channel: 3,
            relearned: true,
            replayed_ops: 1,
            ..ChannelReport::default()
        };
        r.channels = vec![plain, replayed, relearned_and_replayed];
        let ids: Vec<u32> = listed(&r).map(|c| c.channel).collect();
        assert_eq!(ids, [2, 3]);
    }
}
