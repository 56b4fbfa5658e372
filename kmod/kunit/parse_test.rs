// SPDX-License-Identifier: GPL-2.0

//! Requests' nested attributes turned into ops: the cookie they imply, and
//! the limits on ops and addresses.

use kernel::prelude::*;

use super::{check, check_eq, errno, kunit_suite, must, Test};
use crate::channel::Ops;
use crate::nla::Attrs;
use crate::parse::parse_ops;
use crate::uapi::{attr, OpKind};

/// Netlink attributes built by hand, as a sender would.
pub(crate) struct Buf(pub(crate) KVec<u8>);

impl Buf {
    pub(crate) fn new() -> Self {
        Buf(KVec::new())
    }

    pub(crate) fn put(&mut self, kind: u16, payload: &[u8]) -> Option<&mut Self> {
        let len = u16::try_from(4 + payload.len()).ok()?;
        self.0
            .extend_from_slice(&len.to_ne_bytes(), GFP_KERNEL)
            .ok()?;
        self.0
            .extend_from_slice(&kind.to_ne_bytes(), GFP_KERNEL)
            .ok()?;
        self.0.extend_from_slice(payload, GFP_KERNEL).ok()?;
        while self.0.len() % 4 != 0 {
            self.0.push(0, GFP_KERNEL).ok()?;
        }
        Some(self)
    }

    pub(crate) fn nest(&mut self, kind: u16, inner: &Buf) -> Option<&mut Self> {
        self.put(kind | 1 << 15, &inner.0)
    }

    pub(crate) fn attrs(&self) -> Attrs<'_> {
        Attrs::new(&self.0)
    }
}

/// An `op` nest setting `name` with `addrs` IPv4 addresses.
pub(crate) fn set_op(name: &[u8], addrs: u8) -> Option<Buf> {
    let mut iface = Buf::new();
    let mut n = KVec::new();
    n.extend_from_slice(name, GFP_KERNEL).ok()?;
    n.push(0, GFP_KERNEL).ok()?;
    iface.put(attr::iface::NAME, &n)?;
    for i in 0..addrs {
        let mut a = Buf::new();
        a.put(attr::addr::FAMILY, &[4])?;
        a.put(attr::addr::PREFIX_LEN, &[32])?;
        a.put(attr::addr::ADDRESS, &[10, 0, 0, i])?;
        iface.nest(attr::iface::ADDR, &a)?;
    }
    let mut op = Buf::new();
    op.put(attr::op::KIND, &(OpKind::Set as u32).to_ne_bytes())?;
    op.nest(attr::op::IFACE, &iface)?;
    Some(op)
}

fn cookie_from_ops(t: &Test) {
    let mut req = Buf::new();
    must!(t, req.put(attr::update::CHANNEL, &1u32.to_ne_bytes()));
    must!(t, req.nest(attr::update::OP, &must!(t, set_op(b"eth0", 2))));
    must!(t, req.nest(attr::update::OP, &must!(t, set_op(b"eth1", 0))));
    let (mut ops, cookie) = must!(t, parse_ops(req.attrs(), 64));
    check_eq!(t, ops.as_mut_slice().len(), 2);
    check_eq!(t, cookie, 1u64 << 4 | 1u64 << 55);
}

fn limits(t: &Test) {
    let mut req = Buf::new();
    for _ in 0..65 {
        must!(t, req.nest(attr::update::OP, &must!(t, set_op(b"eth0", 0))));
    }
    check_eq!(t, errno(&parse_ops(req.attrs(), 64)), E2BIG.to_errno());
    let mut req = Buf::new();
    must!(
        t,
        req.nest(attr::update::OP, &must!(t, set_op(b"eth0", 17)))
    );
    check_eq!(t, errno(&parse_ops(req.attrs(), 64)), E2BIG.to_errno());
    let mut req = Buf::new();
    must!(
        t,
        req.nest(attr::update::OP, &must!(t, set_op(b"eth0", 16)))
    );
    let (mut one, _) = must!(t, parse_ops(req.attrs(), 64));
    check!(
        t,
        matches!(one, Ops::One(_)) && one.as_mut_slice().len() == 1
    );
    // No op at all is malformed, and so is a name with a '/'.
    check_eq!(
        t,
        errno(&parse_ops(Buf::new().attrs(), 64)),
        EINVAL.to_errno()
    );
    let mut req = Buf::new();
    must!(t, req.nest(attr::update::OP, &must!(t, set_op(b"a/b", 0))));
    check_eq!(t, errno(&parse_ops(req.attrs(), 64)), EINVAL.to_errno());
}

kunit_suite!("hasync_parse", [cookie_from_ops, limits]);
