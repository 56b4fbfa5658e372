//! The hasync client: one generic netlink socket bound to the family.
//!
//! Each command's request and reply types live in a module of their own
//! ([`crate::channel`], [`crate::update`], …), which adds its methods to
//! [`Client`]; this file holds what they share.

use std::collections::{BTreeMap, BTreeSet};

use crate::attr::ParseError;
use crate::bad_attr::attr_path;
use crate::ctrl::Family;
use crate::error::{Error, KernelError};
use crate::generated::{cmd, FAMILY_NAME, FAMILY_VERSION};
use crate::genl::{expect_cmd, Genl, Outcome, Request};
use crate::info::Info;
use crate::nlmsg::flags;

/// A connection to the hasync kernel module.
pub struct Client {
    pub(crate) genl: Genl,
    family: Family,
    /// Attributes each command's `do` accepts, as the module said.
    pub(crate) policies: BTreeMap<u8, BTreeSet<u16>>,
    /// Whether update runs are answered by one ACK (see `batch`).
    pub(crate) coalesce: bool,
}

impl Client {
    /// Opens a generic netlink socket and looks up the hasync family.
    pub fn connect() -> Result<Self, Error> {
        let mut genl = Genl::open()?;
        let family = genl.resolve(FAMILY_NAME)?;
        Ok(Client {
            genl,
            family,
            policies: BTreeMap::new(),
            coalesce: true,
        })
    }

    /// The family as the kernel registered it (id, multicast groups).
    pub fn family(&self) -> &Family {
        &self.family
    }

    /// Bytes received on this client's socket so far (for benchmarks).
    pub fn rx_bytes(&self) -> u64 {
        self.genl.rx_bytes()
    }

    /// Runs a `do` command that answers with one message; returns the
    /// message's attributes.
    pub(crate) fn call(&mut self, cmd: u8, attrs: &[u8]) -> Result<Vec<u8>, Error> {
        let replies = self
            .genl
            .transact(self.family.id, flags::ACK, cmd, FAMILY_VERSION, attrs)
            .map_err(|e| name_bad_attr(e, cmd, attrs))?;
        let what = cmd::name(cmd).unwrap_or("request");
        let (got, attrs) = replies.into_iter().next().ok_or(Error::NoReply(what))?;
        expect_cmd(cmd, got)?;
        Ok(attrs)
    }

    /// Runs a `do` command that answers with an ACK only.
    pub(crate) fn call_ack(&mut self, cmd: u8, attrs: &[u8]) -> Result<(), Error> {
        self.genl
            .transact(self.family.id, flags::ACK, cmd, FAMILY_VERSION, attrs)
            .map(drop)
            .map_err(|e| name_bad_attr(e, cmd, attrs))
    }

    /// Runs a `dump` command, handing each message's attributes to `each`.
    pub(crate) fn dump(
        &mut self,
        cmd: u8,
        attrs: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.genl
            .transact_with(
                self.family.id,
                flags::DUMP,
                cmd,
                FAMILY_VERSION,
                attrs,
                |got, attrs| {
                    expect_cmd(cmd, got)?;
                    each(attrs)
                },
            )
            .map_err(|e| name_bad_attr(e, cmd, attrs))
    }

    /// A request of this family for [`Client::pipeline`].
    pub(crate) fn request(&self, cmd: u8, with_ack: bool, attrs: Vec<u8>) -> Request {
        Request {
            nl_type: self.family.id,
            flags: if with_ack { flags::ACK } else { 0 },
            cmd,
            version: FAMILY_VERSION,
            attrs,
            quiet: false,
        }
    }

    /// Sends many requests together; see [`Genl::pipeline`].
    pub(crate) fn pipeline(&mut self, reqs: &[Request]) -> Result<Vec<Outcome>, Error> {
        let mut out = self.genl.pipeline(reqs)?;
        for (o, r) in out.iter_mut().zip(reqs) {
            if let Outcome::Failed(k) = o {
                name_in(k, r.cmd, &r.attrs);
            }
        }
        Ok(out)
    }

    /// The module's version, limits and current counts.
    pub fn info(&mut self) -> Result<Info, Error> {
        let attrs = self.call(cmd::INFO, &[])?;
        Ok(Info::from_attrs(&attrs)?)
    }
}

/// Names the attribute a refusal of request `cmd` with `attrs` points at.
fn name_bad_attr(e: Error, cmd: u8, attrs: &[u8]) -> Error {
    match e {
        Error::Kernel(mut k) => {
            name_in(&mut k, cmd, attrs);
            Error::Kernel(k)
        }
        e => e,
    }
}

fn name_in(k: &mut KernelError, cmd: u8, attrs: &[u8]) {
    if let Some(offset) = k.bad_offset {
        k.bad_attr = attr_path(cmd, attrs, offset);
    }
}

/// A reply's attributes, after checking it answers command `cmd`.
pub(crate) fn data_of(
    cmd: u8,
    outcome: Outcome,
) -> Result<Result<Vec<u8>, crate::KernelError>, Error> {
    match outcome {
        Outcome::Data(got, attrs) => {
            expect_cmd(cmd, got)?;
            Ok(Ok(attrs))
        }
        Outcome::Failed(e) => Ok(Err(e)),
        Outcome::Ack | Outcome::Quiet => Err(Error::NoReply(cmd::name(cmd).unwrap_or("request"))),
    }
}

/// Fails with [`ParseError::Invalid`] unless a reply echoes the request's
/// value of `attr`.
pub(crate) fn check_echo<T: PartialEq>(
    attr: &'static str,
    sent: T,
    got: T,
) -> Result<(), ParseError> {
    if sent == got {
        Ok(())
    } else {
        Err(ParseError::Invalid {
            attr,
            why: "does not match the request",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelError;

    #[test]
    fn pipelined_outcomes_map_to_results() {
        assert_eq!(
            data_of(cmd::UPDATE, Outcome::Data(cmd::UPDATE, vec![1])).ok(),
            Some(Ok(vec![1]))
        );
        let e = KernelError::new(71);
        assert_eq!(
            data_of(cmd::UPDATE, Outcome::Failed(e.clone())).ok(),
            Some(Err(e))
        );
        assert!(matches!(
            data_of(cmd::UPDATE, Outcome::Data(cmd::INFO, vec![])),
            Err(Error::Reply(ParseError::UnexpectedCmd {
                expected: cmd::UPDATE,
                got: cmd::INFO
            }))
        ));
        assert!(matches!(
            data_of(cmd::UPDATE, Outcome::Ack),
            Err(Error::NoReply("update"))
        ));
        assert_eq!(check_echo("channel", 1, 1), Ok(()));
        assert!(check_echo("channel", 1, 2).is_err());
    }
}
