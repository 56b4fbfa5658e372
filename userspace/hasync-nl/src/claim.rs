//! `claim`: raise the owner epoch of channels, fencing older owners.

use serde::Serialize;

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::Client;
use crate::error::Error;
use crate::generated::{attr::channel, attr::claimed, cmd};

/// Which channels a claim takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimTarget {
    /// Every existing channel.
    All,
    /// These channels.
    Ids(Vec<u32>),
}

/// One channel a claim took, with its register: the kernel's word on which
/// updates it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claimed {
    /// Channel id.
    pub id: u32,
    /// Acked-opid register.
    pub register: u64,
    /// Owner epoch now.
    pub epoch: u32,
}

impl Claimed {
    /// Parses the attributes of a `claimed` nest.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut id = None;
        let mut register = None;
        let mut epoch = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = claimed::name(a.kind).unwrap_or("?");
            match a.kind {
                claimed::ID => set_once(&mut id, a.u32(n)?, n)?,
                claimed::REGISTER => set_once(&mut register, a.uint(n)?, n)?,
                claimed::EPOCH => set_once(&mut epoch, a.u32(n)?, n)?,
                _ => {}
            }
        }
        Ok(Claimed {
            id: id.ok_or(ParseError::Missing("id"))?,
            register: register.ok_or(ParseError::Missing("register"))?,
            epoch: epoch.ok_or(ParseError::Missing("epoch"))?,
        })
    }
}

/// The attributes of a `claim` request.
pub fn encode_claim(epoch: u32, target: &ClaimTarget) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    match target {
        ClaimTarget::All => {
            w.put_flag(channel::ALL);
        }
        ClaimTarget::Ids(ids) => {
            for &id in ids {
                w.put_u32(channel::ID, id);
            }
        }
    }
    w.put_u32(channel::EPOCH, epoch);
    Ok(w.finish()?)
}

/// Parses a `claim` reply: one `claimed` nest per channel.
pub fn parse_claim_reply(buf: &[u8]) -> Result<Vec<Claimed>, ParseError> {
    let mut out = Vec::new();
    for a in Attrs::new(buf) {
        let a = a?;
        if a.kind == channel::CLAIMED {
            out.push(Claimed::from_attrs(a.payload)?);
        }
    }
    Ok(out)
}

impl Client {
    /// Raises the owner epoch of `target` to `epoch`; `ESTALE` (and
    /// nothing changed) if a named channel's epoch is higher.
    pub fn claim(&mut self, epoch: u32, target: &ClaimTarget) -> Result<Vec<Claimed>, Error> {
        let attrs = self.call(cmd::CLAIM, &encode_claim(epoch, target)?)?;
        Ok(parse_claim_reply(&attrs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::tests::{raw, raw_nest};

    #[test]
    fn request_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 9, &[]);
        raw(&mut want, 5, &4u32.to_ne_bytes());
        assert_eq!(encode_claim(4, &ClaimTarget::All).expect("small"), want);
        let mut want = Vec::new();
        raw(&mut want, 1, &1u32.to_ne_bytes());
        raw(&mut want, 1, &2u32.to_ne_bytes());
        raw(&mut want, 5, &4u32.to_ne_bytes());
        assert_eq!(
            encode_claim(4, &ClaimTarget::Ids(vec![1, 2])).expect("small"),
            want
        );
    }

    #[test]
    fn reply_parsing() {
        let mut b = Vec::new();
        for (id, reg) in [(1u32, 5u64), (2, 1 << 35)] {
            let mut c = Vec::new();
            raw(&mut c, 1, &id.to_ne_bytes());
            raw(&mut c, 2, &reg.to_ne_bytes());
            raw(&mut c, 3, &4u32.to_ne_bytes());
            raw_nest(&mut b, 10, &c);
        }
        let got = parse_claim_reply(&b).expect("valid");
        assert_eq!(
            got,
            vec![
                Claimed {
                    id: 1,
                    register: 5,
                    epoch: 4
                },
                Claimed {
                    id: 2,
                    register: 1 << 35,
                    epoch: 4
                },
            ]
        );
        assert_eq!(parse_claim_reply(&[]), Ok(vec![]));
        let mut c = Vec::new();
        raw(&mut c, 1, &1u32.to_ne_bytes());
        raw(&mut c, 3, &4u32.to_ne_bytes());
        let mut b = Vec::new();
        raw_nest(&mut b, 10, &c);
        assert_eq!(parse_claim_reply(&b), Err(ParseError::Missing("register")));
    }
}
