//! Topology-server messages: `struct tipc_subscr` out, `struct tipc_event` in.
//!
//! `struct tipc_subscr` (28 bytes): `seq {type, lower, upper}` at 0,
//! `timeout` (ms) at 12, `filter` at 16, `usr_handle[8]` at 20.
//! `struct tipc_event` (48 bytes): `event` at 0, `found_lower` at 4,
//! `found_upper` at 8, `port {ref, node}` at 12, the subscription as sent
//! at 20.
//!
//! # Byte order
//!
//! The header does not say, and the server does not use network order.
//! In 6.12 it reads every field through `tipc_sub_read()`
//! (`net/tipc/subscr.h`): if `filter & TIPC_FILTER_MASK` (PORTS | SERVICE
//! | CANCEL) is zero as read natively, it assumes a subscriber of the other
//! endianness and byte-swaps each field; events are written back the same
//! way (`tipc_evt_write()`), judged by the filter in the copy of the
//! subscription the event carries. We always send a filter with PORTS or
//! SERVICE set in host order, so the kernel reads host order and answers
//! in host order. [`TopologyEvent::decode`] applies the kernel's own test
//! to the echoed filter, so it would read a swapped event too.
//! `usr_handle` is opaque bytes and never swapped.
//!
//! A subscription is cancelled by sending it again, byte for byte, with
//! `TIPC_SUB_CANCEL` added (`tipc_conn_delete_sub()` compares with
//! `memcmp`). An invalid one (both PORTS and SERVICE, `lower > upper`)
//! makes the server close the whole connection.

use std::time::Duration;

use crate::addr::{ServiceRange, SocketAddr};
use crate::bytes::{get_u32, put_u32};
use crate::error::DecodeError;
use crate::uapi::{
    TIPC_EVENT_LEN, TIPC_FILTER_MASK, TIPC_NODE_STATE, TIPC_PUBLISHED, TIPC_SUBSCR_LEN,
    TIPC_SUBSCR_TIMEOUT, TIPC_SUB_CANCEL, TIPC_SUB_PORTS, TIPC_SUB_SERVICE, TIPC_WAIT_FOREVER,
    TIPC_WITHDRAWN,
};

/// Which publications produce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `TIPC_SUB_PORTS`: an event for every publication and withdrawal
    /// overlapping the range, each naming the publishing socket.
    Ports,
    /// `TIPC_SUB_SERVICE`: an event when the first publication appears and
    /// when the last one goes; nothing in between.
    Service,
}

impl Filter {
    const fn raw(self) -> u32 {
        match self {
            Filter::Ports => TIPC_SUB_PORTS,
            Filter::Service => TIPC_SUB_SERVICE,
        }
    }
}

/// One `struct tipc_subscr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The service range of interest.
    pub range: ServiceRange,
    /// Event granularity.
    pub filter: Filter,
    /// Lifetime in milliseconds; [`Subscription::FOREVER`] never expires.
    /// When it does, the server sends
    /// [`TopologyEvent::SubscriptionTimeout`] and reports no more.
    pub timeout_ms: u32,
    /// Ours to choose; echoed in every event (`usr_handle`, stored in host
    /// byte order).
    pub handle: u64,
}

impl Subscription {
    /// `TIPC_WAIT_FOREVER`.
    pub const FOREVER: u32 = TIPC_WAIT_FOREVER;

    /// Every publication and withdrawal in `range`, forever, handle 0.
    pub const fn ports(range: ServiceRange) -> Self {
        Self {
            range,
            filter: Filter::Ports,
            timeout_ms: Self::FOREVER,
            handle: 0,
        }
    }

    /// First publication and last withdrawal in `range`, forever.
    pub const fn service(range: ServiceRange) -> Self {
        Self {
            range,
            filter: Filter::Service,
            timeout_ms: Self::FOREVER,
            handle: 0,
        }
    }

    /// Node up/down for every node, the own one included: each node
    /// publishes `{TIPC_NODE_STATE, addr, addr}` cluster-wide once it has
    /// its address, and a peer's publication is withdrawn when the last
    /// link to it goes down.
    pub const fn nodes() -> Self {
        Self::ports(ServiceRange::all(TIPC_NODE_STATE))
    }

    /// Node up/down for the node with address `node`.
    pub const fn node(node: u32) -> Self {
        Self::ports(ServiceRange::new(TIPC_NODE_STATE, node, node))
    }

    /// The same with `handle`.
    pub const fn with_handle(mut self, handle: u64) -> Self {
        self.handle = handle;
        self
    }

    /// The same, expiring after `timeout` (saturating just below
    /// [`Subscription::FOREVER`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        self.timeout_ms = ms.min(Self::FOREVER - 1);
        self
    }

    /// The 28 bytes to send to the topology server, in host order.
    pub fn encode(&self) -> [u8; TIPC_SUBSCR_LEN] {
        self.encode_filter(self.filter.raw())
    }

    /// The bytes that cancel this subscription.
    pub fn encode_cancel(&self) -> [u8; TIPC_SUBSCR_LEN] {
        self.encode_filter(self.filter.raw() | TIPC_SUB_CANCEL)
    }

    fn encode_filter(&self, filter: u32) -> [u8; TIPC_SUBSCR_LEN] {
        let mut b = [0u8; TIPC_SUBSCR_LEN];
        put_u32(&mut b, 0, self.range.type_);
        put_u32(&mut b, 4, self.range.lower);
        put_u32(&mut b, 8, self.range.upper);
        put_u32(&mut b, 12, self.timeout_ms);
        put_u32(&mut b, 16, filter);
        b[20..28].copy_from_slice(&self.handle.to_ne_bytes());
        b
    }

    /// Parse a `struct tipc_subscr` in either byte order (see the module
    /// documentation).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != TIPC_SUBSCR_LEN {
            return Err(DecodeError::Length {
                what: "tipc_subscr",
                len: b.len(),
                expected: TIPC_SUBSCR_LEN,
            });
        }
        let order = Order::of_subscr(b);
        let filter = order.u32(b, 16) & !TIPC_SUB_CANCEL;
        let filter = match filter {
            TIPC_SUB_PORTS => Filter::Ports,
            TIPC_SUB_SERVICE => Filter::Service,
            other => return Err(DecodeError::Filter(other)),
        };
        let mut handle = [0u8; 8];
        handle.copy_from_slice(&b[20..28]);
        Ok(Self {
            range: ServiceRange::new(order.u32(b, 0), order.u32(b, 4), order.u32(b, 8)),
            filter,
            timeout_ms: order.u32(b, 12),
            handle: u64::from_ne_bytes(handle),
        })
    }
}

/// The byte order of a subscription as the kernel judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Native,
    Swapped,
}

impl Order {
    /// `tipc_sub_read()`'s test on the filter at offset 16.
    fn of_subscr(s: &[u8]) -> Self {
        if get_u32(s, 16) & TIPC_FILTER_MASK == 0 {
            Order::Swapped
        } else {
            Order::Native
        }
    }

    fn u32(self, b: &[u8], off: usize) -> u32 {
        let v = get_u32(b, off);
        match self {
            Order::Native => v,
            Order::Swapped => v.swap_bytes(),
        }
    }
}

/// One `struct tipc_event` from the topology server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopologyEvent {
    /// `TIPC_PUBLISHED`: a socket bound a range overlapping the
    /// subscription's.
    Published {
        /// The publication's range (type from the subscription).
        found: ServiceRange,
        /// The publishing socket; for node state, `node` is the node.
        publisher: SocketAddr,
        /// The subscription this answers, as sent.
        subscription: Subscription,
    },
    /// `TIPC_WITHDRAWN`: the publication is gone (unbound, socket closed,
    /// process dead, or its node lost).
    Withdrawn {
        /// The publication's range.
        found: ServiceRange,
        /// The socket that had published it.
        publisher: SocketAddr,
        /// The subscription this answers.
        subscription: Subscription,
    },
    /// `TIPC_SUBSCR_TIMEOUT`: the subscription expired and is inactive.
    SubscriptionTimeout {
        /// The subscription that expired.
        subscription: Subscription,
    },
}

impl TopologyEvent {
    /// Parse the 48 bytes of one event.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        if b.len() != TIPC_EVENT_LEN {
            return Err(DecodeError::Length {
                what: "tipc_event",
                len: b.len(),
                expected: TIPC_EVENT_LEN,
            });
        }
        let s = &b[20..TIPC_EVENT_LEN];
        let subscription = Subscription::decode(s)?;
        let order = Order::of_subscr(s);
        let found = ServiceRange::new(subscription.range.type_, order.u32(b, 4), order.u32(b, 8));
        let publisher = SocketAddr::new(order.u32(b, 12), order.u32(b, 16));
        match order.u32(b, 0) {
            TIPC_PUBLISHED => Ok(TopologyEvent::Published {
                found,
                publisher,
                subscription,
            }),
            TIPC_WITHDRAWN => Ok(TopologyEvent::Withdrawn {
                found,
                publisher,
                subscription,
            }),
            TIPC_SUBSCR_TIMEOUT => Ok(TopologyEvent::SubscriptionTimeout { subscription }),
            other => Err(DecodeError::Event(other)),
        }
    }

    /// The subscription the event answers.
    pub fn subscription(&self) -> &Subscription {
        match self {
            TopologyEvent::Published { subscription, .. }
            | TopologyEvent::Withdrawn { subscription, .. }
            | TopologyEvent::SubscriptionTimeout { subscription } => subscription,
        }
    }

    /// The publication's range and socket, unless this is a timeout.
    pub fn publication(&self) -> Option<(ServiceRange, SocketAddr)> {
        match *self {
            TopologyEvent::Published {
                found, publisher, ..
            }
            | TopologyEvent::Withdrawn {
                found, publisher, ..
            } => Some((found, publisher)),
            TopologyEvent::SubscriptionTimeout { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    struct CSubscr {
        seq: [u32; 3],
        timeout: u32,
        filter: u32,
        usr_handle: [u8; 8],
    }

    #[repr(C)]
    struct CEvent {
        event: u32,
        found_lower: u32,
        found_upper: u32,
        port: [u32; 2],
        s: CSubscr,
    }

    #[test]
    fn layouts_match_c() {
        use std::mem::{offset_of, size_of};
        assert_eq!(size_of::<CSubscr>(), TIPC_SUBSCR_LEN);
        assert_eq!(offset_of!(CSubscr, timeout), 12);
        assert_eq!(offset_of!(CSubscr, filter), 16);
        assert_eq!(offset_of!(CSubscr, usr_handle), 20);
        assert_eq!(size_of::<CEvent>(), TIPC_EVENT_LEN);
        assert_eq!(offset_of!(CEvent, found_lower), 4);
        assert_eq!(offset_of!(CEvent, found_upper), 8);
        assert_eq!(offset_of!(CEvent, port), 12);
        assert_eq!(offset_of!(CEvent, s), 20);
    }

    /// Subscription {1000, 1, 1}, forever, PORTS, handle 0x0807060504030201.
    #[cfg(target_endian = "little")]
    const SUB_LE: [u8; 28] = [
        0xe8, 0x03, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 1, 2, 3, 4,
        5, 6, 7, 8,
    ];

    #[cfg(target_endian = "little")]
    #[test]
    fn subscription_bytes() {
        let sub =
            Subscription::ports(ServiceRange::new(1000, 1, 1)).with_handle(0x0807_0605_0403_0201);
        assert_eq!(sub.encode(), SUB_LE);
        let mut cancel = SUB_LE;
        cancel[16] = 1 | 4;
        assert_eq!(sub.encode_cancel(), cancel);
        assert_eq!(Subscription::decode(&SUB_LE).unwrap(), sub);
        assert_eq!(Subscription::decode(&cancel).unwrap(), sub);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn node_subscription_bytes() {
        let sub = Subscription::nodes().with_handle(2);
        let b = sub.encode();
        assert_eq!(
            &b[..20],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]
        );
        let svc = Subscription::service(ServiceRange::all(64)).encode();
        assert_eq!(svc[16], 2);
    }

    /// PUBLISHED {1000,1,1} by <1001001:12345> for `SUB_LE`, as
    /// `tipc_sub_send_event()` writes it for a little-endian subscriber.
    #[cfg(target_endian = "little")]
    #[test]
    fn published_event_bytes() {
        let mut b = [0u8; 48];
        b[..20].copy_from_slice(&[
            1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x39, 0x30, 0, 0, 0x01, 0x10, 0x00, 0x01,
        ]);
        b[20..].copy_from_slice(&SUB_LE);
        let ev = TopologyEvent::decode(&b).unwrap();
        let sub =
            Subscription::ports(ServiceRange::new(1000, 1, 1)).with_handle(0x0807_0605_0403_0201);
        assert_eq!(
            ev,
            TopologyEvent::Published {
                found: ServiceRange::new(1000, 1, 1),
                publisher: SocketAddr::new(12345, 0x0100_1001),
                subscription: sub,
            }
        );
        assert_eq!(ev.subscription(), &sub);
        b[0] = 2;
        assert!(matches!(
            TopologyEvent::decode(&b).unwrap(),
            TopologyEvent::Withdrawn { .. }
        ));
    }

    /// A timeout carries the subscription's range and a zero port.
    #[test]
    fn timeout_event() {
        let sub = Subscription::service(ServiceRange::new(77, 0, 9))
            .with_timeout(Duration::from_millis(250))
            .with_handle(9);
        let mut b = [0u8; 48];
        put_u32(&mut b, 0, TIPC_SUBSCR_TIMEOUT);
        put_u32(&mut b, 4, 0);
        put_u32(&mut b, 8, 9);
        b[20..].copy_from_slice(&sub.encode());
        let ev = TopologyEvent::decode(&b).unwrap();
        assert_eq!(ev, TopologyEvent::SubscriptionTimeout { subscription: sub });
        assert_eq!(ev.publication(), None);
        assert_eq!(ev.subscription().timeout_ms, 250);
    }

    /// An event for a subscriber of the other endianness: every field
    /// swapped but the handle; decoded by the kernel's own rule.
    #[test]
    fn swapped_event() {
        let sub = Subscription::nodes().with_handle(5);
        let mut b = [0u8; 48];
        let fields = [TIPC_WITHDRAWN, 0x1234, 0x1234, 0, 0x1234];
        for (i, v) in fields.iter().enumerate() {
            put_u32(&mut b, i * 4, v.swap_bytes());
        }
        let native = sub.encode();
        for i in 0..5 {
            put_u32(&mut b, 20 + i * 4, get_u32(&native, i * 4).swap_bytes());
        }
        b[40..48].copy_from_slice(&native[20..28]);
        assert_eq!(
            TopologyEvent::decode(&b).unwrap(),
            TopologyEvent::Withdrawn {
                found: ServiceRange::new(0, 0x1234, 0x1234),
                publisher: SocketAddr::new(0, 0x1234),
                subscription: sub,
            }
        );
    }

    #[test]
    fn decode_rejects() {
        let sub = Subscription::nodes();
        let mut b = [0u8; 48];
        put_u32(&mut b, 0, 4);
        b[20..].copy_from_slice(&sub.encode());
        assert_eq!(TopologyEvent::decode(&b), Err(DecodeError::Event(4)));
        assert!(matches!(
            TopologyEvent::decode(&b[..47]),
            Err(DecodeError::Length { len: 47, .. })
        ));
        put_u32(&mut b, 36, TIPC_SUB_PORTS | TIPC_SUB_SERVICE);
        assert_eq!(TopologyEvent::decode(&b), Err(DecodeError::Filter(3)));
    }

    #[test]
    fn timeouts_saturate() {
        let sub = Subscription::nodes().with_timeout(Duration::from_secs(u64::MAX));
        assert_eq!(sub.timeout_ms, Subscription::FOREVER - 1);
        assert_eq!(Subscription::nodes().timeout_ms, u32::MAX);
        assert_eq!(Subscription::node(7).range, ServiceRange::new(0, 7, 7));
    }
}
