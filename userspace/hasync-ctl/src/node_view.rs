//! The engine's [`Node`] as the control API shows it: its status, its
//! refusals, and which requests it must decide. The daemon only moves
//! frames between a control connection and these functions.

use hasync_engine::node::{Event, Node, Refusal, RefusalKind};
use hasync_engine::primary::PChannel;
use hasync_engine::standby::{Mode, SChannel};
use hasync_engine::{ChannelId, RequestId};

use crate::{ChannelStatus, CtlError, ErrorKind, PeerStatus, Request, Status};
use crate::{TakeoverReport, REPORT_CHANNELS_MAX};

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// `status`: answer with [`status`] and [`channels_from`]`(0)`.
    Status,
    /// A `channels` page from this id: answer with [`channels_from`].
    Channels(ChannelId),
    /// `releases`: answer with [`releases`].
    Releases,
    /// `tcp`: the daemon answers (the face is its own).
    Tcp,
    /// `counters`: [`counters`], with the daemon's own counts added.
    Counters,
    /// `events`: the connection subscribes to the daemon's events.
    Events,
    /// For the node to decide; it answers under the id it was given.
    Node(Event<'static>),
    /// Refused before it reached the node.
    Refuse(CtlError),
}

/// Route a request; `request` is the id the node will answer it under.
pub fn route(body: Request, request: RequestId) -> Route {
    let invalid = |message: String| {
        Route::Refuse(CtlError {
            kind: ErrorKind::Invalid,
            message,
            primary: None,
        })
    };
    match body {
        Request::Status => Route::Status,
        Request::Releases => Route::Releases,
        Request::Tcp => Route::Tcp,
        Request::Counters => Route::Counters,
        Request::Events => Route::Events,
        Request::Channels(c) => Route::Channels(c.from),
        Request::Set(s) => match s.change() {
            Ok(change) => Route::Node(Event::Set {
                request,
                channel: s.channel,
                change,
            }),
            Err(e) => invalid(e.0),
        },
        Request::Del(d) => match d.record_name() {
            Ok(name) => Route::Node(Event::Del {
                request,
                channel: d.channel,
                name,
            }),
            Err(e) => invalid(e.0),
        },
        Request::Rename(r) => match r.names() {
            Ok((from, to)) => Route::Node(Event::Rename {
                request,
                channel: r.channel,
                from,
                to,
            }),
            Err(e) => invalid(e.0),
        },
        Request::Switchover => Route::Node(Event::Switchover { request }),
        Request::Audit(a) => Route::Node(Event::Audit {
            request,
            channel: a.channel,
        }),
    }
}

impl From<Refusal> for CtlError {
    fn from(r: Refusal) -> Self {
        CtlError {
            kind: match r.kind {
                RefusalKind::Busy => ErrorKind::Busy,
                RefusalKind::Invalid => ErrorKind::Invalid,
                RefusalKind::Deposed => ErrorKind::Deposed,
                RefusalKind::NotFound => ErrorKind::NotFound,
                RefusalKind::NotPrimary => ErrorKind::NotPrimary,
                RefusalKind::ShuttingDown => ErrorKind::ShuttingDown,
                RefusalKind::NoStandby => ErrorKind::NoStandby,
            },
            message: r.message,
            primary: r.primary,
        }
    }
}

fn mode_name(m: &Mode) -> &'static str {
    match m {
        Mode::Cold => "cold",
        Mode::Syncing(_) => "syncing",
        Mode::Hot => "hot",
    }
}

fn primary_channel(id: ChannelId, c: &PChannel) -> ChannelStatus {
    ChannelStatus {
        id,
        mode: "primary".into(),
        opid: c.last,
        acked: c.kacked,
        pending: (c.flight.len() + c.backlog.len()) as u64,
        records: c.table.len() as u64,
        digests: c.table.digests(),
    }
}

fn standby_channel(id: ChannelId, c: &SChannel) -> ChannelStatus {
    ChannelStatus {
        id,
        mode: mode_name(&c.mode).into(),
        opid: c.applied,
        acked: c.acked,
        pending: c.pending.len() as u64,
        records: c.table.len() as u64,
        digests: c.table.digests(),
    }
}

/// The node's channels with ids from `from` on, by id, built as they are
/// read (a page stops reading at the first one that does not fit).
pub fn channels_from(node: &Node, from: ChannelId) -> Box<dyn Iterator<Item = ChannelStatus> + '_> {
    if let Some(p) = node.primary() {
        Box::new(
            p.channels
                .range(from..)
                .map(|(&id, c)| primary_channel(id, c)),
        )
    } else if let Some(s) = node.standby() {
        Box::new(
            s.channels
                .range(from..)
                .map(|(&id, c)| standby_channel(id, c)),
        )
    } else {
        Box::new(std::iter::empty())
    }
}

/// The `releases` answer.
pub fn releases(node: &Node) -> crate::proto::ReleasesReply {
    let stats = node.compat_stats();
    let ours = hasync_engine::release::CommandSet::ours();
    crate::proto::ReleasesReply {
        release: ours.release,
        items: ours.items.into_iter().collect(),
        peers: node
            .peer_releases()
            .into_iter()
            .map(|p| crate::proto::PeerRelease {
                cold: p.cold,
                node: p.name,
                release: p.set.release,
                lacks: p
                    .diff
                    .peer_lacks
                    .into_iter()
                    .map(|(item, h)| crate::proto::LackedItem {
                        item,
                        handling: h.as_str().to_owned(),
                    })
                    .collect(),
                extra: p.diff.we_lack,
            })
            .collect(),
        transformed: stats.transformed,
        dropped: stats.dropped,
        not_synced: stats.not_synced,
        failed_applies: node.standby().map_or(0, |s| s.stats.failed_applies),
    }
}

/// The node's counters for `counters`; the daemon fills in what only it
/// sees (connections, control refusals).
pub fn counters(node: &Node) -> crate::proto::Counters {
    use crate::proto::{Counters, PrimaryCounters, StandbyCounters};
    let primary = node.primary().map(|e| {
        let attached = node.attached();
        PrimaryCounters {
            sent: e.stats.assigned,
            confirmed: e.stats.confirmed,
            resent: e.stats.kernel_resends,
            pending: e
                .channels
                .values()
                .map(|c| (c.flight.len() + c.backlog.len()) as u64)
                .sum(),
            syncs_started: e.stats.syncs_started,
            sections_repaired: e.stats.repaired_sections,
            standbys: attached.len() as u64,
            standbys_hot: attached.iter().filter(|(_, _, hot)| *hot).count() as u64,
        }
    });
    let standby = node.standby().map(|e| StandbyCounters {
        applied: e.stats.applied,
        dropped: e.stats.dropped,
        overflows: e.stats.overflows,
        syncs: e.stats.syncs,
        pending: e.channels.values().map(|c| c.pending.len() as u64).sum(),
        channels: e.channels.len() as u64,
        channels_hot: e
            .channels
            .values()
            .filter(|c| matches!(c.mode, Mode::Hot))
            .count() as u64,
    });
    let mut c = Counters {
        node: node.name().to_owned(),
        role: node.role().as_str().to_owned(),
        primary,
        standby,
        takeovers: node.takeovers(),
        audit_mismatches: node.audit_mismatches(),
        ..Counters::default()
    };
    c.refused.standbys = node.refused_standbys();
    c
}

/// Everything but the channel list (see [`channels_from`]); the takeover
/// report is capped at [`REPORT_CHANNELS_MAX`] channels.
pub fn status(node: &Node, ack_path: &str) -> Status {
    let mut s = Status {
        node: node.name().to_owned(),
        role: node.role().as_str().to_owned(),
        epoch: node.epoch(),
        ack_path: ack_path.to_owned(),
        sync: "n/a".into(),
        peers: Vec::new(),
        pending: 0,
        lag: 0,
        channels: Vec::new(),
        next_channel: None,
        last_takeover: node
            .report()
            .cloned()
            .map(|r: TakeoverReport| r.capped(REPORT_CHANNELS_MAX)),
    };
    if let Some(e) = node.primary() {
        for c in e.channels.values() {
            s.pending += (c.flight.len() + c.backlog.len()) as u64;
            s.lag += c.last - c.kacked;
        }
        for (name, peer, hot) in node.attached() {
            let Some(peer) = peer else { continue };
            let have = e.peers.get(&peer).map(|q| &q.have);
            let lag = e
                .channels
                .iter()
                .map(|(id, c)| {
                    let h = have.and_then(|h| h.get(id).copied()).unwrap_or(0);
                    c.last.saturating_sub(h)
                })
                .max()
                .unwrap_or(0);
            s.peers.push(PeerStatus {
                node: name,
                state: if hot { "hot" } else { "syncing" }.into(),
                lag,
            });
        }
        s.sync = if s.peers.is_empty() {
            "alone"
        } else if s.peers.iter().all(|q| q.state == "hot") {
            "hot"
        } else {
            "syncing"
        }
        .into();
    } else if let Some(e) = node.standby() {
        let worst = e
            .channels
            .values()
            .map(|c| match c.mode {
                Mode::Cold => 0,
                Mode::Syncing(_) => 1,
                Mode::Hot => 2,
            })
            .min()
            .unwrap_or(2);
        for c in e.channels.values() {
            s.pending += c.pending.len() as u64;
            s.lag += c.acked.saturating_sub(c.applied);
        }
        s.sync = ["cold", "syncing", "hot"][worst].into();
        if let Some((name, connected)) = node.leader() {
            s.peers.push(PeerStatus {
                node: name.to_owned(),
                state: if connected { "primary" } else { "lost" }.into(),
                lag: 0,
            });
        }
    }
    s
}
