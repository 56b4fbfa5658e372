//! Fault injection (test build only): SIGUSR1 cuts this unit off from the
//! cluster while it keeps running, and the next SIGUSR1 heals the cut.
//!
//! Between network namespaces of one kernel, TIPC carries a connection's
//! data past a downed interface until the link resets, so `ip link set
//! down` does not silence a primary at once. The cut does, in the daemon:
//! every TIPC connection breaks (the node sees its standbys or its primary
//! go, as a lapsed link tolerance would show it), the unit and replication
//! services are withdrawn, every other unit and publisher looks gone, and
//! nothing is sent or connected until the heal. The kernel and the local
//! control service stay: a client on this unit's node keeps being served,
//! so a cut-off primary confirms alone until a new primary's claim fences
//! it.

use hasync_engine::node::Event;

use super::{bind_unit, Daemon};

impl Daemon {
    pub(super) fn toggle_cut(&mut self) {
        if self.cut {
            self.heal();
        } else {
            self.cut_off();
        }
    }

    fn cut_off(&mut self) {
        tracing::warn!("fault injection: cut off from the cluster");
        self.cut = true;
        self.published = None;
        self.tcp_down();
        self.unit_sock = None;
        let peers: Vec<u64> = self.peers.keys().copied().collect();
        for t in peers {
            self.peers.remove(&t);
            self.feed(Event::PeerClosed(t, "cut off"));
        }
        if self.leader.take().is_some() {
            self.feed(Event::LeaderClosed {
                planned: false,
                why: "cut off",
            });
        }
        let me = hasync_engine::handshake::node_id(&self.cfg.node);
        for u in self.topo_units.clone() {
            if u != me {
                self.feed(Event::UnitDown(u));
            }
        }
        for p in self.topo_pubs.clone() {
            self.feed(Event::PrimaryDown(p));
        }
    }

    fn heal(&mut self) {
        tracing::warn!("fault injection: the cut heals");
        self.cut = false;
        let me = hasync_engine::handshake::node_id(&self.cfg.node);
        match bind_unit(&self.services, me) {
            Ok(s) => self.unit_sock = Some(s),
            Err(e) => tracing::error!(error = %e, "cannot publish the unit service again"),
        }
        if self.want_published {
            self.publish();
        }
        for u in self.topo_units.clone() {
            if u != me {
                self.feed(Event::UnitUp(u));
            }
        }
        for p in self.topo_pubs.clone() {
            self.feed(Event::PrimaryUp(p));
        }
    }
}
