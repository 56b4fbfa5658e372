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
    /// Epoch of the update that set the register (`None` from a module
    /// that does not report it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_epoch: Option<u32>,
}

impl Claimed {
    /// Parses the attributes of a `claimed` nest.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut id = None;
        let mut register = None;
        let mut epoch = None;
        let mut register_epoch = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = claimed::name(a.kind).unwrap_or("?");
            match a.kind {
                claimed::ID => set_once(&mut id, a.u32(n)?, n)?,
                claimed::REGISTER => set_once(&mut register, a.uint(n)?, n)?,
                claimed::EPOCH => set_once(&mut epoch, a.u32(n)?, n)?,
                claimed::REGISTER_EPOCH => set_once(&mut register_epoch, a.u32(n)?, n)?,
                _ => {}
            }
        }
        Ok(Claimed {
            id: id.ok_or(ParseError::Missing("id"))?,
            register: register.ok_or(ParseError::Missing("register"))?,
            epoch: epoch.ok_or(ParseError::Missing("epoch"))?,
            register_epoch,
        })
    }
}

/// The attributes of a `claim` request; a `brief` one is answered with
/// the number of channels claimed only.
pub fn encode_claim(epoch: u32, target: &ClaimTarget, brief: bool) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    if brief {
        w.put_flag(channel::BRIEF);
    }
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

/// Parses a brief `claim` reply: the number of channels claimed.
pub fn parse_brief_claim_reply(buf: &[u8]) -> Result<u32, ParseError> {
    let mut count = None;
    for a in Attrs::new(buf) {
        let a = a?;
        let n = channel::name(a.kind).unwrap_or("?");
        if a.kind == channel::CLAIMED_COUNT {
            set_once(&mut count, a.u32(n)?, n)?;
        }
    }
    count.ok_or(ParseError::Missing("claimed-count"))
}

impl Client {
    /// Raises the owner epoch of `target` to `epoch`; `ESTALE` (and
    /// nothing changed) if a named channel's epoch is higher. The reply
    /// lists every channel: at most about 1 600 fit it (`EMSGSIZE`, and
    /// nothing changed, past that); [`Client::claim_brief`] takes any
    /// number.
    pub fn claim(&mut self, epoch: u32, target: &ClaimTarget) -> Result<Vec<Claimed>, Error> {
        let attrs = self.call(cmd::CLAIM, &encode_claim(epoch, target, false)?)?;
        Ok(parse_claim_reply(&attrs)?)
    }

    /// Raises the owner epoch of `target` to `epoch`, all or nothing as
    /// [`Client::claim`], whatever the number of channels; returns how
    /// many were claimed. Read their registers with
    /// [`Client::channels_brief`].
    pub fn claim_brief(&mut self, epoch: u32, target: &ClaimTarget) -> Result<u32, Error> {
        let attrs = self.call(cmd::CLAIM, &encode_claim(epoch, target, true)?)?;
        Ok(parse_brief_claim_reply(&attrs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{raw, raw_nest};

    #[test]
    fn request_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 9, &[]);
        raw(&mut want, 5, &4u32.to_ne_bytes());
        assert_eq!(
            encode_claim(4, &ClaimTarget::All, false).expect("small"),
            want
        );
        let mut brief = Vec::new();
        raw(&mut brief, 12, &[]);
        brief.extend_from_slice(&want);
        assert_eq!(
            encode_claim(4, &ClaimTarget::All, true).expect("small"),
            brief
        );
        let mut want = Vec::new();
        raw(&mut want, 1, &1u32.to_ne_bytes());
        raw(&mut want, 1, &2u32.to_ne_bytes());
        raw(&mut want, 5, &4u32.to_ne_bytes());
        assert_eq!(
            encode_claim(4, &ClaimTarget::Ids(vec![1, 2]), false).expect("small"),
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
                    epoch: 4,
                    register_epoch: None,
                },
                Claimed {
                    id: 2,
                    register: 1 << 35,
                    epoch: 4,
                    register_epoch: None,
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
        let mut b = Vec::new();
        raw(&mut b, 13, &4096u32.to_ne_bytes());
        raw(&mut b, 5, &4u32.to_ne_bytes());
        assert_eq!(parse_brief_claim_reply(&b), Ok(4096));
        assert_eq!(
            parse_brief_claim_reply(&[]),
            Err(ParseError::Missing("claimed-count"))
        );
    }
}
