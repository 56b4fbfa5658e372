// SPDX-License-Identifier: GPL-2.0

//! Turns the nested attributes of a request (ops, interface records,
//! addresses) into validated, fully allocated values, so that applying them
//! under a channel's lock cannot fail half-way.  Errors name the attribute
//! and point the extack at it.

use kernel::prelude::*;
use kernel::rbtree::RBTreeNode;

use crate::channel::{Op, Ops};
use crate::error::{fail, Failure, HResult};
use crate::hash::section_of;
use crate::nla::{Attr, Attrs};
use crate::record::{Addr, Iface, Name, RecordError, ADDRS_MAX};
use crate::uapi::{attr, OpKind};

/// Most ops one update may carry.
pub(crate) const MAX_OPS: usize = 64;

/// A record of a replay, ready for its staging tree: the offset of its
/// attribute is kept for errors found later.
pub(crate) struct Record {
    pub(crate) section: u32,
    pub(crate) name: Name,
    pub(crate) node: RBTreeNode<Name, Iface>,
    pub(crate) hash: u64,
    pub(crate) offset: usize,
}

fn record_error(e: RecordError, at: usize) -> Failure {
    let f = match e {
        RecordError::Mtu => fail!(EINVAL, Invalid, "iface mtu out of range 68..65535"),
        RecordError::Vlan => fail!(EINVAL, Invalid, "iface vlan out of range 0..4094"),
        RecordError::TooManyAddrs => fail!(E2BIG, Limit, "iface has more than {} addr", ADDRS_MAX),
        RecordError::DuplicateAddr => fail!(EINVAL, Invalid, "iface addr given twice"),
        RecordError::Desc => fail!(EINVAL, Invalid, "iface desc too long or contains NUL"),
    };
    f.at(at)
}

fn parse_addr(a: Attr<'_>) -> HResult<Addr> {
    let (mut family, mut prefix_len, mut bytes) = (None, None, None);
    for n in a.nested() {
        match n.kind {
            attr::addr::FAMILY => family = n.u8(),
            attr::addr::PREFIX_LEN => prefix_len = n.u8(),
            attr::addr::ADDRESS => bytes = Some(n.payload),
            _ => {}
        }
    }
    let (Some(family), Some(prefix_len), Some(bytes)) = (family, prefix_len, bytes) else {
        return Err(
            fail!(EINVAL, Invalid, "addr needs family, prefix-len and address").at(a.offset),
        );
    };
    Addr::new(family, prefix_len, bytes).ok_or_else(|| {
        fail!(
            EINVAL,
            Invalid,
            "addr: family {} with {} address bytes and prefix-len {}",
            family,
            bytes.len(),
            prefix_len
        )
        .at(a.offset)
    })
}

/// An `iface` nest: the whole record (omitted fields take their defaults).
pub(crate) fn parse_iface(a: Attr<'_>) -> HResult<(Name, Iface)> {
    let mut name = None;
    let mut rec = Iface::new_default();
    for n in a.nested() {
        match n.kind {
            attr::iface::NAME => {
                name = Some(Name::new(n.string()).ok_or_else(|| {
                    fail!(
                        EINVAL,
                        Invalid,
                        "iface name must be 1-15 printable bytes without '/'"
                    )
                    .at(n.offset)
                })?)
            }
            attr::iface::ADMIN_UP => rec.admin_up = n.u8() == Some(1),
            attr::iface::MTU => rec.mtu = n.u32().unwrap_or(0),
            attr::iface::MAC => {
                if n.payload.len() != 6 {
                    return Err(fail!(EINVAL, Invalid, "iface mac must be 6 bytes").at(n.offset));
                }
                rec.mac.copy_from_slice(n.payload);
            }
            attr::iface::VLAN => rec.vlan = n.u16().unwrap_or(u16::MAX),
            attr::iface::ADDR => {
                if rec.addrs.len() == ADDRS_MAX {
                    return Err(record_error(RecordError::TooManyAddrs, n.offset));
                }
                rec.addrs.push(parse_addr(n)?, GFP_KERNEL)?;
            }
            attr::iface::DESC => {
                let d = n.string();
                if d.len() > crate::record::DESC_MAX {
                    return Err(record_error(RecordError::Desc, n.offset));
                }
                rec.desc.extend_from_slice(d, GFP_KERNEL)?;
            }
            attr::iface::SPEED => rec.speed = n.u32().unwrap_or(0),
            // Section is reply-only; it is derived from the name.
            _ => {}
        }
    }
    let Some(name) = name else {
        return Err(fail!(EINVAL, Invalid, "iface without name").at(a.offset));
    };
    rec.seal(&name).map_err(|e| record_error(e, a.offset))?;
    Ok((name, rec))
}

/// A record ready to be staged into a channel of `nsections` sections.
pub(crate) fn parse_record(a: Attr<'_>, nsections: u32) -> HResult<Record> {
    let (name, rec) = parse_iface(a)?;
    let section = section_of(name.as_bytes(), nsections);
    let hash = rec.hash;
    let node = RBTreeNode::new(name, rec, GFP_KERNEL)?;
    Ok(Record {
        section,
        name,
        node,
        hash,
        offset: a.offset,
    })
}

fn parse_op(a: Attr<'_>, nsections: u32) -> HResult<Op> {
    let mut kind = None;
    let mut iface = None;
    for n in a.nested() {
        match n.kind {
            attr::op::KIND => {
                kind = Some(
                    n.u32()
                        .and_then(OpKind::from_u32)
                        .ok_or_else(|| fail!(EINVAL, Invalid, "op kind unknown").at(n.offset))?,
                )
            }
            attr::op::IFACE => iface = Some(n),
            _ => {}
        }
    }
    let (Some(kind), Some(iface)) = (kind, iface) else {
        return Err(fail!(EINVAL, Invalid, "op needs kind and iface").at(a.offset));
    };
    match kind {
        OpKind::Set => {
            let (name, rec) = parse_iface(iface)?;
            Ok(Op::Set {
                section: section_of(name.as_bytes(), nsections),
                name,
                rec,
                node: None,
            })
        }
        OpKind::Del => {
            let name = iface
                .nested()
                .find(|n| n.kind == attr::iface::NAME)
                .and_then(|n| Name::new(n.string()))
                .ok_or_else(|| {
                    fail!(EINVAL, Invalid, "del op needs a valid iface name").at(iface.offset)
                })?;
            Ok(Op::Del {
                section: section_of(name.as_bytes(), nsections),
                name,
            })
        }
    }
}

/// The `op` attributes of an update and the cookie they imply.
pub(crate) fn parse_ops(attrs: Attrs<'_>, nsections: u32) -> HResult<(Ops, u64)> {
    let ops_attrs = || attrs.clone().filter(|a| a.kind == attr::update::OP);
    let n = ops_attrs().count();
    if n > MAX_OPS {
        let at = ops_attrs().nth(MAX_OPS).map_or(0, |a| a.offset);
        return Err(fail!(
            E2BIG,
            Limit,
            "update carries {} op, more than {}",
            n,
            MAX_OPS
        )
        .at(at));
    }
    let mut cookie = 0u64;
    let mut parse = |a| -> HResult<Op> {
        let op = parse_op(a, nsections)?;
        cookie |= 1u64 << op.section();
        Ok(op)
    };
    let ops = match n {
        // The engine never sends one; an update that changes nothing but
        // the register is a malformed request, not a way to skip opids.
        0 => return Err(fail!(EINVAL, Invalid, "update carries no op")),
        1 => match ops_attrs().next() {
            Some(a) => Ops::One(parse(a)?),
            None => return Err(fail!(EINVAL, Invalid, "update carries no op")),
        },
        _ => {
            // One allocation, sized by the count above.
            let mut ops = KVec::with_capacity(n, GFP_KERNEL)?;
            for a in ops_attrs() {
                ops.push(parse(a)?, GFP_KERNEL)?;
            }
            Ops::Many(ops)
        }
    };
    Ok((ops, cookie))
}

/// The `iface` attributes of a replay-entries request.
pub(crate) fn parse_replay_records(attrs: Attrs<'_>, nsections: u32) -> HResult<KVec<Record>> {
    let mut out = KVec::new();
    for a in attrs.filter(|a| a.kind == attr::replay::IFACE) {
        out.push(parse_record(a, nsections)?, GFP_KERNEL)?;
    }
    Ok(out)
}
