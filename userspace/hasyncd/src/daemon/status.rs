//! `hasync status`: what this daemon is and holds. The channel list is
//! paged by the caller (`control.rs`, `hasync_ctl::page`).

use hasync_ctl::{ChannelStatus, PeerStatus, Status, REPORT_CHANNELS_MAX};
use hasync_engine::primary::PChannel;
use hasync_engine::standby::{Mode, SChannel};
use hasync_engine::ChannelId;

use super::{Daemon, Role};

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
        match &self.role {
            Role::Primary(p) => Box::new(
                p.engine
                    .channels
                    .range(from..)
                    .map(|(&id, c)| primary_channel(id, c)),
            ),
            Role::Standby(st) => Box::new(
                st.engine
                    .channels
                    .range(from..)
                    .map(|(&id, c)| standby_channel(id, c)),
            ),
            Role::TakingOver(_) | Role::Stopping => Box::new(std::iter::empty()),
        }
    }

    /// Everything but the channel list (see [`Daemon::channels_from`]);
    /// the takeover report is capped at `REPORT_CHANNELS_MAX` channels.
    pub(super) fn status(&self) -> Status {
        let mut s = Status {
            node: self.cfg.node.clone(),
            role: self.role.name().to_owned(),
            epoch: 0,
            ack_path: self.cfg.ack_path.to_string(),
            sync: "n/a".into(),
            peers: Vec::new(),
            pending: 0,
            lag: 0,
            channels: Vec::new(),
            next_channel: None,
            last_takeover: self.report.clone().map(|r| r.capped(REPORT_CHANNELS_MAX)),
        };
        match &self.role {
            Role::Primary(p) => {
                let e = &p.engine;
                s.epoch = e.epoch;
                for c in e.channels.values() {
                    s.pending += (c.flight.len() + c.backlog.len()) as u64;
                    s.lag += c.last - c.kacked;
                }
                for peer in p.peers.values() {
                    let Some(node) = peer.node else { continue };
                    let hot = p.peer_hot(node);
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
                        node: peer.name.clone(),
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
            }
            Role::Standby(st) => {
                let e = &st.engine;
                s.epoch = e.epoch;
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
                if let Some(name) = &st.leader_name {
                    s.peers.push(PeerStatus {
                        node: name.clone(),
                        state: if st.conn.is_some() { "primary" } else { "lost" }.into(),
                        lag: 0,
                    });
                }
            }
            Role::TakingOver(t) => s.epoch = t.engine.epoch(),
            Role::Stopping => {}
        }
        s
    }
}
