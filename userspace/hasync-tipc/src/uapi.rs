//! Numbers from `<linux/tipc.h>` (Linux 6.12 `include/uapi/linux/tipc.h`),
//! under their C names so that a reader can grep the header for them.
//!
//! Only what this crate uses is here. The struct layouts the numbers go
//! with are encoded by hand in [`crate::addr`] and [`crate::subscr`].

/// Address family (`AF_TIPC`); the same value libc has.
pub const AF_TIPC: u16 = 30;
/// Socket option level (`SOL_TIPC`).
pub const SOL_TIPC: i32 = 271;

/// Service type of the per-node "node up" publications `{0, node, node}`.
pub const TIPC_NODE_STATE: u32 = 0;
/// Service type (and instance) of the topology server.
pub const TIPC_TOP_SRV: u32 = 1;
/// Service type of the node-local "link up" publications.
pub const TIPC_LINK_STATE: u32 = 2;
/// Lowest service type a user socket may bind; lower ones are refused
/// with `EACCES`.
pub const TIPC_RESERVED_TYPES: u32 = 64;

/// `enum tipc_scope`: publication visible to the whole cluster (0 means
/// the same).
pub const TIPC_CLUSTER_SCOPE: i8 = 2;
/// `enum tipc_scope`: publication visible to the own node only.
pub const TIPC_NODE_SCOPE: i8 = 3;

/// Largest message a TIPC socket sends in one piece, in bytes.
pub const TIPC_MAX_USER_MSG_SIZE: usize = 66000;

// Message importance levels (`TIPC_IMPORTANCE` option values).
pub const TIPC_LOW_IMPORTANCE: u32 = 0;
pub const TIPC_MEDIUM_IMPORTANCE: u32 = 1;
pub const TIPC_HIGH_IMPORTANCE: u32 = 2;
pub const TIPC_CRITICAL_IMPORTANCE: u32 = 3;

/// Subscription filter: one event per matching publication.
pub const TIPC_SUB_PORTS: u32 = 0x01;
/// Subscription filter: events at the first publication and the last
/// withdrawal only.
pub const TIPC_SUB_SERVICE: u32 = 0x02;
/// Subscription filter flag: cancel the identical earlier subscription.
pub const TIPC_SUB_CANCEL: u32 = 0x04;
/// The bits the kernel's `tipc_sub_read()` looks at to detect the
/// subscriber's byte order (`TIPC_FILTER_MASK` in `net/tipc/subscr.h`).
pub const TIPC_FILTER_MASK: u32 = TIPC_SUB_PORTS | TIPC_SUB_SERVICE | TIPC_SUB_CANCEL;
/// Subscription timeout meaning "never".
pub const TIPC_WAIT_FOREVER: u32 = !0;

// `struct tipc_event.event` values.
pub const TIPC_PUBLISHED: u32 = 1;
pub const TIPC_WITHDRAWN: u32 = 2;
pub const TIPC_SUBSCR_TIMEOUT: u32 = 3;

// `struct sockaddr_tipc.addrtype` values.
pub const TIPC_SERVICE_RANGE: u8 = 1;
pub const TIPC_SERVICE_ADDR: u8 = 2;
pub const TIPC_SOCKET_ADDR: u8 = 3;

// Socket options at `SOL_TIPC`.
pub const TIPC_IMPORTANCE: i32 = 127;
pub const TIPC_CONN_TIMEOUT: i32 = 130;
pub const TIPC_SOCK_RECVQ_DEPTH: i32 = 132;

/// Length of a node identity (`TIPC_NODEID_LEN`).
pub const TIPC_NODEID_LEN: usize = 16;
/// `SIOCGETNODEID` = `SIOCPROTOPRIVATE + 1`: a node's 128-bit identity
/// from its 32-bit address.
pub const SIOCGETNODEID: u64 = 0x89e0 + 1;

/// `sizeof(struct sockaddr_tipc)`; `connect()` insists on exactly this.
pub const SOCKADDR_TIPC_LEN: usize = 16;
/// `sizeof(struct tipc_subscr)`; the topology server reads exactly this.
pub const TIPC_SUBSCR_LEN: usize = 28;
/// `sizeof(struct tipc_event)`.
pub const TIPC_EVENT_LEN: usize = 48;
/// `sizeof(struct tipc_sioc_nodeid_req)`.
pub const TIPC_SIOC_NODEID_REQ_LEN: usize = 4 + TIPC_NODEID_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_level_agree_with_libc() {
        assert_eq!(i32::from(AF_TIPC), libc::AF_TIPC);
        assert_eq!(SOL_TIPC, libc::SOL_TIPC);
    }
}
