//! Replies of the generic netlink controller (`nlctrl`), which maps family
//! and multicast group names to the ids the kernel assigned at registration.

use crate::attr::{set_once, Attrs, ParseError};

// <linux/genetlink.h>; uapi, so stable.
pub(crate) const GENL_ID_CTRL: u16 = 0x10;
pub(crate) const CTRL_CMD_GETFAMILY: u8 = 3;
pub(crate) const CTRL_VERSION: u8 = 2;
pub(crate) const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub(crate) const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_ATTR_VERSION: u16 = 3;
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// A generic netlink family as the kernel registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The `nlmsg_type` of the family's messages.
    pub id: u16,
    /// The family's version (`genl_family.version`).
    pub version: u32,
    /// Multicast groups: name and the id to join.
    pub mcast_groups: Vec<(String, u32)>,
}

impl Family {
    /// Parses the attributes of an `nlctrl` `NEWFAMILY` reply.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut id = None;
        let mut version = None;
        let mut mcast_groups = Vec::new();
        for attr in Attrs::new(buf) {
            let attr = attr?;
            match attr.kind {
                CTRL_ATTR_FAMILY_ID => set_once(&mut id, attr.u16("family-id")?, "family-id")?,
                CTRL_ATTR_VERSION => set_once(&mut version, attr.u32("version")?, "version")?,
                CTRL_ATTR_MCAST_GROUPS => {
                    // An array: each element's type is its index.
                    for group in attr.nested() {
                        mcast_groups.push(parse_group(group?.payload)?);
                    }
                }
                _ => {}
            }
        }
        Ok(Family {
            id: id.ok_or(ParseError::Missing("family-id"))?,
            version: version.ok_or(ParseError::Missing("version"))?,
            mcast_groups,
        })
    }

    /// The id of multicast group `name`, to join with `NETLINK_ADD_MEMBERSHIP`.
    pub fn mcast_group(&self, name: &str) -> Option<u32> {
        self.mcast_groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }
}

fn parse_group(buf: &[u8]) -> Result<(String, u32), ParseError> {
    let mut name = None;
    let mut id = None;
    for attr in Attrs::new(buf) {
        let attr = attr?;
        match attr.kind {
            CTRL_ATTR_MCAST_GRP_NAME => set_once(
                &mut name,
                attr.string("mcast-grp-name")?.to_owned(),
                "mcast-grp-name",
            )?,
            CTRL_ATTR_MCAST_GRP_ID => set_once(&mut id, attr.u32("mcast-grp-id")?, "mcast-grp-id")?,
            _ => {}
        }
    }
    Ok((
        name.ok_or(ParseError::Missing("mcast-grp-name"))?,
        id.ok_or(ParseError::Missing("mcast-grp-id"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrWriter;

    #[test]
    fn parses_family_with_groups() {
        let mut w = AttrWriter::new();
        w.put_str(CTRL_ATTR_FAMILY_NAME, "hasync")
            .put(CTRL_ATTR_FAMILY_ID, &0x1au16.to_ne_bytes())
            .put_u32(CTRL_ATTR_VERSION, 1)
            .put_u32(4, 0) // hdrsize: not needed
            .nest(CTRL_ATTR_MCAST_GROUPS, |g| {
                g.nest(1, |e| {
                    e.put_u32(CTRL_ATTR_MCAST_GRP_ID, 9)
                        .put_str(CTRL_ATTR_MCAST_GRP_NAME, "acks");
                })
                .nest(2, |e| {
                    e.put_str(CTRL_ATTR_MCAST_GRP_NAME, "monitor")
                        .put_u32(CTRL_ATTR_MCAST_GRP_ID, 10);
                });
            });
        let f = Family::from_attrs(&w.finish().expect("small")).expect("valid");
        assert_eq!(f.id, 0x1a);
        assert_eq!(f.version, 1);
        assert_eq!(f.mcast_group("acks"), Some(9));
        assert_eq!(f.mcast_group("monitor"), Some(10));
        assert_eq!(f.mcast_group("nope"), None);
    }

    #[test]
    fn family_id_is_required() {
        let mut w = AttrWriter::new();
        w.put_u32(CTRL_ATTR_VERSION, 1);
        assert_eq!(
            Family::from_attrs(&w.finish().expect("small")),
            Err(ParseError::Missing("family-id"))
        );
    }
}
