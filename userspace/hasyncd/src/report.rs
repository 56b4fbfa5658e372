//! The takeover report in the log: one line per report and one per
//! out-of-sync channel (the engine builds it, `hasync status` shows it).

use hasync_engine::report::TakeoverReport;

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
