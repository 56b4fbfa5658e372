//! The primary side: standbys connect to the replication service, send
//! their handshake and are bulk synced; a planned handover drains the
//! stream to a hot standby and withdraws; another primary showing up is
//! checked against the kernel's owner epoch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hasync_ctl::{Response, ResponseFrame, Services, SwitchoverReply};
use hasync_engine::primary::Primary;
use hasync_engine::wire::Message;
use hasync_engine::{Epoch, NodeId};
use hasync_tipc::{Scope, SeqPacketListener, TipcSocket};
use nix::poll::PollFlags;

use super::takeover::ReplayWait;
use super::{Daemon, Role};
use crate::conn::{Conn, Read};
use hasync_engine::handshake::{Handshake, Side};

/// How long a planned handover waits for the stream to drain.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an accepted connection may take to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a primary that sees another primary published re-reads the
/// kernel's owner epoch.
const FENCE_CHECK: Duration = Duration::from_millis(500);
/// How long an election loser has to attach before the primary stops
/// waiting for it (it then syncs afresh whenever it comes).
pub const FOLLOWER_GRACE: Duration = Duration::from_secs(5);

/// One accepted standby connection.
pub struct PeerConn {
    /// The connection.
    pub conn: Conn,
    /// Engine node id, once its handshake arrived.
    pub node: Option<NodeId>,
    /// Its name (from the handshake).
    pub name: String,
    /// When it was accepted.
    pub since: Instant,
}

/// A planned handover in progress.
pub struct Handover {
    /// The standby taking over.
    pub to: NodeId,
    /// The requester to answer, if any (`hasync switchover`).
    pub reply: Option<(u64, u64)>,
    /// Exit afterwards (SIGTERM) or follow the new primary (switchover).
    pub exit: bool,
    /// Give up waiting for the drain at this time.
    pub deadline: Instant,
}

/// The primary side.
pub struct PrimaryRole {
    /// The engine.
    pub engine: Primary,
    /// Replication service listener (publishes it).
    pub listener: SeqPacketListener,
    /// Control service listener (cluster scope).
    pub control: SeqPacketListener,
    /// Standby connections by token.
    pub peers: BTreeMap<u64, PeerConn>,
    /// Takeover replay in flight.
    pub replay: Option<ReplayWait>,
    /// Planned handover in progress.
    pub handover: Option<Handover>,
    /// Election losers announced as followers that have not attached yet,
    /// and until when they may.
    pub expected: BTreeMap<NodeId, Instant>,
    next_fence_check: Instant,
}

impl PrimaryRole {
    /// Publish the replication and control services.
    pub fn new(engine: Primary, services: &Services) -> Result<Self, hasync_tipc::Error> {
        let listener = SeqPacketListener::bind(services.replication(), Scope::Cluster)?;
        listener.set_nonblocking(true)?;
        let control = SeqPacketListener::bind(services.control(), Scope::Cluster)?;
        control.set_nonblocking(true)?;
        Ok(PrimaryRole {
            engine,
            listener,
            control,
            peers: BTreeMap::new(),
            replay: None,
            handover: None,
            expected: BTreeMap::new(),
            next_fence_check: Instant::now(),
        })
    }

    /// The election's losers: the engine already counts them as standbys
    /// (nothing is confirmed without them); they have until
    /// [`FOLLOWER_GRACE`] to attach.
    pub fn expect_followers(&mut self, followers: &[NodeId], now: Instant) {
        for &f in followers {
            self.expected.insert(f, now + FOLLOWER_GRACE);
        }
    }

    /// The connection of standby `node`.
    pub fn token_of(&self, node: NodeId) -> Option<u64> {
        self.peers
            .iter()
            .find(|(_, p)| p.node == Some(node))
            .map(|(&t, _)| t)
    }

    /// True when `node` holds every channel exactly.
    pub fn peer_hot(&self, node: NodeId) -> bool {
        self.engine.peers.get(&node).is_some_and(|p| {
            self.engine
                .channels
                .keys()
                .all(|c| p.hot(*c) && p.syncs.contains_key(c))
        })
    }

    /// A connected standby that holds every channel.
    pub fn hot_peer(&self) -> Option<NodeId> {
        self.peers
            .values()
            .filter_map(|p| p.node)
            .find(|&n| self.peer_hot(n))
    }

    /// Begin a planned handover to `to`.
    pub fn start_handover(&mut self, to: NodeId, reply: Option<(u64, u64)>, exit: bool) {
        self.handover = Some(Handover {
            to,
            reply,
            exit,
            deadline: Instant::now() + HANDOVER_TIMEOUT,
        });
    }

    /// Nothing in flight and `to` holds everything.
    fn drained(&self, to: NodeId) -> bool {
        let Some(p) = self.engine.peers.get(&to) else {
            return false;
        };
        self.engine.channels.iter().all(|(id, c)| {
            c.flight.is_empty()
                && c.backlog.is_empty()
                && c.kacked == c.last
                && p.have.get(id).copied().unwrap_or(0) >= c.last
        })
    }
}

impl Daemon {
    pub(super) fn accept_peer(&mut self) {
        loop {
            let Role::Primary(p) = &mut self.role else {
                return;
            };
            match p.listener.accept(true) {
                Ok((stream, addr)) => match Conn::new(stream) {
                    Ok(conn) => {
                        self.next_token += 1;
                        let t = self.next_token;
                        tracing::info!(peer = %addr, "standby connecting");
                        p.peers.insert(
                            t,
                            PeerConn {
                                conn,
                                node: None,
                                name: addr.to_string(),
                                since: Instant::now(),
                            },
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "connection setup failed"),
                },
                Err(e) if e.is_would_block() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on the replication service failed");
                    return;
                }
            }
        }
    }

    pub(super) fn on_peer(&mut self, t: u64, flags: PollFlags) {
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        let Some(peer) = p.peers.get_mut(&t) else {
            return;
        };
        if flags.contains(PollFlags::POLLOUT) {
            if let Err(e) = peer.conn.flush() {
                tracing::warn!(peer = %peer.name, error = %e, "standby connection failed");
                self.drop_peer(t);
                return;
            }
        }
        let (frames, end) = match peer.conn.read(&mut self.buf) {
            Read::Frames(f) => (f, None),
            Read::Closed(f) => (f, Some("closed".to_string())),
            Read::Broken(f, e) => (f, Some(e)),
        };
        for f in frames {
            if !self.peer_frame(t, &f) {
                return;
            }
        }
        if let Some(why) = end {
            if let Role::Primary(p) = &self.role {
                if let Some(peer) = p.peers.get(&t) {
                    tracing::info!(peer = %peer.name, why = %why, "standby connection ended");
                }
            }
            self.drop_peer(t);
        }
    }

    /// One frame from a standby; false if its connection was dropped.
    fn peer_frame(&mut self, t: u64, f: &[u8]) -> bool {
        let me = self.me;
        let name = self.cfg.node.clone();
        let Role::Primary(p) = &mut self.role else {
            return false;
        };
        let epoch = p.engine.epoch;
        let Some(peer) = p.peers.get_mut(&t) else {
            return false;
        };
        let Some(node) = peer.node else {
            let h = match Handshake::decode(f) {
                Ok(h) if h.side == Side::Standby && h.node != me => h,
                Ok(_) => {
                    tracing::warn!(peer = %peer.name, "handshake from a primary or from ourselves; dropping");
                    self.drop_peer(t);
                    return false;
                }
                Err(e) => {
                    tracing::warn!(peer = %peer.name, error = %e, "bad handshake; dropping the connection");
                    self.drop_peer(t);
                    return false;
                }
            };
            let welcome = Handshake {
                side: Side::Primary,
                node: me,
                epoch,
                name,
            };
            if let Err(e) = peer.conn.send(welcome.encode()) {
                tracing::warn!(error = %e, "handshake reply failed");
                self.drop_peer(t);
                return false;
            }
            peer.node = Some(h.node);
            peer.name = h.name.clone();
            tracing::info!(standby = %h.name, "standby attached; bulk sync follows its requests");
            if let Some(why) = epoch_clash(&self.cfg, &h.name) {
                tracing::warn!(standby = %h.name, "{why}");
            }
            self.names.insert(h.node, h.name);
            // A reconnecting standby replaces its old connection.
            let old: Vec<u64> = p
                .peers
                .iter()
                .filter(|(&k, q)| k != t && q.node == Some(h.node))
                .map(|(&k, _)| k)
                .collect();
            for k in old {
                self.drop_peer(k);
            }
            if let Role::Primary(p) = &mut self.role {
                if p.expected.remove(&h.node).is_some() {
                    // An election loser: it holds our predecessor's stream
                    // and rebases onto ours on our announcement (resent on
                    // every tick until it answers).
                    tracing::info!(standby = %self.names.get(&h.node).map_or("?", String::as_str), "elected follower attached; it rebases onto our stream");
                } else {
                    let acts = p.engine.peer_down(h.node);
                    self.act(acts);
                }
            }
            return true;
        };
        match Message::decode_exact(f) {
            Ok(msg) => {
                let acts = p.engine.handle(node, msg);
                self.act(acts);
                true
            }
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "malformed frame from a standby; dropping the connection");
                self.drop_peer(t);
                false
            }
        }
    }

    /// Forget a standby connection.
    pub(super) fn drop_peer(&mut self, t: u64) {
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        let Some(peer) = p.peers.remove(&t) else {
            return;
        };
        if let Some(node) = peer.node {
            if p.token_of(node).is_none() {
                let acts = p.engine.peer_down(node);
                self.act(acts);
            }
        }
    }

    pub(super) fn primary_tick(&mut self, now: Instant) {
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        let stale: Vec<u64> = p
            .peers
            .iter()
            .filter(|(_, q)| q.node.is_none() && now.duration_since(q.since) > HANDSHAKE_TIMEOUT)
            .map(|(&t, _)| t)
            .collect();
        for t in stale {
            tracing::warn!("no handshake in time; dropping a connection");
            self.drop_peer(t);
        }
        let late: Vec<NodeId> = match &self.role {
            Role::Primary(p) => p
                .expected
                .iter()
                .filter(|(_, &until)| now >= until)
                .map(|(&n, _)| n)
                .collect(),
            _ => Vec::new(),
        };
        for n in late {
            let Role::Primary(p) = &mut self.role else {
                return;
            };
            p.expected.remove(&n);
            tracing::warn!(
                unit = n,
                "an elected follower never attached; not waiting for it"
            );
            let acts = p.engine.peer_down(n);
            self.act(acts);
        }
        self.primary_check(now);
    }

    /// Handover progress, and fencing when another primary is published.
    pub(super) fn primary_check(&mut self, now: Instant) {
        let others = self.primaries.len() > 1;
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        if others && now >= p.next_fence_check {
            p.next_fence_check = now + FENCE_CHECK;
            let epoch = p.engine.epoch;
            let first = p.engine.channels.keys().next().copied();
            if let Some(c) = first {
                if let Ok(k) = self.kernel.port_mut().channel(c) {
                    if Epoch::from(k.epoch) > epoch {
                        self.deposed(Epoch::from(k.epoch));
                        return;
                    }
                }
            }
        }
        let Role::Primary(p) = &mut self.role else {
            return;
        };
        let Some(h) = &p.handover else { return };
        let (to, exit, reply) = (h.to, h.exit, h.reply);
        let connected = p.token_of(to).is_some();
        if !connected {
            tracing::warn!("handover target disconnected; staying primary");
            p.handover = None;
            if let Some((tok, id)) = reply {
                self.reply(
                    tok,
                    ResponseFrame::error(
                        id,
                        hasync_ctl::ErrorKind::NoStandby,
                        "the standby disconnected during the handover",
                    ),
                );
            }
            if exit {
                self.exit = true;
            }
            return;
        }
        if !p.drained(to) && now < h.deadline {
            return;
        }
        if !p.drained(to) {
            tracing::warn!("handover: stream not drained in time; handing over anyway");
        }
        // Last ACKs first, so the standby applies everything it holds.
        let acks: Vec<Message> = p
            .engine
            .channels
            .values()
            .filter_map(|c| c.last_ack.map(Message::Ack))
            .collect();
        if let Some(tok) = p.token_of(to) {
            if let Some(peer) = p.peers.get_mut(&tok) {
                for m in acks {
                    let _ = peer.conn.send(m.encode());
                }
            }
        }
        let name = self.names.get(&to).cloned().unwrap_or_default();
        tracing::info!(to = %name, "handover: withdrawing");
        if let Some((tok, id)) = reply {
            self.reply(
                tok,
                ResponseFrame {
                    id,
                    body: Response::Switchover(SwitchoverReply { to: name }),
                },
            );
            if let Some(c) = self.ctl.get_mut(&tok) {
                let _ = c.conn.flush();
            }
        }
        let role = std::mem::replace(&mut self.role, Role::Stopping);
        if let Role::Primary(mut p) = role {
            for peer in p.peers.values_mut() {
                peer.conn.shutdown();
            }
            // Dropping `p` closes the listeners: the services are withdrawn.
        }
        if exit {
            self.exit = true;
        } else {
            self.become_standby("switchover");
        }
    }
}

/// Why a unit named `other` might claim the same takeover epochs as this
/// one (see [`crate::config::Config::unit_byte`]), if it might.
fn epoch_clash(cfg: &crate::config::Config, other: &str) -> Option<String> {
    if cfg.units.is_empty() {
        let theirs = hasync_engine::handshake::node_id(other).to_le_bytes()[0];
        (theirs == cfg.unit_byte()).then(|| {
            format!(
                "{} and {other} hash to the same epoch byte {theirs:#04x}: racing takeovers could \
                 share an epoch; list every unit in `units`",
                cfg.node
            )
        })
    } else {
        (!cfg.units.iter().any(|u| u == other))
            .then(|| format!("{other} is not in `units`: its takeover epochs may be this unit's"))
    }
}
