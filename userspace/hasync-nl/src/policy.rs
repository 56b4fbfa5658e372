//! What the loaded module accepts: the attribute types of a command's
//! policy, read from the generic netlink controller (`GETPOLICY`), so that
//! this client sends a newer module's attributes only to a module that
//! has them.

use std::collections::BTreeSet;

use crate::attr::{AttrWriter, Attrs, ParseError};
use crate::client::Client;
use crate::ctrl::{CTRL_ATTR_FAMILY_ID, CTRL_VERSION, GENL_ID_CTRL};
use crate::error::Error;
use crate::nlmsg::flags;

// <linux/genetlink.h>; uapi, so stable.
const CTRL_CMD_GETPOLICY: u8 = 10;
const CTRL_ATTR_POLICY: u16 = 8;
const CTRL_ATTR_OP_POLICY: u16 = 9;
const CTRL_ATTR_OP: u16 = 10;
const CTRL_ATTR_POLICY_DO: u16 = 1;

/// The attributes a command's `do` accepts, gathered from the messages of
/// a `GETPOLICY` dump for that command.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpPolicy {
    do_policy: Option<u32>,
    /// Attribute types of each policy table the dump listed.
    tables: Vec<(u32, u16)>,
}

impl OpPolicy {
    /// Adds one message of the dump for command `cmd`.
    pub fn add_message(&mut self, cmd: u8, buf: &[u8]) -> Result<(), ParseError> {
        for a in Attrs::new(buf) {
            let a = a?;
            match a.kind {
                // An array indexed by command: the policy tables of each.
                CTRL_ATTR_OP_POLICY => {
                    for op in a.nested() {
                        let op = op?;
                        if op.kind != u16::from(cmd) {
                            continue;
                        }
                        for p in op.nested() {
                            let p = p?;
                            if p.kind == CTRL_ATTR_POLICY_DO {
                                self.do_policy = Some(p.u32("policy-do")?);
                            }
                        }
                    }
                }
                // An array of tables, each an array indexed by attribute.
                CTRL_ATTR_POLICY => {
                    for table in a.nested() {
                        let table = table?;
                        for attr in table.nested() {
                            self.tables.push((u32::from(table.kind), attr?.kind));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The attribute types the command's `do` accepts at its top level.
    pub fn do_attrs(&self) -> BTreeSet<u16> {
        self.tables
            .iter()
            .filter(|(t, _)| Some(*t) == self.do_policy)
            .map(|&(_, a)| a)
            .collect()
    }
}

impl Client {
    /// Whether the module's `do` of `cmd` accepts attribute `attr`; asked
    /// of the kernel once per command and remembered.
    pub fn accepts(&mut self, cmd: u8, attr: u16) -> Result<bool, Error> {
        if let Some(attrs) = self.policies.get(&cmd) {
            return Ok(attrs.contains(&attr));
        }
        let mut w = AttrWriter::new();
        w.put_u16(CTRL_ATTR_FAMILY_ID, self.family().id)
            .put_u32(CTRL_ATTR_OP, u32::from(cmd));
        let req = w.finish()?;
        let mut policy = OpPolicy::default();
        self.genl.transact_with(
            GENL_ID_CTRL,
            flags::DUMP,
            CTRL_CMD_GETPOLICY,
            CTRL_VERSION,
            &req,
            |_, attrs| Ok(policy.add_message(cmd, attrs)?),
        )?;
        let attrs = policy.do_attrs();
        let yes = attrs.contains(&attr);
        self.policies.insert(cmd, attrs);
        Ok(yes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{raw, raw_nest};

    #[test]
    fn do_policy_attrs() {
        // Command 5 uses table 2 for do; tables 1 and 2 are listed.
        let mut op = Vec::new();
        raw(&mut op, CTRL_ATTR_POLICY_DO, &2u32.to_ne_bytes());
        let mut ops = Vec::new();
        raw_nest(&mut ops, 5, &op);
        let mut m1 = Vec::new();
        raw_nest(&mut m1, CTRL_ATTR_OP_POLICY, &ops);
        let table = |attrs: &[u16]| {
            let mut t = Vec::new();
            for &a in attrs {
                raw_nest(&mut t, a, &[]);
            }
            t
        };
        let mut tables = Vec::new();
        raw_nest(&mut tables, 1, &table(&[1, 2]));
        raw_nest(&mut tables, 2, &table(&[1, 2, 3, 7]));
        let mut m2 = Vec::new();
        raw_nest(&mut m2, CTRL_ATTR_POLICY, &tables);
        let mut p = OpPolicy::default();
        p.add_message(5, &m1).expect("valid");
        p.add_message(5, &m2).expect("valid");
        assert_eq!(p.do_attrs(), BTreeSet::from([1, 2, 3, 7]));
        let mut other = OpPolicy::default();
        other.add_message(4, &m1).expect("valid");
        other.add_message(4, &m2).expect("valid");
        assert!(other.do_attrs().is_empty());
    }
}
