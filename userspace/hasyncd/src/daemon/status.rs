//! `hasync status`: what this daemon is and holds, read from the node. The
//! channel list is paged by the caller (`control.rs`, `hasync_ctl::page`).

use hasync_ctl::{ChannelStatus, PeerStatus, Status, REPORT_CHANNELS_MAX};
use hasync_engine::primary::PChannel;
use hasync_engine::standby::{Mode, SChannel};
use hasync_engine::ChannelId;

use super::Daemon;

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

impl Daemon {
    /// The channels with ids from `from` on, by id, built as they are
    /// read (a page stops reading at the first one that does not fit).
    pub(super) fn channels_from(
        &self,
        from: ChannelId,
    ) -> Box<dyn Iterator<Item = ChannelStatus> + '_> {
        if let Some(p) = self.node.primary() {
            Box::new(
                p.channels
                    .range(from..)
                    .map(|(&id, c)| primary_channel(id, c)),
            )
        } else if let Some(s) = self.node.standby() {
            Box::new(
                s.channels
                    .range(from..)
                    .map(|(&id, c)| standby_channel(id, c)),
            )
        } else {
            Box::new(std::iter::empty())
        }
    }

    /// Everything but the channel list (see [`Daemon::channels_from`]);
    /// the takeover report is capped at `REPORT_CHANNELS_MAX` channels.
    pub(super) fn status(&self) -> Status {
        let mut s = Status {
            node: self.cfg.node.clone(),
            role: self.node.role().as_str().to_owned(),
            epoch: self.node.epoch(),
            ack_path: self.cfg.ack_path.to_string(),
            sync: "n/a".into(),
            peers: Vec::new(),
            pending: 0,
            lag: 0,
            channels: Vec::new(),
            next_channel: None,
            last_takeover: self
                .node
                .report()
                .cloned()
                .map(|r| r.capped(REPORT_CHANNELS_MAX)),
        };
        if let Some(e) = self.node.primary() {
            for c in e.channels.values() {
                s.pending += (c.flight.len() + c.backlog.len()) as u64;
                s.lag += c.last - c.kacked;
            }
            for (name, node, hot) in self.node.attached() {
                let Some(node) = node else { continue };
                let lag = e
                    .channels
                    .iter()
                    .map(|(id, c)| {
                        let have = e
                            .peers
                            .get(&node)
                            .and_then(|q| q.have.get(id).copied())
                            .unwrap_or(0);
                        c.last.saturating_sub(have)
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
                "alone".into()
            } else if s.peers.iter().all(|q| q.state == "hot") {
                "hot".into()
            } else {
                "syncing".into()
            };
        } else if let Some(e) = self.node.standby() {
            let mut worst = 2;
            for c in e.channels.values() {
                let rank = match c.mode {
                    Mode::Cold => 0,
                    Mode::Syncing(_) => 1,
                    Mode::Hot => 2,
                };
                worst = worst.min(rank);
                s.pending += c.pending.len() as u64;
                s.lag += c.acked.saturating_sub(c.applied);
            }
            s.sync = ["cold", "syncing", "hot"][worst].into();
            if let Some((name, connected)) = self.node.leader() {
                s.peers.push(PeerStatus {
                    node: name.to_owned(),
                    state: if connected { "primary" } else { "lost" }.into(),
                    lag: 0,
                });
            }
        }
        s
    }
}
