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

use crate::{Epoch, NodeId};

const MAGIC: &[u8; 4] = b"HSYD";
/// Protocol version spoken by this build.
pub const VERSION: u8 = 1;
const HEADER: usize = 19;

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
}

impl Handshake {
    /// Encode.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.name.as_bytes();
        let nlen = name.len().min(255);
        let mut b = Vec::with_capacity(HEADER + nlen);
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.push(match self.side {
            Side::Standby => 1,
            Side::Primary => 2,
        });
        b.extend_from_slice(&self.node.to_be_bytes());
        b.extend_from_slice(&self.epoch.to_be_bytes());
        b.push(nlen as u8);
        b.extend_from_slice(&name[..nlen]);
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
        if b[4] != VERSION {
            return Err(format!(
                "protocol version {} (this hasyncd speaks {VERSION})",
                b[4]
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
        if b.len() != HEADER + nlen {
            return Err(format!(
                "handshake length {} does not match its name length {nlen}",
                b.len()
            ));
        }
        let name = std::str::from_utf8(&b[HEADER..])
            .map_err(|_| "handshake name is not UTF-8".to_string())?;
        if name.is_empty() {
            return Err("handshake without a node name".into());
        }
        Ok(Handshake {
            side,
            node,
            epoch,
            name: name.to_owned(),
        })
    }
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
        };
        let b = h.encode();
        assert_eq!(Handshake::decode(&b), Ok(h));
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(Handshake::decode(&bad).unwrap_err().contains("magic"));
        let mut bad = b.clone();
        bad[4] = 9;
        assert!(Handshake::decode(&bad).unwrap_err().contains("version 9"));
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
}
