//! The generic netlink socket and the hasync client on top of it.

use std::io;

use neli::{
    consts::{
        nl::{NlmF, Nlmsg, NlmsgerrAttr},
        socket::NlFamily,
    },
    err::SocketError,
    nl::{NlPayload, NlmsghdrBuilder},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, GenlBuffer},
    utils::Groups,
};

use crate::attr::{Attr, AttrWriter, ParseError};
use crate::ctrl::{Family, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, CTRL_VERSION, GENL_ID_CTRL};
use crate::error::{Error, KernelError};
use crate::generated::{cmd, FAMILY_NAME, FAMILY_VERSION};
use crate::info::Info;

/// `struct genlmsghdr`: cmd, version, two reserved bytes.
const GENL_HDRLEN: usize = 4;

// <linux/netlink.h> extended ACK attributes.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

fn socket_error(e: SocketError) -> Error {
    Error::Socket(match e {
        SocketError::Io(io) => match io.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(io.kind(), io.to_string()),
        },
        other => io::Error::other(other.to_string()),
    })
}

fn kernel_error(code: i32, ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>) -> KernelError {
    let mut err = KernelError {
        errno: -code,
        message: None,
        missing_attr: None,
    };
    for attr in ext_ack.iter() {
        let attr = Attr {
            kind: u16::from(*attr.nla_type().nla_type()),
            payload: attr.nla_payload().as_ref(),
        };
        // A garbled extack must not hide the errno it came with.
        match attr.kind {
            NLMSGERR_ATTR_MSG => err.message = attr.string("msg").ok().map(str::to_owned),
            NLMSGERR_ATTR_MISS_TYPE => err.missing_attr = attr.u32("miss-type").ok(),
            _ => {}
        }
    }
    err
}

/// The genetlink header's command and the attributes after it.
fn split_genl(payload: &[u8]) -> Result<(u8, &[u8]), ParseError> {
    match (payload.first(), payload.get(GENL_HDRLEN..)) {
        (Some(&cmd), Some(attrs)) => Ok((cmd, attrs)),
        _ => Err(ParseError::ShortHeader(payload.len())),
    }
}

/// A blocking generic netlink socket: one request in flight at a time.
pub(crate) struct Genl {
    sock: NlSocketHandle,
    seq: u32,
}

impl Genl {
    pub(crate) fn open() -> Result<Self, Error> {
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(socket_error)?;
        // Extended ACKs carry the kernel's explanation of an error. Kernels
        // before 4.12 lack the option and still work without it.
        let _ = sock.enable_ext_ack(true);
        Ok(Genl { sock, seq: 0 })
    }

    fn next_seq(&mut self) -> u32 {
        // Notifications carry sequence 0; a request never does.
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends one request and returns the genetlink payloads of the replies
    /// that arrive before its ACK (or, for a dump, its DONE).
    pub(crate) fn transact(
        &mut self,
        nl_type: u16,
        flags: NlmF,
        cmd: u8,
        version: u8,
        attrs: &[u8],
    ) -> Result<Vec<Buffer>, Error> {
        let seq = self.next_seq();
        let mut payload = Vec::with_capacity(GENL_HDRLEN + attrs.len());
        payload.extend_from_slice(&[cmd, version, 0, 0]);
        payload.extend_from_slice(attrs);
        let msg = NlmsghdrBuilder::default()
            .nl_type(nl_type)
            .nl_flags(NlmF::REQUEST | NlmF::ACK | flags)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(Buffer::from(payload)))
            .build()
            .map_err(|e| Error::Socket(io::Error::other(e.to_string())))?;
        self.sock.send(&msg).map_err(socket_error)?;

        let mut replies = Vec::new();
        loop {
            let (msgs, _) = self.sock.recv::<u16, Buffer>().map_err(socket_error)?;
            for msg in msgs {
                let msg = msg.map_err(socket_error)?;
                if *msg.nl_seq() != seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match msg.nl_payload() {
                    NlPayload::Payload(p) => replies.push(p.clone()),
                    NlPayload::Ack(_) => return Ok(replies),
                    NlPayload::Err(e) => return Err(kernel_error(*e.error(), e.ext_ack()).into()),
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(kernel_error(*e.error(), e.ext_ack()).into())
                    }
                    NlPayload::DumpExtAck(_) => return Ok(replies),
                    NlPayload::Empty if *msg.nl_type() == u16::from(Nlmsg::Done) => {
                        return Ok(replies)
                    }
                    NlPayload::Empty => {}
                }
            }
        }
    }

    /// Looks up a family by name.
    pub(crate) fn resolve(&mut self, name: &str) -> Result<Family, Error> {
        let mut w = AttrWriter::new();
        w.put_str(CTRL_ATTR_FAMILY_NAME, name);
        let attrs = w.finish()?;
        let replies = match self.transact(
            GENL_ID_CTRL,
            NlmF::empty(),
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
            &attrs,
        ) {
            Err(Error::Kernel(k))
                if io::Error::from_raw_os_error(k.errno).kind() == io::ErrorKind::NotFound =>
            {
                return Err(Error::FamilyNotFound(name.to_owned()))
            }
            other => other?,
        };
        let reply = replies.first().ok_or(Error::NoReply("getfamily"))?;
        let (_, attrs) = split_genl(reply.as_ref())?;
        Ok(Family::from_attrs(attrs)?)
    }
}

/// A connection to the hasync kernel module.
pub struct Client {
    genl: Genl,
    family: Family,
}

impl Client {
    /// Opens a generic netlink socket and looks up the hasync family.
    pub fn connect() -> Result<Self, Error> {
        let mut genl = Genl::open()?;
        let family = genl.resolve(FAMILY_NAME)?;
        Ok(Client { genl, family })
    }

    /// The family as the kernel registered it (id, multicast groups).
    pub fn family(&self) -> &Family {
        &self.family
    }

    /// Runs a `do` command that answers with one message; returns the
    /// message's attributes.
    fn call(&mut self, cmd: u8, attrs: &[u8]) -> Result<Vec<u8>, Error> {
        let replies =
            self.genl
                .transact(self.family.id, NlmF::empty(), cmd, FAMILY_VERSION, attrs)?;
        let what = cmd::name(cmd).unwrap_or("request");
        let reply = replies.first().ok_or(Error::NoReply(what))?;
        let (got, attrs) = split_genl(reply.as_ref())?;
        if got != cmd {
            return Err(ParseError::UnexpectedCmd { expected: cmd, got }.into());
        }
        Ok(attrs.to_vec())
    }

    /// The module's version, limits and current counts.
    pub fn info(&mut self) -> Result<Info, Error> {
        let attrs = self.call(cmd::INFO, &[])?;
        Ok(Info::from_attrs(&attrs)?)
    }
}

/// These talk to the running kernel's `nlctrl`, which every kernel with
/// generic netlink has; they skip where netlink sockets are forbidden.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctrl::CTRL_ATTR_FAMILY_ID;

    fn open() -> Option<Genl> {
        match Genl::open() {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("skipped, no generic netlink socket: {e}");
                None
            }
        }
    }

    #[test]
    fn resolves_nlctrl() {
        let Some(mut g) = open() else { return };
        let f = g.resolve("nlctrl").expect("nlctrl always exists");
        assert_eq!(f.id, GENL_ID_CTRL);
        assert!(f.mcast_group("notify").is_some(), "{f:?}");
    }

    #[test]
    fn absent_family_says_so() {
        let Some(mut g) = open() else { return };
        let err = g.resolve("hasync-none").expect_err("no such family");
        assert_eq!(
            err.to_string(),
            "generic netlink family \"hasync-none\" not found (is hasync-none.ko loaded?)"
        );
        // The socket stays usable after an error.
        assert!(g.resolve("nlctrl").is_ok());
    }

    #[test]
    fn kernel_error_carries_errno_and_extack() {
        let Some(mut g) = open() else { return };
        // nlctrl's policy wants 2 bytes for a family id.
        let mut w = AttrWriter::new();
        w.put(CTRL_ATTR_FAMILY_ID, &[1]);
        let attrs = w.finish().expect("small");
        let err = g
            .transact(
                GENL_ID_CTRL,
                NlmF::empty(),
                CTRL_CMD_GETFAMILY,
                CTRL_VERSION,
                &attrs,
            )
            .expect_err("fails policy");
        let Error::Kernel(k) = err else {
            panic!("not a kernel error: {err}")
        };
        // EINVAL or ERANGE, depending on the kernel version.
        assert!(k.errno > 0, "{k:?}");
        assert!(k.message.is_some(), "no extack: {k:?}");
    }
}
