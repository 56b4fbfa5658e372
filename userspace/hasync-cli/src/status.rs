//! `hasync status`: the role, peers and channels of the daemon on this
//! node, and what its last takeover did (`conntrackd -s` style: one screen
//! to debug replication).
//!
//! ```text
//! hasync status [show]
//! ```
//!
//! Every channel is shown however many replies the daemon needs for them
//! (`Client::status_all`: each page is a snapshot of its own moment). The
//! takeover report lists at most 64 out-of-sync channels, by id, and counts
//! the others; the daemon's log lists them all.
//!
//! ```text
//! node cu-b role primary epoch 3 ack-path both sync hot pending 0 lag 0
//! peer cu-a state hot lag 0
//! channel 1 mode primary opid 120 acked 120 pending 0 records 40
//! takeover node cu-b reason "primary lost" epoch 2 -> 3 detection 12.50ms total 48.00ms channels 4 in-sync 3 entries-replayed 17
//!     channel 3 register 118 applied-from-pending 1 replayed-ops 0 discarded 1 sections 0x5 (2) entries 17
//! release 2 transformed 12 dropped 3 not-synced 0 failed-applies 0
//! peer cu-a release 1 lacks msg.checkpoint-part (standby channel left cold) lacks op.rename (transformed) cold-channels 4
//! ```
//!
//! The release lines (and `releases` in JSON) come from a second request
//! on the same connection, which a first-release daemon does not know:
//! they are left out for it. See `docs/upgrade.md`.

use std::io::{self, Write};

use clap::Subcommand;
use hasync_ctl::{ChannelReport, ReleasesReply, Response, Status, TakeoverReport};
use serde::Serialize;

use crate::daemon;
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show role, peers, channels and the last takeover (the default).
    Show,
}

pub fn run(args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    let Command::Show = args.command.unwrap_or(Command::Show);
    match opts.status_and_releases()? {
        (Response::Status(s), releases) => out.print(
            &View {
                status: s.as_ref(),
                releases,
            },
            |w, v| {
                text(w, v.status)?;
                match &v.releases {
                    Some(r) => releases_text(w, r),
                    None => Ok(()),
                }
            },
        ),
        (other, _) => Err(daemon::unexpected("status", &other).into()),
    }
}

/// The status and, from a daemon that knows them, its releases.
#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    status: &'a Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    releases: Option<ReleasesReply>,
}

fn releases_text(w: &mut dyn Write, r: &ReleasesReply) -> io::Result<()> {
    writeln!(
        w,
        "release {} transformed {} dropped {} not-synced {} failed-applies {}",
        r.release, r.transformed, r.dropped, r.not_synced, r.failed_applies
    )?;
    for p in &r.peers {
        write!(w, "peer {} release {}", p.node, p.release)?;
        for l in &p.lacks {
            write!(w, " lacks {} ({})", l.item, l.handling)?;
        }
        for e in &p.extra {
            write!(w, " has {e}")?;
        }
        if !p.cold.is_empty() {
            let c: Vec<String> = p.cold.iter().map(u32::to_string).collect();
            write!(w, " cold-channels {}", c.join(","))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn text(w: &mut dyn Write, s: &Status) -> io::Result<()> {
    writeln!(
        w,
        "node {} role {} epoch {} ack-path {} sync {} pending {} lag {}",
        s.node, s.role, s.epoch, s.ack_path, s.sync, s.pending, s.lag
    )?;
    for p in &s.peers {
        writeln!(w, "peer {} state {} lag {}", p.node, p.state, p.lag)?;
    }
    for c in &s.channels {
        writeln!(
            w,
            "channel {} mode {} opid {} acked {} pending {} records {}",
            c.id, c.mode, c.opid, c.acked, c.pending, c.records
        )?;
    }
    if let Some(t) = &s.last_takeover {
        takeover(w, t)?;
    }
    Ok(())
}

/// The report's header line, then one indented line per channel that was
/// out of sync.
fn takeover(w: &mut dyn Write, t: &TakeoverReport) -> io::Result<()> {
    writeln!(
        w,
        "takeover node {} reason {:?} epoch {} -> {} detection {:.2}ms total {:.2}ms \
         channels {} in-sync {} entries-replayed {}",
        t.node,
        t.reason,
        t.previous_epoch,
        t.epoch,
        t.detection_ms,
        t.total_ms,
        t.channels_total,
        t.channels_in_sync,
        t.entries_replayed
    )?;
    t.channels.iter().try_for_each(|c| takeover_channel(w, c))?;
    if t.channels_omitted > 0 {
        writeln!(
            w,
            "    and {} more channels out of sync (listed in hasyncd's log)",
            t.channels_omitted
        )?;
    }
    Ok(())
}

fn takeover_channel(w: &mut dyn Write, c: &ChannelReport) -> io::Result<()> {
    write!(
        w,
        "    channel {} register {} applied-from-pending {} replayed-ops {} discarded {} \
         sections {:#x} ({}) entries {}",
        c.channel,
        c.register,
        c.applied_from_pending,
        c.replayed_ops,
        c.discarded,
        c.replayed_sections,
        c.replayed_sections.count_ones(),
        c.replayed_entries
    )?;
    if c.whole_channel {
        write!(w, " whole-channel")?;
    }
    if c.relearned {
        write!(w, " relearned")?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_ctl::{ChannelStatus, PeerStatus};

    fn sample() -> Status {
        Status {
            node: "cu-b".into(),
            role: "primary".into(),
            epoch: 3,
            ack_path: "both".into(),
            sync: "hot".into(),
            peers: vec![PeerStatus {
                node: "cu-a".into(),
                state: "hot".into(),
                lag: 0,
            }],
            pending: 0,
            lag: 0,
            channels: vec![
                ChannelStatus {
                    id: 1,
                    mode: "primary".into(),
                    opid: 120,
                    acked: 120,
                    pending: 0,
                    records: 40,
                    digests: vec![1, 2],
                },
                ChannelStatus {
                    id: 3,
                    mode: "primary".into(),
                    opid: 118,
                    acked: 117,
                    pending: 1,
                    records: 9,
                    digests: vec![],
                },
            ],
            next_channel: None,
            last_takeover: Some(TakeoverReport {
                node: "cu-b".into(),
                reason: "primary lost".into(),
                epoch: 3,
                previous_epoch: 2,
                detection_ms: 12.5,
                total_ms: 48.0,
                channels_total: 4,
                channels_in_sync: 2,
                entries_replayed: 17,
                channels: vec![
                    ChannelReport {
                        channel: 3,
                        register: 118,
                        applied_from_pending: 1,
                        replayed_ops: 0,
                        discarded: 1,
                        replayed_sections: 0x5,
                        replayed_entries: 17,
                        whole_channel: false,
                        relearned: false,
                    },
                    ChannelReport {
                        channel: 4,
                        register: 0,
                        applied_from_pending: 0,
                        replayed_ops: 2,
                        discarded: 0,
                        replayed_sections: 0,
                        replayed_entries: 0,
                        whole_channel: true,
                        relearned: true,
                    },
                ],
                channels_omitted: 0,
            }),
        }
    }

    fn render(s: &Status) -> String {
        let mut buf = Vec::new();
        text(&mut buf, s).expect("writes");
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn text_with_takeover_report() {
        assert_eq!(
            render(&sample()),
            "node cu-b role primary epoch 3 ack-path both sync hot pending 0 lag 0\n\
             peer cu-a state hot lag 0\n\
             channel 1 mode primary opid 120 acked 120 pending 0 records 40\n\
             channel 3 mode primary opid 118 acked 117 pending 1 records 9\n\
             takeover node cu-b reason \"primary lost\" epoch 2 -> 3 detection 12.50ms \
             total 48.00ms channels 4 in-sync 2 entries-replayed 17\n\
             \x20   channel 3 register 118 applied-from-pending 1 replayed-ops 0 discarded 1 \
             sections 0x5 (2) entries 17\n\
             \x20   channel 4 register 0 applied-from-pending 0 replayed-ops 2 discarded 0 \
             sections 0x0 (0) entries 0 whole-channel relearned\n"
        );
    }

    #[test]
    fn text_counts_the_channels_left_out_of_the_report() {
        let mut s = sample();
        if let Some(t) = &mut s.last_takeover {
            t.channels.truncate(1);
            t.channels_omitted = 936;
        }
        assert!(render(&s).ends_with(
            "sections 0x5 (2) entries 17\n\
             \x20   and 936 more channels out of sync (listed in hasyncd's log)\n"
        ));
    }

    #[test]
    fn text_of_a_lone_standby() {
        let s = Status {
            role: "standby".into(),
            sync: "cold".into(),
            epoch: 0,
            peers: vec![],
            channels: vec![],
            last_takeover: None,
            ..sample()
        };
        assert_eq!(
            render(&s),
            "node cu-b role standby epoch 0 ack-path both sync cold pending 0 lag 0\n"
        );
    }

    #[test]
    fn json_is_the_status_itself() {
        let s = sample();
        let mut buf = Vec::new();
        Format::Json
            .write(&mut buf, &s, |_, _| Ok(()))
            .expect("writes");
        let back: Status = serde_json::from_slice(&buf).expect("parses back");
        assert_eq!(back, s);
    }
}
