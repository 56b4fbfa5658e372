//! Releases of the replication protocol and what each one understands.
//!
//! A release is a hasyncd build's replication schema: the ops an update may
//! carry, the record fields, the message types. Each side of a replication
//! connection names its release and the items it understands (its *command
//! set*) in its handshake ([`crate::handshake`]); from the two sets each
//! side computes what the other lacks, both ways: the primary's diff list
//! (items the standby lacks) and the standby's (items the primary lacks).
//! A peer of the first release sends no set: its set is this table's.
//!
//! The newer side does the work. For each item its peer lacks it has a
//! [`Handling`]: transformed one release step at a time
//! ([`crate::transform`]), not synced at all (the don't-care list),
//! dropped with a warning, or the standby's channel left cold. The table
//! and the defaults are in `docs/upgrade.md`; where an item allows a
//! choice, the operator makes it ([`LackingPolicy`], the config's
//! `[upgrade]` table).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A release number.
pub type Release = u16;

/// This build's release.
pub const RELEASE: Release = 2;

/// The oldest release this build keeps hot and hands over to.
pub const MIN_RELEASE: Release = 1;

/// Longest item name.
pub const ITEM_MAX: usize = 63;

/// Most items one handshake names.
pub const ITEMS_MAX: usize = 256;

/// One thing a release understands, the release that brought it, and what
/// this build does for a peer that lacks it.
struct Item {
    name: &'static str,
    since: Release,
    /// The first release without it, when one dropped it.
    until: Option<Release>,
    lacking: Handling,
    /// The other handlings an operator may choose instead.
    choices: &'static [Handling],
}

/// Every item this build knows, oldest first.
const ITEMS: &[Item] = &[
    Item::first("op.set"),
    Item::first("op.del"),
    Item::first("op.replace-section"),
    Item::first("field.admin"),
    Item::first("field.mtu"),
    Item::first("field.mac"),
    Item::first("field.vlan"),
    Item::first("field.addrs"),
    Item::first("field.description"),
    Item::first("msg.update"),
    Item::first("msg.ack"),
    Item::first("msg.have"),
    // The standby's queue depth in its receipt watermark: no primary ever
    // read it, and release 2 dropped it. The transforms fill it in for
    // release 1 and take it out of what release 1 sends.
    Item {
        name: "msg.have.pending",
        since: 1,
        until: Some(2),
        lacking: Handling::Transform,
        choices: &[],
    },
    Item::first("msg.sync-request"),
    Item::first("msg.checkpoint"),
    Item::first("msg.checkpoint-ack"),
    Item::first("msg.sync-declaration"),
    Item::first("msg.digests"),
    Item::first("msg.digest-report"),
    Item::first("msg.new-primary"),
    Item::first("msg.hello"),
    Item::first("msg.candidacy"),
    // A rename is a delete and a set in the same update.
    Item {
        name: "op.rename",
        since: 2,
        until: None,
        lacking: Handling::Transform,
        choices: &[],
    },
    // A section too large for one message travels in parts; a peer that
    // cannot take them (nor a section of more records than its messages
    // carry) cannot hold that channel.
    Item {
        name: "msg.checkpoint-part",
        since: 2,
        until: None,
        lacking: Handling::Cold,
        choices: &[],
    },
    // Link speed, a field added: a record travels without it, and the
    // audit compares digests of the records as the peer holds them.
    Item {
        name: "field.speed",
        since: 2,
        until: None,
        lacking: Handling::Drop,
        choices: &[Handling::DontCare, Handling::Cold],
    },
    // Descriptions up to 255 bytes, a range widened from 64: a longer one
    // cut short would be another description after a failover.
    Item {
        name: "field.description-255",
        since: 2,
        until: None,
        lacking: Handling::Cold,
        choices: &[],
    },
    // The TCP face's connections: a standby that cannot hold them is not
    // sent them, and a failover to it ends them (clients reconnect).
    Item {
        name: "msg.tcp-conns",
        since: 2,
        until: None,
        lacking: Handling::DontCare,
        choices: &[],
    },
];

impl Item {
    const fn first(name: &'static str) -> Item {
        Item {
            name,
            since: 1,
            until: None,
            // Never lacking between releases this build talks to.
            lacking: Handling::Cold,
            choices: &[],
        }
    }
}

/// What happens to an item a peer lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Handling {
    /// Rewritten into what the peer has ([`crate::transform`]).
    Transform,
    /// On the don't-care list: not synced, silently.
    DontCare,
    /// Dropped with a warning, counted.
    Drop,
    /// The standby's channels that would need it stay cold: it never
    /// holds them, and the primary confirms without it there.
    Cold,
    /// The peer is of a newer release: what it lacks of ours, it
    /// transforms itself.
    ByPeer,
    /// The peer is an older primary: it never sends what it lacks, and
    /// what it sends is upgraded here.
    Unused,
}

impl Handling {
    /// As a config file names it.
    pub fn keyword(self) -> &'static str {
        match self {
            Handling::Transform => "transform",
            Handling::DontCare => "dont-care",
            Handling::Drop => "drop",
            Handling::Cold => "cold",
            Handling::ByPeer => "by-peer",
            Handling::Unused => "unused",
        }
    }

    /// As logs and status show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Transform => "transformed",
            Handling::DontCare => "not synced (don't-care)",
            Handling::Drop => "dropped with a warning",
            Handling::Cold => "standby channel left cold",
            Handling::ByPeer => "left to the newer peer",
            Handling::Unused => "never sent by the older primary",
        }
    }
}

/// A release and the items it understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSet {
    /// Release number.
    pub release: Release,
    /// Item names.
    pub items: BTreeSet<String>,
}

impl CommandSet {
    /// This build's set.
    pub fn ours() -> Self {
        Self::of(RELEASE)
    }

    /// The set of a release this build knows (at most [`RELEASE`]).
    pub fn of(release: Release) -> Self {
        CommandSet {
            release,
            items: ITEMS
                .iter()
                .filter(|i| i.since <= release && i.until.map_or(true, |u| release < u))
                .map(|i| i.name.to_owned())
                .collect(),
        }
    }

    /// Whether it has `item`.
    pub fn has(&self, item: &str) -> bool {
        self.items.contains(item)
    }
}

/// What one side has that the other lacks, each way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Ours, lacking at the peer, with what we do about each.
    pub peer_lacks: Vec<(String, Handling)>,
    /// The peer's, lacking here: we never send them, and it must not need
    /// to send them to us.
    pub we_lack: Vec<String>,
}

impl Diff {
    /// The two diff lists between this build and `peer`, which is a
    /// standby (`we_lead`) or the primary, under the default handlings.
    pub fn with(peer: &CommandSet, we_lead: bool) -> Diff {
        Diff::under(&LackingPolicy::default(), peer, we_lead)
    }

    /// [`Diff::with`] under the operator's `policy`.
    pub fn under(policy: &LackingPolicy, peer: &CommandSet, we_lead: bool) -> Diff {
        let ours = CommandSet::ours();
        let how = |i: &String| {
            if peer.release > RELEASE {
                Handling::ByPeer
            } else if !we_lead {
                Handling::Unused
            } else {
                policy.handling(i)
            }
        };
        Diff {
            peer_lacks: ours
                .items
                .difference(&peer.items)
                .map(|i| (i.clone(), how(i)))
                .collect(),
            we_lack: peer.items.difference(&ours.items).cloned().collect(),
        }
    }

    /// Nothing lacking either way.
    pub fn is_empty(&self) -> bool {
        self.peer_lacks.is_empty() && self.we_lack.is_empty()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (i, h) in &self.peer_lacks {
            write!(f, "{sep}lacks {i}: {}", h.as_str())?;
            sep = "; ";
        }
        for i in &self.we_lack {
            if dropped_here(i) {
                write!(f, "{sep}has {i}, which this release dropped (transformed)")?;
            } else {
                write!(f, "{sep}has {i}, which this release lacks")?;
            }
            sep = "; ";
        }
        Ok(())
    }
}

/// Whether `item` is one an earlier release had and this one dropped:
/// the transforms fill it in and take it out.
pub fn dropped_here(item: &str) -> bool {
    ITEMS
        .iter()
        .any(|i| i.name == item && i.until.is_some_and(|u| u <= RELEASE))
}

/// What this build does for a peer lacking `item`.
pub fn handling(item: &str) -> Handling {
    ITEMS
        .iter()
        .find(|i| i.name == item)
        .map_or(Handling::Cold, |i| i.lacking)
}

/// The handlings the operator chose for items that allow a choice; every
/// other item keeps its default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LackingPolicy {
    chosen: BTreeMap<&'static str, Handling>,
}

impl LackingPolicy {
    /// What this build does for a peer lacking `item`.
    pub fn handling(&self, item: &str) -> Handling {
        self.chosen
            .get(item)
            .copied()
            .unwrap_or_else(|| handling(item))
    }

    /// Choose `keyword`'s handling ([`Handling::keyword`]) for `item`;
    /// the error says what the item allows.
    pub fn choose(&mut self, item: &str, keyword: &str) -> Result<(), String> {
        let Some(i) = ITEMS.iter().find(|i| i.name == item) else {
            let newer: Vec<&str> = choosable().collect();
            return Err(format!(
                "unknown item \"{item}\" (items with a choice: {})",
                newer.join(", ")
            ));
        };
        let allowed: Vec<Handling> = std::iter::once(i.lacking)
            .chain(i.choices.iter().copied())
            .collect();
        let words: Vec<&str> = allowed.iter().map(|h| h.keyword()).collect();
        if i.choices.is_empty() {
            return Err(format!(
                "item \"{item}\" is always handled as \"{}\"",
                i.lacking.keyword()
            ));
        }
        match allowed.iter().find(|h| h.keyword() == keyword) {
            Some(&h) => {
                self.chosen.insert(i.name, h);
                Ok(())
            }
            None => Err(format!(
                "invalid handling \"{keyword}\" for \"{item}\": one of {}",
                words.join(", ")
            )),
        }
    }
}

/// The items whose handling an operator may choose.
pub fn choosable() -> impl Iterator<Item = &'static str> {
    ITEMS
        .iter()
        .filter(|i| !i.choices.is_empty())
        .map(|i| i.name)
}

/// Whether `name` is a well-formed item name (lowercase letters, digits,
/// `.` and `-`; 1 to [`ITEM_MAX`] bytes).
pub fn valid_item(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= ITEM_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_release_lacks_what_the_second_added() {
        let d = Diff::with(&CommandSet::of(1), true);
        assert_eq!(
            d.peer_lacks,
            vec![
                ("field.description-255".to_string(), Handling::Cold),
                ("field.speed".to_string(), Handling::Drop),
                ("msg.checkpoint-part".to_string(), Handling::Cold),
                ("msg.tcp-conns".to_string(), Handling::DontCare),
                ("op.rename".to_string(), Handling::Transform),
            ]
        );
        assert_eq!(d.we_lack, vec!["msg.have.pending".to_string()]);
        assert_eq!(
            d.to_string(),
            "lacks field.description-255: standby channel left cold; \
             lacks field.speed: dropped with a warning; \
             lacks msg.checkpoint-part: standby channel left cold; \
             lacks msg.tcp-conns: not synced (don't-care); lacks op.rename: transformed; \
             has msg.have.pending, which this release dropped (transformed)"
        );
        assert!(Diff::with(&CommandSet::ours(), true).is_empty());
        // Following an older primary, nothing of ours is needed.
        let d = Diff::with(&CommandSet::of(1), false);
        assert_eq!(d.peer_lacks.len(), 5);
        assert!(d.peer_lacks.iter().all(|(_, h)| *h == Handling::Unused));
    }

    #[test]
    fn only_items_with_a_choice_take_one() {
        let mut p = LackingPolicy::default();
        assert_eq!(p.handling("field.speed"), Handling::Drop);
        p.choose("field.speed", "dont-care").expect("allowed");
        assert_eq!(p.handling("field.speed"), Handling::DontCare);
        p.choose("field.speed", "cold").expect("allowed");
        assert_eq!(p.handling("field.speed"), Handling::Cold);
        let e = p.choose("field.speed", "transform").unwrap_err();
        assert_eq!(
            e,
            "invalid handling \"transform\" for \"field.speed\": one of drop, dont-care, cold"
        );
        let e = p.choose("op.rename", "cold").unwrap_err();
        assert_eq!(e, "item \"op.rename\" is always handled as \"transform\"");
        let e = p.choose("field.sped", "drop").unwrap_err();
        assert!(
            e.contains("unknown item \"field.sped\"") && e.contains("field.speed"),
            "{e}"
        );
        let d = Diff::under(&p, &CommandSet::of(1), true);
        assert!(d
            .peer_lacks
            .contains(&("field.speed".to_string(), Handling::Cold)));
    }

    #[test]
    fn a_newer_peer_names_what_we_lack() {
        let mut newer = CommandSet::ours();
        newer.release = RELEASE + 1;
        newer.items.insert("field.vrf".into());
        newer.items.remove("field.description");
        let d = Diff::with(&newer, true);
        assert_eq!(d.we_lack, vec!["field.vrf".to_string()]);
        assert_eq!(
            d.peer_lacks,
            vec![("field.description".to_string(), Handling::ByPeer)]
        );
    }

    #[test]
    fn every_item_name_is_well_formed_and_unique() {
        let mut seen = BTreeSet::new();
        for i in ITEMS {
            assert!(valid_item(i.name), "{}", i.name);
            assert!(seen.insert(i.name), "{} twice", i.name);
            assert!(i.since >= 1 && i.since <= RELEASE);
            assert!(i.until.map_or(true, |u| u > i.since && u <= RELEASE));
        }
        assert!(ITEMS.len() <= ITEMS_MAX);
        assert!(!valid_item(""));
        assert!(!valid_item("Op.Set"));
        assert!(!valid_item(&"x".repeat(ITEM_MAX + 1)));
    }
}
