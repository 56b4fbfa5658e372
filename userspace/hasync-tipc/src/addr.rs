//! TIPC addresses and their `struct sockaddr_tipc` encoding.
//!
//! TIPC names a *service* `{type, instance}` (or a range of instances)
//! rather than a host and a port; a bound socket *publishes* the service
//! and a client reaches whichever socket publishes it. Each socket also
//! has a *socket address* `<node:ref>`: the 32-bit node address of its
//! node and a port number unique on that node.
//!
//! `struct sockaddr_tipc` (16 bytes, 4-byte aligned, host byte order):
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | `unsigned short family` | `AF_TIPC` |
//! | 2 | `unsigned char addrtype` | `TIPC_SERVICE_RANGE` 1, `TIPC_SERVICE_ADDR` 2, `TIPC_SOCKET_ADDR` 3 |
//! | 3 | `signed char scope` | `TIPC_CLUSTER_SCOPE` 2 (or 0), `TIPC_NODE_SCOPE` 3; negative in `bind()` withdraws |
//! | 4 | `addr.nameseq` / `addr.name` / `addr.id` | `{type, lower, upper}` / `{{type, instance}, domain}` / `{ref, node}` |

use std::fmt;

use crate::bytes::{get_u16, get_u32, put_u16, put_u32};
use crate::error::DecodeError;
use crate::uapi::{
    AF_TIPC, SOCKADDR_TIPC_LEN, TIPC_CLUSTER_SCOPE, TIPC_NODE_SCOPE, TIPC_SERVICE_ADDR,
    TIPC_SERVICE_RANGE, TIPC_SOCKET_ADDR,
};

/// `struct tipc_service_addr`: one instance of a service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceAddr {
    /// Service type; user services start at
    /// [`TIPC_RESERVED_TYPES`](crate::uapi::TIPC_RESERVED_TYPES) (64).
    pub type_: u32,
    /// Instance within the type.
    pub instance: u32,
}

impl ServiceAddr {
    /// `{type_, instance}`.
    pub const fn new(type_: u32, instance: u32) -> Self {
        Self { type_, instance }
    }
}

impl fmt::Display for ServiceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{},{}}}", self.type_, self.instance)
    }
}

/// `struct tipc_service_range`: instances `lower..=upper` of a service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRange {
    /// Service type.
    pub type_: u32,
    /// First instance, inclusive.
    pub lower: u32,
    /// Last instance, inclusive; the kernel refuses `upper < lower`.
    pub upper: u32,
}

impl ServiceRange {
    /// `{type_, lower, upper}`.
    pub const fn new(type_: u32, lower: u32, upper: u32) -> Self {
        Self {
            type_,
            lower,
            upper,
        }
    }

    /// The range holding exactly `addr`.
    pub const fn single(addr: ServiceAddr) -> Self {
        Self::new(addr.type_, addr.instance, addr.instance)
    }

    /// Every instance of `type_`.
    pub const fn all(type_: u32) -> Self {
        Self::new(type_, 0, u32::MAX)
    }

    /// Whether the kernel will take it (`lower <= upper`).
    pub const fn is_valid(&self) -> bool {
        self.lower <= self.upper
    }

    /// Whether `addr` lies in the range.
    pub const fn contains(&self, addr: ServiceAddr) -> bool {
        addr.type_ == self.type_ && self.lower <= addr.instance && addr.instance <= self.upper
    }
}

impl fmt::Display for ServiceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{},{},{}}}", self.type_, self.lower, self.upper)
    }
}

/// `struct tipc_socket_addr`: one socket, by node address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SocketAddr {
    /// Port number, unique on its node.
    pub ref_: u32,
    /// 32-bit node address (with `tipc node set identity` a hash of the
    /// 128-bit identity; see [`crate::NodeId`]).
    pub node: u32,
}

impl SocketAddr {
    /// `<node:ref_>`.
    pub const fn new(ref_: u32, node: u32) -> Self {
        Self { ref_, node }
    }
}

impl fmt::Display for SocketAddr {
    /// `<node:port>`, the node in hex as `tipc nametable show` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{:x}:{}>", self.node, self.ref_)
    }
}

/// Who sees a publication (`enum tipc_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Every node of the cluster (`TIPC_CLUSTER_SCOPE`).
    #[default]
    Cluster,
    /// The own node only (`TIPC_NODE_SCOPE`).
    Node,
}

impl Scope {
    /// The `sockaddr_tipc.scope` value.
    pub const fn raw(self) -> i8 {
        match self {
            Scope::Cluster => TIPC_CLUSTER_SCOPE,
            Scope::Node => TIPC_NODE_SCOPE,
        }
    }

    /// From `sockaddr_tipc.scope`: 0, 2 and the deprecated zone scope 1
    /// all mean cluster, as in the kernel's `__tipc_bind()`.
    pub fn from_raw(raw: i8) -> Result<Self, DecodeError> {
        match raw {
            0..=2 => Ok(Scope::Cluster),
            TIPC_NODE_SCOPE => Ok(Scope::Node),
            _ => Err(DecodeError::Scope(raw)),
        }
    }
}

/// The address inside a `struct sockaddr_tipc`, by `addrtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Addr {
    /// `TIPC_SERVICE_ADDR`: one service instance. `lookup_node` (the C
    /// `domain`) restricts the lookup to one node; 0 means any node.
    Service {
        /// The service.
        service: ServiceAddr,
        /// Node address to look the service up on, or 0.
        lookup_node: u32,
    },
    /// `TIPC_SERVICE_RANGE`: a range of instances (bind, multicast).
    Range(ServiceRange),
    /// `TIPC_SOCKET_ADDR`: one socket.
    Socket(SocketAddr),
}

impl From<ServiceAddr> for Addr {
    fn from(service: ServiceAddr) -> Self {
        Addr::Service {
            service,
            lookup_node: 0,
        }
    }
}

impl From<ServiceRange> for Addr {
    fn from(range: ServiceRange) -> Self {
        Addr::Range(range)
    }
}

impl From<SocketAddr> for Addr {
    fn from(sock: SocketAddr) -> Self {
        Addr::Socket(sock)
    }
}

/// A whole `struct sockaddr_tipc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockaddrTipc {
    /// The address proper.
    pub addr: Addr,
    /// Publication scope; only `bind()` looks at it.
    pub scope: Scope,
}

impl SockaddrTipc {
    /// `addr` with cluster scope.
    pub fn new(addr: impl Into<Addr>) -> Self {
        Self {
            addr: addr.into(),
            scope: Scope::Cluster,
        }
    }

    /// `addr` with `scope`.
    pub fn with_scope(addr: impl Into<Addr>, scope: Scope) -> Self {
        Self {
            addr: addr.into(),
            scope,
        }
    }

    /// The 16 bytes the kernel reads.
    pub fn encode(&self) -> [u8; SOCKADDR_TIPC_LEN] {
        self.encode_scope(self.scope.raw())
    }

    /// The bytes that make `bind()` withdraw this publication instead of
    /// making it: the scope negated (`__tipc_bind()`).
    pub fn encode_withdrawal(&self) -> [u8; SOCKADDR_TIPC_LEN] {
        self.encode_scope(-self.scope.raw())
    }

    fn encode_scope(&self, scope: i8) -> [u8; SOCKADDR_TIPC_LEN] {
        let mut b = [0u8; SOCKADDR_TIPC_LEN];
        put_u16(&mut b, 0, AF_TIPC);
        b[3] = scope.to_ne_bytes()[0];
        match self.addr {
            Addr::Service {
                service,
                lookup_node,
            } => {
                b[2] = TIPC_SERVICE_ADDR;
                put_u32(&mut b, 4, service.type_);
                put_u32(&mut b, 8, service.instance);
                put_u32(&mut b, 12, lookup_node);
            }
            Addr::Range(r) => {
                b[2] = TIPC_SERVICE_RANGE;
                put_u32(&mut b, 4, r.type_);
                put_u32(&mut b, 8, r.lower);
                put_u32(&mut b, 12, r.upper);
            }
            Addr::Socket(s) => {
                b[2] = TIPC_SOCKET_ADDR;
                put_u32(&mut b, 4, s.ref_);
                put_u32(&mut b, 8, s.node);
            }
        }
        b
    }

    /// Parse what the kernel wrote (`getsockname`, `accept`, `recvfrom`).
    /// Bytes past the first 16 (a group member's second address) are
    /// ignored.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() < SOCKADDR_TIPC_LEN {
            return Err(DecodeError::Length {
                what: "sockaddr_tipc",
                len: b.len(),
                expected: SOCKADDR_TIPC_LEN,
            });
        }
        let family = get_u16(b, 0);
        if family != AF_TIPC {
            return Err(DecodeError::Family(family));
        }
        let scope = Scope::from_raw(i8::from_ne_bytes([b[3]]))?;
        let (w1, w2, w3) = (get_u32(b, 4), get_u32(b, 8), get_u32(b, 12));
        let addr = match b[2] {
            TIPC_SERVICE_ADDR => Addr::Service {
                service: ServiceAddr::new(w1, w2),
                lookup_node: w3,
            },
            TIPC_SERVICE_RANGE => Addr::Range(ServiceRange::new(w1, w2, w3)),
            TIPC_SOCKET_ADDR => Addr::Socket(SocketAddr::new(w1, w2)),
            other => return Err(DecodeError::AddrType(other)),
        };
        Ok(Self { addr, scope })
    }

    /// The socket address, if that is what this is.
    pub fn socket(&self) -> Option<SocketAddr> {
        match self.addr {
            Addr::Socket(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C layout, for checking our offsets against the compiler's.
    #[repr(C)]
    struct CSockaddrTipc {
        family: u16,
        addrtype: u8,
        scope: i8,
        addr: [u32; 3],
    }

    #[test]
    fn layout_matches_c() {
        assert_eq!(std::mem::size_of::<CSockaddrTipc>(), SOCKADDR_TIPC_LEN);
        assert_eq!(std::mem::align_of::<CSockaddrTipc>(), 4);
        assert_eq!(std::mem::offset_of!(CSockaddrTipc, addrtype), 2);
        assert_eq!(std::mem::offset_of!(CSockaddrTipc, scope), 3);
        assert_eq!(std::mem::offset_of!(CSockaddrTipc, addr), 4);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn service_addr_bytes() {
        let sa = SockaddrTipc::new(ServiceAddr::new(0x1000, 7));
        assert_eq!(
            sa.encode(),
            [30, 0, 2, 2, 0x00, 0x10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        );
        let on_node = SockaddrTipc::with_scope(
            Addr::Service {
                service: ServiceAddr::new(0x1000, 7),
                lookup_node: 0x0102_0304,
            },
            Scope::Node,
        );
        assert_eq!(
            on_node.encode(),
            [30, 0, 2, 3, 0x00, 0x10, 0, 0, 7, 0, 0, 0, 4, 3, 2, 1]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn range_and_withdrawal_bytes() {
        let sa = SockaddrTipc::with_scope(ServiceRange::new(64, 1, 9), Scope::Node);
        assert_eq!(
            sa.encode(),
            [30, 0, 1, 3, 64, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0]
        );
        // -3 as a signed char.
        assert_eq!(sa.encode_withdrawal()[3], 0xfd);
        let cluster = SockaddrTipc::new(ServiceRange::new(64, 1, 9));
        assert_eq!(cluster.encode_withdrawal()[3], 0xfe);
    }

    /// What `tipc_getname()` writes: family, TIPC_SOCKET_ADDR, scope 0,
    /// `{ref, node}`, domain 0.
    #[cfg(target_endian = "little")]
    #[test]
    fn decode_getname_bytes() {
        let raw = [
            30, 0, 3, 0, 0x39, 0x30, 0, 0, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0,
        ];
        let sa = SockaddrTipc::decode(&raw).unwrap();
        assert_eq!(sa.scope, Scope::Cluster);
        assert_eq!(sa.socket(), Some(SocketAddr::new(12345, 0x1234_5678)));
        assert_eq!(sa.encode(), {
            let mut r = raw;
            r[3] = 2;
            r
        });
    }

    #[test]
    fn round_trip() {
        let cases = [
            SockaddrTipc::new(ServiceAddr::new(1000, 1)),
            SockaddrTipc::with_scope(ServiceRange::new(0, 0, u32::MAX), Scope::Node),
            SockaddrTipc::new(SocketAddr::new(u32::MAX, 1)),
        ];
        for sa in cases {
            assert_eq!(SockaddrTipc::decode(&sa.encode()).unwrap(), sa);
        }
    }

    #[test]
    fn decode_rejects() {
        let good = SockaddrTipc::new(ServiceAddr::new(1000, 1)).encode();
        assert!(matches!(
            SockaddrTipc::decode(&good[..15]),
            Err(DecodeError::Length { len: 15, .. })
        ));
        let mut bad = good;
        bad[0] = 2;
        bad[1] = 0;
        assert!(matches!(
            SockaddrTipc::decode(&bad),
            Err(DecodeError::Family(f)) if f == u16::from_ne_bytes([2, 0])
        ));
        let mut bad = good;
        bad[2] = 4;
        assert_eq!(SockaddrTipc::decode(&bad), Err(DecodeError::AddrType(4)));
        let mut bad = good;
        bad[3] = 0xfe;
        assert_eq!(SockaddrTipc::decode(&bad), Err(DecodeError::Scope(-2)));
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::from_raw(0), Ok(Scope::Cluster));
        assert_eq!(Scope::from_raw(1), Ok(Scope::Cluster));
        assert_eq!(Scope::from_raw(2), Ok(Scope::Cluster));
        assert_eq!(Scope::from_raw(3), Ok(Scope::Node));
        assert_eq!(Scope::Node.raw(), 3);
    }

    #[test]
    fn ranges_and_display() {
        let r = ServiceRange::new(1000, 5, 9);
        assert!(r.contains(ServiceAddr::new(1000, 5)));
        assert!(r.contains(ServiceAddr::new(1000, 9)));
        assert!(!r.contains(ServiceAddr::new(1000, 10)));
        assert!(!r.contains(ServiceAddr::new(1001, 5)));
        assert!(!ServiceRange::new(1, 2, 1).is_valid());
        assert_eq!(r.to_string(), "{1000,5,9}");
        assert_eq!(ServiceAddr::new(1000, 1).to_string(), "{1000,1}");
        assert_eq!(SocketAddr::new(42, 0xabc).to_string(), "<abc:42>");
    }
}
