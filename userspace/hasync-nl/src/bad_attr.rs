//! Naming the attribute an extended ACK points at.
//!
//! When the module's policy refuses a request it sends the offending
//! attribute's offset in the request (`NLMSGERR_ATTR_OFFS`) and often no
//! message that names it ("integer out of range"). The request is ours, so
//! walking its attributes to that offset, through the spec's nests, gives
//! the attribute's name: `sections`, `op.iface.name`.

use crate::attr::{align, NLA_HDRLEN};
use crate::generated::{attr, cmd};
use crate::nlmsg::{GENL_HDRLEN, NLMSG_HDRLEN};

/// The dotted spec path (`op.iface.name`) of the attribute of command
/// `command`'s request `attrs` at `offset`, counted from the netlink
/// header as the kernel counts it; `None` when the offset is not an
/// attribute's start or its set is unknown.
pub(crate) fn attr_path(command: u8, attrs: &[u8], offset: u32) -> Option<String> {
    let set = cmd::attribute_set(command)?;
    let target = usize::try_from(offset)
        .ok()?
        .checked_sub(NLMSG_HDRLEN + GENL_HDRLEN)?;
    let mut path = Vec::new();
    walk(set, attrs, target, &mut path)?;
    Some(path.join("."))
}

/// Finds the attribute starting at `target` (relative to `buf`) in the
/// attributes of `set` laid out in `buf`, pushing each name on the way.
fn walk(set: &str, buf: &[u8], target: usize, path: &mut Vec<&'static str>) -> Option<()> {
    let mut at = 0;
    while at + NLA_HDRLEN <= buf.len() && at <= target {
        let len = usize::from(u16::from_ne_bytes([buf[at], buf[at + 1]]));
        let kind = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]) & 0x3fff;
        if len < NLA_HDRLEN || at + len > buf.len() {
            return None;
        }
        let (name, nested) = attr::lookup(set, kind)?;
        if at == target {
            path.push(name);
            return Some(());
        }
        let payload = at + NLA_HDRLEN;
        if (payload..at + len).contains(&target) {
            path.push(name);
            return walk(nested?, &buf[payload..at + len], target - payload, path);
        }
        at += align(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrWriter;
    use crate::generated::attr::{channel, iface, op, update};

    const BASE: u32 = (NLMSG_HDRLEN + GENL_HDRLEN) as u32;

    #[test]
    fn names_a_top_level_attribute() {
        let mut w = AttrWriter::new();
        w.put_u32(channel::ID, 5);
        w.put_u32(channel::SECTIONS, 0);
        let attrs = w.finish().expect("fits");
        assert_eq!(attr_path(cmd::CHANNEL_NEW, &attrs, BASE), Some("id".into()));
        assert_eq!(
            attr_path(cmd::CHANNEL_NEW, &attrs, BASE + 8),
            Some("sections".into())
        );
        // Not an attribute's start, past the end, before the attributes.
        assert_eq!(attr_path(cmd::CHANNEL_NEW, &attrs, BASE + 2), None);
        assert_eq!(attr_path(cmd::CHANNEL_NEW, &attrs, BASE + 16), None);
        assert_eq!(attr_path(cmd::CHANNEL_NEW, &attrs, 3), None);
    }

    #[test]
    fn follows_nests_to_the_attribute() {
        let mut w = AttrWriter::new();
        w.put_u32(update::CHANNEL, 1);
        w.nest(update::OP, |o| {
            o.put_u32(op::KIND, 1);
            o.nest(op::IFACE, |i| {
                i.put_str(iface::NAME, "eth0");
            });
        });
        let attrs = w.finish().expect("fits");
        // channel (8) | op hdr (4) | kind (8) | iface hdr (4) | name
        assert_eq!(
            attr_path(cmd::UPDATE, &attrs, BASE + 24),
            Some("op.iface.name".into())
        );
        assert_eq!(attr_path(cmd::UPDATE, &attrs, BASE + 8), Some("op".into()));
        assert_eq!(
            attr_path(cmd::UPDATE, &attrs, BASE + 12),
            Some("op.kind".into())
        );
    }

    #[test]
    fn garbage_finds_nothing() {
        assert_eq!(attr_path(cmd::UPDATE, &[1, 0, 1, 0], BASE), None);
        assert_eq!(attr_path(cmd::UPDATE, &[], BASE), None);
        assert_eq!(attr_path(200, &[8, 0, 1, 0, 0, 0, 0, 0], BASE), None);
    }
}
