//! Node identities.
//!
//! A TIPC node has a 128-bit identity (`tipc node set identity NAME`; up to
//! 16 characters are stored as they are, 32 hex digits as 16 bytes) and a
//! 32-bit address the kernel derives from it by hashing. Sockets, events
//! and `TIPC_NODE_STATE` publications carry the address;
//! [`TipcSocket::node_id`](crate::TipcSocket::node_id) maps it back.

use std::fmt;

use crate::uapi::TIPC_NODEID_LEN;

/// A node's 128-bit identity; all zeros before one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeId(pub [u8; TIPC_NODEID_LEN]);

impl NodeId {
    /// Whether no identity has been set (the kernel reports zeros).
    pub fn is_unset(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl fmt::Display for NodeId {
    /// As the kernel prints it (`tipc_nodeid2string()`): the characters if
    /// every byte is a name character or NUL, else hex without trailing
    /// zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_char = |c: u8| {
            c == 0 || c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'_' | b'-' | b'@')
        };
        if self.0.iter().all(|&c| name_char(c)) {
            for &c in self.0.iter().take_while(|&&c| c != 0) {
                write!(f, "{}", char::from(c))?;
            }
            return Ok(());
        }
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        // The kernel strips zeros from the end but keeps the first digit.
        let trimmed = hex.trim_end_matches('0');
        f.write_str(if trimmed.is_empty() {
            &hex[..1]
        } else {
            trimmed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(bytes: &[u8]) -> NodeId {
        let mut b = [0u8; TIPC_NODEID_LEN];
        b[..bytes.len()].copy_from_slice(bytes);
        NodeId(b)
    }

    #[test]
    fn names_and_hex() {
        assert_eq!(id(b"hasync-n1").to_string(), "hasync-n1");
        assert_eq!(id(b"node@a.b:c_d").to_string(), "node@a.b:c_d");
        assert_eq!(id(&[0x12, 0x34, 0xff]).to_string(), "1234ff");
        assert_eq!(id(&[0xab, 0x00, 0x10]).to_string(), "ab001");
        assert!(id(&[]).is_unset());
        assert_eq!(id(&[]).to_string(), "");
        assert!(!id(b"x").is_unset());
    }
}
