//! The first frame each side sends on a replication connection.
//!
//! Everything after it is the engine's wire codec; the handshake names the
//! daemons (for logs, status and takeover reports), tells the standby
//! which stream it is about to follow, and checks the protocol version
//! before any state moves.
//!
//! ```text
//! 0      4        5      6            10            18     19
//! +------+--------+------+------------+-------------+------+--------+
//! | HSYD | version| role | node (u32) | epoch (u64) | nlen | name   |
//! +------+--------+------+------------+-------------+------+--------+
//! ```
//! Integers big-endian; `role` 1 = standby (hello), 2 = primary (welcome).
//!
//! Version 2 (release 2 on) appends the sender's release and command set
//! ([`crate::release`]):
//!
//! ```text
//! | release u16 | count u16 | count × (len u8, item name) |
//! ```
//! A first-release daemon refuses anything but version 1 and closes the
//! connection, so a standby that sent version 2 and lost the connection
//! before any answer greets in version 1 next ([`crate::node`]), with
//! [`FALLBACK_EPOCH`] in its epoch field: a first-release primary ignores
//! a standby's epoch and answers in version 1, a later one sees that the
//! standby fell back (the connection may just have failed) and answers in
//! version 2. Otherwise a primary answers in the version it was greeted
//! with, and a version 1 handshake is a first-release peer's, whose set is
//! [`CommandSet::of`] release 1.

use crate::release::{valid_item, CommandSet, Release, ITEMS_MAX};
use crate::wire::{Reader, WireError};
use crate::{Epoch, NodeId};

const MAGIC: &[u8; 4] = b"HSYD";
/// Newest handshake version spoken by this build.
pub const VERSION: u8 = 2;
const HEADER: usize = 19;

/// The epoch of a standby's version 1 handshake sent after its version 2
/// one went unanswered (see the module docs). No stream has it: the
/// kernel's owner epochs are 32-bit, so an engine epoch never reaches
/// `u64::MAX`.
pub const FALLBACK_EPOCH: Epoch = u64::MAX;

/// Which side sent the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A standby asking to follow.
    Standby,
    /// The primary answering.
    Primary,
}

/// A handshake frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Sender's side.
    pub side: Side,
    /// Sender's engine node id.
    pub node: NodeId,
    /// Primary: its epoch; standby: the epoch of the stream it holds (0
    /// when it holds none; earlier releases always send 0).
    pub epoch: Epoch,
    /// Sender's node name (1 to 63 bytes).
    pub name: String,
    /// Sender's release and command set; release 1 is sent as version 1,
    /// without them.
    pub set: CommandSet,
}

impl Handshake {
    /// Encode.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.name.as_bytes();
        let nlen = name.len().min(255);
        let mut b = Vec::with_capacity(HEADER + nlen);
        b.extend_from_slice(MAGIC);
        let v1 = self.set.release <= 1;
        b.push(if v1 { 1 } else { 2 });
        b.push(match self.side {
            Side::Standby => 1,
            Side::Primary => 2,
        });
        b.extend_from_slice(&self.node.to_be_bytes());
        b.extend_from_slice(&self.epoch.to_be_bytes());
        b.push(nlen as u8);
        b.extend_from_slice(&name[..nlen]);
        if !v1 {
            b.extend_from_slice(&self.set.release.to_be_bytes());
            let items: Vec<&String> = self.set.items.iter().take(ITEMS_MAX).collect();
            b.extend_from_slice(&(items.len() as u16).to_be_bytes());
            for i in items {
                // Item names are at most ITEM_MAX bytes (valid_item).
                b.push(i.len() as u8);
                b.extend_from_slice(i.as_bytes());
            }
        }
        b
    }

    /// Decode; every deviation is an error naming it.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < HEADER {
            return Err(format!("handshake of {} bytes is too short", b.len()));
        }
        if &b[..4] != MAGIC {
            return Err("not a hasyncd handshake (bad magic)".into());
        }
        let version = b[4];
        if !(1..=VERSION).contains(&version) {
            return Err(format!(
                "protocol version {version} (this hasyncd speaks 1 to {VERSION})"
            ));
        }
        let side = match b[5] {
            1 => Side::Standby,
            2 => Side::Primary,
            r => return Err(format!("unknown role {r} in handshake")),
        };
        let node = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
        let mut e = [0u8; 8];
        e.copy_from_slice(&b[10..18]);
        let epoch = u64::from_be_bytes(e);
        let nlen = usize::from(b[18]);
        let end = HEADER + nlen;
        if (version == 1 && b.len() != end) || b.len() < end {
            return Err(format!(
                "handshake length {} does not match its name length {nlen}",
                b.len()
            ));
        }
        let name = std::str::from_utf8(&b[HEADER..end])
            .map_err(|_| "handshake name is not UTF-8".to_string())?;
        if name.is_empty() {
            return Err("handshake without a node name".into());
        }
        let set = if version == 1 {
            CommandSet::of(1)
        } else {
            decode_set(&b[end..])?
        };
        Ok(Handshake {
            side,
            node,
            epoch,
            name: name.to_owned(),
            set,
        })
    }
}

/// The release and item list of a version 2 handshake.
fn decode_set(b: &[u8]) -> Result<CommandSet, String> {
    let short = |e: WireError| format!("handshake: {e}");
    let mut r = Reader::new(b);
    let release: Release = r.u16("release").map_err(short)?;
    if release < 2 {
        return Err(format!("release {release} in a version 2 handshake"));
    }
    let count = usize::from(r.u16("item count").map_err(short)?);
    if count > ITEMS_MAX {
        return Err(format!(
            "{count} items in a handshake (at most {ITEMS_MAX})"
        ));
    }
    let mut items = std::collections::BTreeSet::new();
    for _ in 0..count {
        let n = usize::from(r.u8("item length").map_err(short)?);
        let item = std::str::from_utf8(r.take(n, "item").map_err(short)?)
            .ok()
            .filter(|i| valid_item(i))
            .ok_or_else(|| "handshake item is not a valid name".to_string())?;
        if !items.insert(item.to_owned()) {
            return Err(format!("handshake names item {item} twice"));
        }
    }
    if r.left() != 0 {
        return Err(format!("{} bytes after the handshake's items", r.left()));
    }
    Ok(CommandSet { release, items })
}

/// The engine node id of a node name: FNV-1a folded to 32 bits, never 0.
pub fn node_id(name: &str) -> NodeId {
    let h = crate::hash::fnv1a64(name.as_bytes());
    let id = (h ^ (h >> 32)) as u32;
    id.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_refusals() {
        let h = Handshake {
            side: Side::Primary,
            node: 7,
            epoch: 0x1_0000_0002,
            name: "cu-a".into(),
            set: CommandSet::of(1),
        };
        let b = h.encode();
        assert_eq!(b[4], 1);
        assert_eq!(Handshake::decode(&b), Ok(h));
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(Handshake::decode(&bad).unwrap_err().contains("magic"));
        let mut bad = b.clone();
        bad[4] = 9;
        assert!(Handshake::decode(&bad).unwrap_err().contains("version 9"));
        // Version 1 is exactly the first release's frame: nothing after
        // the name.
        let mut bad = b.clone();
        bad[5] = 0;
        assert!(Handshake::decode(&bad).is_err());
        assert!(Handshake::decode(&b[..b.len() - 1]).is_err());
        assert!(Handshake::decode(&b[..3]).is_err());
        let mut long = b.clone();
        long.push(b'x');
        assert!(Handshake::decode(&long).is_err());
        assert_ne!(node_id("cu-a"), node_id("cu-b"));
        assert_ne!(node_id(""), 0);
    }

    #[test]
    fn version_2_carries_the_command_set() {
        let h = Handshake {
            side: Side::Standby,
            node: 9,
            epoch: 0,
            name: "cu-b".into(),
            set: CommandSet::ours(),
        };
        let b = h.encode();
        assert_eq!(b[4], 2);
        assert_eq!(Handshake::decode(&b), Ok(h.clone()));
        // Every cut inside the set is refused, as is anything after it.
        let name_end = HEADER + 4;
        for cut in name_end + 1..b.len() {
            assert!(Handshake::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(Handshake::decode(&long).unwrap_err().contains("after"));
        // Release 1 claimed in a version 2 frame; a bad item name; an item
        // twice.
        let mut bad = b.clone();
        bad[name_end..name_end + 2].copy_from_slice(&1u16.to_be_bytes());
        assert!(Handshake::decode(&bad).unwrap_err().contains("release 1"));
        let mut odd = h.clone();
        odd.set.items = ["Op.Set".to_string()].into();
        assert!(Handshake::decode(&odd.encode())
            .unwrap_err()
            .contains("item"));
        let mut twice = b[..name_end + 2].to_vec();
        twice.extend_from_slice(&2u16.to_be_bytes());
        for _ in 0..2 {
            twice.push(6);
            twice.extend_from_slice(b"op.set");
        }
        assert!(Handshake::decode(&twice).unwrap_err().contains("twice"));
        // A newer release's set, with items this build does not know, is
        // taken as it is.
        let mut newer = h;
        newer.set.release = 3;
        newer.set.items.insert("field.speed".into());
        assert_eq!(Handshake::decode(&newer.encode()), Ok(newer));
    }
}
