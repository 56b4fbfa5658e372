//! Choosing the new primary among several standbys.
//!
//! When the primary is lost, every live standby freezes a [`Candidacy`] (its
//! followed epoch and, per channel, its replication mode, applied opid and
//! receipt watermark) and sends it to the other standbys
//! ([`Message::Candidacy`]). Each standby then runs the same pure function,
//! [`elect`], over the same set of candidacies, so all of them name the same
//! winner without a further round: the winner starts a
//! [`crate::takeover::Takeover`], the others wait for its `NewPrimary` and
//! rebase onto it.
//!
//! # Ranking
//!
//! Highest first, compared in this order (a total order: the node id is
//! unique, so there are no ties and the result does not depend on the order
//! the candidacies arrived in):
//!
//! 1. **Most Hot channels.** Every Hot channel is taken over from the
//!    standby's own exact state; a channel that is Cold or Syncing on the
//!    winner must be relearned from a kernel dump (the last resort).
//! 2. **Latest followed epoch.** A standby that missed a takeover
//!    announcement follows an older stream; the one that heard it knows the
//!    newer stream.
//! 3. **Most updates held** (the sum of the receipt watermarks over its Hot
//!    channels). Among standbys of the same stream, the one that received
//!    more of it knows more of what the kernel applied, so fewer sections
//!    need a cookie-log replay.
//! 4. **Lowest node id.**
//!
//! # Agreement
//!
//! [`Election`] is the exchange as a state machine: it resends its own
//! candidacy to peers it has not heard from on every tick (asking for an
//! answer), answers every candidacy that asks, and decides once it holds a
//! candidacy from every expected peer that is still up. Peers reported down
//! (TIPC withdrawal) are dropped from the set, with their candidacy, so all
//! standbys that see the same live set pick the same winner. If the winner
//! dies before finishing its takeover, that is simply the next failover:
//! the kernel's epoch fencing orders concurrent claimants.

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::Message;
use crate::{Action, ChannelId, Epoch, NodeId, Opid};

/// Replication mode of a channel as advertised (see [`crate::standby::Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelMode {
    /// Holds nothing trustworthy.
    Cold,
    /// Bulk sync in progress.
    Syncing,
    /// Follows the stream exactly.
    Hot,
}

/// One channel of a candidacy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelState {
    /// Channel.
    pub channel: ChannelId,
    /// Mode.
    pub mode: ChannelMode,
    /// Applied opid.
    pub applied: Opid,
    /// Receipt watermark: every update `<= have` is applied or pending
    /// (`>= applied`).
    pub have: Opid,
}

/// A standby's advertised state for an election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidacy {
    /// The standby.
    pub node: NodeId,
    /// Epoch of the stream it follows.
    pub epoch: Epoch,
    /// Per channel state, sorted by channel id, no duplicates.
    pub channels: Vec<ChannelState>,
}

/// Sort key of a candidacy: greater wins. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    /// Hot channels.
    pub hot: usize,
    /// Followed epoch.
    pub epoch: Epoch,
    /// Sum of receipt watermarks over Hot channels.
    pub held: u128,
    /// Node id, reversed so the lowest id ranks highest.
    pub node: std::cmp::Reverse<NodeId>,
}

impl Candidacy {
    /// This candidacy's rank. A channel listed twice counts once (its
    /// first entry), so a malformed list cannot inflate the rank.
    pub fn rank(&self) -> Rank {
        let mut seen = BTreeSet::new();
        let (mut hot, mut held) = (0usize, 0u128);
        for c in &self.channels {
            if seen.insert(c.channel) && c.mode == ChannelMode::Hot {
                hot += 1;
                held += u128::from(c.have.max(c.applied));
            }
        }
        Rank {
            hot,
            epoch: self.epoch,
            held,
            node: std::cmp::Reverse(self.node),
        }
    }
}

/// The winner among `candidates`: the same for any order of the same set.
/// `None` when there is no candidate.
pub fn elect(candidates: &[Candidacy]) -> Option<NodeId> {
    candidates.iter().max_by_key(|c| c.rank()).map(|c| c.node)
}

/// One standby's side of the candidacy exchange (see module docs).
#[derive(Debug, Clone)]
pub struct Election {
    me: Candidacy,
    /// Peers we still expect a candidacy from (up, not heard).
    waiting: BTreeSet<NodeId>,
    /// Candidacies held, ours included.
    got: BTreeMap<NodeId, Candidacy>,
}

impl Election {
    /// Start: freeze our candidacy and send it to every other live standby.
    pub fn start(me: Candidacy, peers: impl IntoIterator<Item = NodeId>) -> (Self, Vec<Action>) {
        let waiting: BTreeSet<NodeId> = peers.into_iter().filter(|&p| p != me.node).collect();
        let got = BTreeMap::from([(me.node, me.clone())]);
        let e = Election { me, waiting, got };
        let out = e.ask(e.waiting.iter().copied());
        (e, out)
    }

    fn ask(&self, to: impl Iterator<Item = NodeId>) -> Vec<Action> {
        to.map(|to| Action::Send {
            to,
            msg: Message::Candidacy {
                ask: true,
                candidacy: self.me.clone(),
            },
        })
        .collect()
    }

    /// A peer's candidacy. Answers it if asked. A candidacy from a node not
    /// expected (already down, or unknown) is ignored.
    pub fn on_candidacy(&mut self, candidacy: Candidacy, ask: bool) -> Vec<Action> {
        let from = candidacy.node;
        if from == self.me.node {
            return Vec::new();
        }
        let known = self.waiting.remove(&from) || self.got.contains_key(&from);
        if !known {
            return Vec::new();
        }
        // Frozen: the first candidacy of a node is the one that counts.
        self.got.entry(from).or_insert(candidacy);
        if ask {
            vec![Action::Send {
                to: from,
                msg: Message::Candidacy {
                    ask: false,
                    candidacy: self.me.clone(),
                },
            }]
        } else {
            Vec::new()
        }
    }

    /// A peer went down: it is no longer a candidate nor awaited.
    pub fn peer_down(&mut self, node: NodeId) {
        if node != self.me.node {
            self.waiting.remove(&node);
            self.got.remove(&node);
        }
    }

    /// Resend our candidacy to peers not heard from (losses).
    pub fn on_tick(&self) -> Vec<Action> {
        self.ask(self.waiting.iter().copied())
    }

    /// The winner, once every live peer's candidacy is in.
    pub fn outcome(&self) -> Option<NodeId> {
        if !self.waiting.is_empty() {
            return None;
        }
        let all: Vec<Candidacy> = self.got.values().cloned().collect();
        elect(&all)
    }

    /// The winner among the candidacies held so far, whoever is still
    /// awaited: for a deadline past which a silent peer (up, but not
    /// answering) no longer holds the election up. Standbys that decide on
    /// different sets may name different winners; the kernel's epoch
    /// fencing then keeps exactly one of them writing.
    pub fn decide_now(&self) -> Option<NodeId> {
        let all: Vec<Candidacy> = self.got.values().cloned().collect();
        elect(&all)
    }

    /// The other units whose candidacy is held: after a decision, those
    /// that will follow the winner.
    pub fn participants(&self) -> Vec<NodeId> {
        self.got
            .keys()
            .copied()
            .filter(|&n| n != self.me.node)
            .collect()
    }

    /// Peers not heard from yet.
    pub fn waiting(&self) -> &BTreeSet<NodeId> {
        &self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(channel: ChannelId, mode: ChannelMode, applied: Opid, have: Opid) -> ChannelState {
        ChannelState {
            channel,
            mode,
            applied,
            have,
        }
    }

    fn cand(node: NodeId, epoch: Epoch, channels: Vec<ChannelState>) -> Candidacy {
        Candidacy {
            node,
            epoch,
            channels,
        }
    }

    fn hot(node: NodeId, opids: &[Opid]) -> Candidacy {
        let chs = opids
            .iter()
            .enumerate()
            .map(|(i, &o)| ch(i as ChannelId, ChannelMode::Hot, o, o))
            .collect();
        cand(node, 1, chs)
    }

    /// Every permutation of `cs` elects `want` (order independence).
    fn elects_in_any_order(cs: &[Candidacy], want: Option<NodeId>) {
        let n = cs.len();
        let mut idx: Vec<usize> = (0..n).collect();
        // Heap's algorithm, iterative.
        let mut c = vec![0usize; n];
        let pick = |idx: &[usize]| {
            let v: Vec<Candidacy> = idx.iter().map(|&i| cs[i].clone()).collect();
            elect(&v)
        };
        assert_eq!(pick(&idx), want, "order {idx:?}");
        let mut i = 0;
        while i < n {
            if c[i] < i {
                let j = if i % 2 == 0 { 0 } else { c[i] };
                idx.swap(j, i);
                assert_eq!(pick(&idx), want, "order {idx:?}");
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn no_candidate_no_winner() {
        assert_eq!(elect(&[]), None);
    }

    #[test]
    fn single_candidate_wins_even_if_cold() {
        let c = cand(7, 1, vec![ch(0, ChannelMode::Cold, 0, 0)]);
        assert_eq!(elect(&[c]), Some(7));
    }

    #[test]
    fn full_tie_goes_to_lowest_node_id() {
        let cs = [hot(5, &[3, 4]), hot(2, &[3, 4]), hot(9, &[3, 4])];
        elects_in_any_order(&cs, Some(2));
    }

    #[test]
    fn cold_or_syncing_channels_lose_to_hot_ones() {
        // Node 1 is Cold on channel 1 and Syncing on channel 2 (and holds
        // far more of channel 0); node 3 is Hot everywhere.
        let a = cand(
            1,
            1,
            vec![
                ch(0, ChannelMode::Hot, 90, 99),
                ch(1, ChannelMode::Cold, 0, 0),
                ch(2, ChannelMode::Syncing, 0, 50),
            ],
        );
        let b = hot(3, &[10, 10, 10]);
        elects_in_any_order(&[a.clone(), b.clone()], Some(3));
        // Once node 1 is Hot on two channels, it is still one short.
        let mut a2 = a.clone();
        a2.channels[2].mode = ChannelMode::Hot;
        elects_in_any_order(&[a2.clone(), b.clone()], Some(3));
        // Hot everywhere: same hot count, same epoch; give it the higher
        // id so only the larger held count can make it win.
        let mut a3 = a2;
        a3.node = 8;
        a3.channels[1].mode = ChannelMode::Hot;
        elects_in_any_order(&[a3, b], Some(8));
    }

    #[test]
    fn ties_on_hot_broken_by_epoch_then_held() {
        // Same hot count; node 4 follows a newer epoch, node 1 holds more.
        let mut newer = hot(4, &[5, 5]);
        newer.epoch = 2;
        let older_more = hot(1, &[50, 50]);
        elects_in_any_order(&[newer.clone(), older_more.clone()], Some(4));
        // Same epoch: more held wins over lower id.
        let more = hot(6, &[5, 7]);
        let less = hot(2, &[5, 6]);
        elects_in_any_order(&[more.clone(), less.clone(), hot(3, &[4, 4])], Some(6));
        // Held counts the receipt watermark, not just what is applied.
        let pending = cand(
            7,
            1,
            vec![ch(0, ChannelMode::Hot, 5, 9), ch(1, ChannelMode::Hot, 6, 6)],
        );
        elects_in_any_order(&[pending, more], Some(7));
    }

    #[test]
    fn duplicate_channel_entries_count_once() {
        let dup = cand(
            1,
            1,
            vec![
                ch(0, ChannelMode::Hot, 1, 1),
                ch(0, ChannelMode::Hot, 1, 1),
                ch(0, ChannelMode::Hot, 1, 1),
            ],
        );
        let two = hot(5, &[1, 1]);
        assert_eq!(dup.rank().hot, 1);
        elects_in_any_order(&[dup, two], Some(5));
    }

    /// Three standbys exchange candidacies over a link that drops the first
    /// few messages; every one decides, and all decide the same winner.
    #[test]
    fn exchange_agrees_despite_losses() {
        let cands = [hot(1, &[3, 3]), hot(2, &[3, 4]), hot(3, &[3, 4])];
        let ids: Vec<NodeId> = cands.iter().map(|c| c.node).collect();
        let mut es: BTreeMap<NodeId, Election> = BTreeMap::new();
        let mut net: Vec<(NodeId, Action)> = Vec::new();
        for c in &cands {
            let (e, out) = Election::start(c.clone(), ids.clone());
            assert_eq!(e.outcome(), None, "undecided before hearing peers");
            net.extend(out.into_iter().map(|a| (c.node, a)));
            es.insert(c.node, e);
        }
        let mut dropped = 0;
        for round in 0..10 {
            let batch = std::mem::take(&mut net);
            for (_, a) in batch {
                let Action::Send { to, msg } = a else {
                    panic!("unexpected action {a:?}");
                };
                // Drop every other message in the first rounds.
                if round < 2 && dropped % 2 == 0 {
                    dropped += 1;
                    continue;
                }
                dropped += 1;
                let Ok(Message::Candidacy { ask, candidacy }) =
                    Message::decode_exact(&msg.encode())
                else {
                    panic!("bad message");
                };
                let e = es.get_mut(&to).expect("node");
                net.extend(e.on_candidacy(candidacy, ask).into_iter().map(|a| (to, a)));
            }
            for (&n, e) in &es {
                net.extend(e.on_tick().into_iter().map(|a| (n, a)));
            }
        }
        for e in es.values() {
            assert_eq!(e.outcome(), Some(2));
        }
        // Answers never ask back: once decided, nobody sends anything.
        assert!(net.is_empty(), "{net:?}");
    }

    #[test]
    fn peer_down_removes_candidate_and_unblocks() {
        let (mut e, out) = Election::start(hot(2, &[1]), [1, 2, 3]);
        assert_eq!(out.len(), 2);
        // Node 1 (would win the tie) answers, then dies.
        assert!(e.on_candidacy(hot(1, &[1]), false).is_empty());
        assert_eq!(e.outcome(), None);
        e.peer_down(1);
        e.peer_down(3);
        assert_eq!(e.outcome(), Some(2));
        // A late candidacy from a node already down does not come back.
        assert!(e.on_candidacy(hot(1, &[1]), true).is_empty());
        assert_eq!(e.outcome(), Some(2));
    }

    #[test]
    fn a_deadline_decides_among_the_candidacies_in() {
        let (mut e, _) = Election::start(hot(3, &[5]), [1, 2, 3]);
        // Node 2 answers with more held; node 1 stays silent.
        e.on_candidacy(hot(2, &[9]), false);
        assert_eq!(e.outcome(), None, "node 1 is still awaited");
        assert_eq!(e.decide_now(), Some(2), "the best of those in");
    }

    #[test]
    fn a_primary_answers_a_late_election_with_a_candidacy_that_wins() {
        use crate::primary::{Primary, PrimaryConfig};
        use crate::table::SectionCount;
        let p = Primary::new(
            7,
            0x300,
            &[(0, SectionCount::ONE), (1, SectionCount::ONE)],
            PrimaryConfig {
                window: 4,
                backlog: 4,
                ..PrimaryConfig::default()
            },
        );
        let mine = p.candidacy();
        // A standby of the older stream holding more updates still loses:
        // the primary follows the newest epoch on as many Hot channels.
        let standby = cand(
            1,
            0x200,
            vec![
                ch(0, ChannelMode::Hot, 90, 99),
                ch(1, ChannelMode::Hot, 90, 99),
            ],
        );
        elects_in_any_order(&[mine, standby], Some(7));
    }
}
