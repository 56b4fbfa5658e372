//! The generic netlink socket: one request and its answers, a dump, or a
//! pipeline of many requests sent together.

use std::io;

use neli::{
    consts::socket::{Msg, NlFamily},
    socket::NlSocket,
    utils::Groups,
};

use crate::attr::{AttrWriter, ParseError};
use crate::ctrl::{Family, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, CTRL_VERSION, GENL_ID_CTRL};
use crate::error::{Error, KernelError};
use crate::nlmsg::{classify, flags, put_request, request_len, Messages, Reply};

/// Receive buffer: a datagram larger than this is reported, not cut. The
/// kernel's dump messages stay below 32 KiB.
const RECV_BUF: usize = 64 * 1024;

/// Most bytes of requests one pipelined `sendmsg` carries.
pub const MAX_SEND: usize = 64 * 1024;

/// Socket receive buffer asked for (the kernel caps it at `rmem_max`):
/// replies to a whole pipelined send queue up before they are read.
const SO_RCVBUF: usize = 4 * 1024 * 1024;

fn io_error(e: io::Error) -> Error {
    Error::Socket(e)
}

/// Sets the receive buffer past `rmem_max` (`SO_RCVBUFFORCE`), which
/// needs `CAP_NET_ADMIN`: the capability every update sender has anyway.
fn force_recv_buffer(sock: &NlSocket, size: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is open for as long as `sock` is borrowed;
    // the option value is a live c_int and its length is its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::from_ref(&size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One request of a [`Genl::pipeline`]: its attributes already encoded.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub nl_type: u16,
    /// Extra `nlmsg_flags` (`NLM_F_REQUEST` is implied).
    pub flags: u16,
    pub cmd: u8,
    pub version: u8,
    pub attrs: Vec<u8>,
    /// Answered only if refused (a hasync update flagged `more`).
    pub quiet: bool,
}

/// The first answer to one pipelined request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A family message: command and attributes.
    Data(u8, Vec<u8>),
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// The kernel refused the request.
    Failed(KernelError),
    /// A quiet request the kernel did not refuse.
    Quiet,
}

/// A blocking generic netlink socket, for any family: [`Client`] binds one
/// to `hasync`; `hasync-tipc` uses one for TIPC's `TIPCv2` family.
///
/// [`Client`]: crate::Client
pub struct Genl {
    sock: NlSocket,
    seq: u32,
    buf: Vec<u8>,
    rx_bytes: u64,
    /// Most bytes of requests per pipelined send; [`MAX_SEND`] but in tests.
    max_send: usize,
}

impl Genl {
    /// Opens a socket with extended ACKs enabled.
    pub fn open() -> Result<Self, Error> {
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty()).map_err(io_error)?;
        // Extended ACKs carry the kernel's explanation of an error. Kernels
        // before 4.12 lack the option and still work without it.
        let _ = sock.enable_ext_ack(true);
        // Best effort: a smaller buffer only limits the useful batch size.
        if force_recv_buffer(&sock, SO_RCVBUF).is_err() {
            let _ = sock.set_recv_buffer_size(SO_RCVBUF);
        }
        Ok(Genl {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
            rx_bytes: 0,
            max_send: MAX_SEND,
        })
    }

    /// Bytes received on this socket so far.
    pub(crate) fn rx_bytes(&self) -> u64 {
        self.rx_bytes
    }

    /// Joins multicast group `id`.
    pub(crate) fn join(&self, id: u32) -> Result<(), Error> {
        self.sock
            .add_mcast_membership(Groups::new_groups(&[id]))
            .map_err(io_error)
    }

    /// Reserves `n` consecutive sequence numbers, never 0 (notifications
    /// carry 0), and returns the first.
    fn take_seqs(&mut self, n: u32) -> u32 {
        let first = match self.seq.checked_add(1) {
            Some(s) if s.checked_add(n).is_some() => s,
            _ => 1,
        };
        self.seq = first + n.saturating_sub(1);
        first
    }

    fn send(&self, buf: &[u8]) -> Result<(), Error> {
        let sent = self.sock.send(buf, Msg::empty()).map_err(io_error)?;
        if sent != buf.len() {
            return Err(Error::Socket(io::Error::other(format!(
                "short netlink send: {sent} of {} bytes",
                buf.len()
            ))));
        }
        Ok(())
    }

    /// Receives one datagram; returns its length in `self.buf`.
    pub(crate) fn recv(&mut self) -> Result<usize, Error> {
        self.recv_flags(Msg::TRUNC)
    }

    /// [`Genl::recv`] of a datagram already queued; `None` when none is.
    fn try_recv(&mut self) -> Result<Option<usize>, Error> {
        match self.recv_flags(Msg::TRUNC | Msg::DONTWAIT) {
            Ok(len) => Ok(Some(len)),
            Err(Error::Socket(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn recv_flags(&mut self, flags: Msg) -> Result<usize, Error> {
        let (len, _) = self.sock.recv(&mut self.buf[..], flags).map_err(io_error)?;
        self.rx_bytes += len as u64;
        if len > self.buf.len() {
            return Err(Error::Socket(io::Error::other(format!(
                "netlink message of {len} bytes exceeds the {RECV_BUF}-byte receive buffer"
            ))));
        }
        Ok(len)
    }

    /// The datagram [`Genl::recv`] last received.
    pub(crate) fn received(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// Sends one request and hands `on_data` each family message answering
    /// it, until its ACK, its error or (for a dump) its DONE. A failure of
    /// `on_data` is returned after the answers are drained, so that the
    /// socket stays usable.
    pub fn transact_with(
        &mut self,
        nl_type: u16,
        nl_flags: u16,
        cmd: u8,
        version: u8,
        attrs: &[u8],
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let seq = self.take_seqs(1);
        let mut req = Vec::with_capacity(request_len(attrs.len()));
        put_request(
            &mut req,
            nl_type,
            flags::REQUEST | nl_flags,
            seq,
            cmd,
            version,
            attrs,
        );
        self.send(&req)?;

        let mut failed = None;
        loop {
            let len = self.recv()?;
            for msg in Messages::new(&self.buf[..len]) {
                let msg = msg?;
                if msg.seq != seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match classify(&msg)? {
                    Reply::Data { cmd, attrs } => {
                        if failed.is_none() {
                            failed = on_data(cmd, attrs).err();
                        }
                    }
                    Reply::Ack | Reply::Done => return failed.map_or(Ok(()), Err),
                    Reply::Error(e) => return Err(e.into()),
                    Reply::Ignore => {}
                }
            }
        }
    }

    /// [`Genl::transact_with`], collecting the messages.
    pub(crate) fn transact(
        &mut self,
        nl_type: u16,
        nl_flags: u16,
        cmd: u8,
        version: u8,
        attrs: &[u8],
    ) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        let mut replies = Vec::new();
        self.transact_with(nl_type, nl_flags, cmd, version, attrs, |cmd, a| {
            replies.push((cmd, a.to_vec()));
            Ok(())
        })?;
        Ok(replies)
    }

    /// Sends `reqs` packed into as few `sendmsg` calls as [`MAX_SEND`]
    /// allows and returns the first answer to each, in order. Each request
    /// must be answered by exactly one message: a command that replies with
    /// data is sent without `NLM_F_ACK`, one that does not, with it; a
    /// quiet request only when refused, [`Outcome::Quiet`] otherwise.
    ///
    /// Generic netlink runs a send's requests before `sendmsg` returns, so
    /// once every other request is answered, whatever a quiet one drew is
    /// already queued: the rest of the queue is read without waiting.
    ///
    /// The replies to one send queue up in the socket's receive buffer
    /// before any is read; if they overrun it the kernel drops some and
    /// this fails with `ENOBUFS`.
    pub(crate) fn pipeline(&mut self, reqs: &[Request]) -> Result<Vec<Outcome>, Error> {
        let mut out = Vec::with_capacity(reqs.len());
        let mut rest = reqs;
        while !rest.is_empty() {
            // At least one request per send, however large.
            let mut n = 0;
            let mut size = 0;
            for r in rest {
                let len = request_len(r.attrs.len());
                if n > 0 && size + len > self.max_send {
                    break;
                }
                n += 1;
                size += len;
            }
            let (chunk, tail) = rest.split_at(n);
            self.pipeline_chunk(chunk, size, &mut out)?;
            rest = tail;
        }
        Ok(out)
    }

    fn pipeline_chunk(
        &mut self,
        chunk: &[Request],
        size: usize,
        out: &mut Vec<Outcome>,
    ) -> Result<(), Error> {
        let count = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let first = self.take_seqs(count);
        let mut buf = Vec::with_capacity(size);
        for (i, r) in (0..count).zip(chunk) {
            put_request(
                &mut buf,
                r.nl_type,
                flags::REQUEST | r.flags,
                first + i,
                r.cmd,
                r.version,
                &r.attrs,
            );
        }
        self.send(&buf)?;

        let base = out.len();
        let mut answers: Vec<Option<Outcome>> = vec![None; chunk.len()];
        let mut missing = chunk.iter().filter(|r| !r.quiet).count();
        let mut drained = false;
        while missing > 0 || !drained {
            let got = if missing > 0 {
                self.recv().map(Some)
            } else {
                self.try_recv()
            };
            let len = match got {
                Ok(Some(len)) => len,
                Ok(None) => {
                    drained = true;
                    continue;
                }
                Err(Error::Socket(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(Error::Socket(io::Error::new(
                        e.kind(),
                        "receive buffer overrun, replies were dropped (send fewer at once)",
                    )))
                }
                Err(e) => return Err(e),
            };
            for msg in Messages::new(&self.buf[..len]) {
                let msg = msg?;
                let Some(i) = usize::try_from(msg.seq.wrapping_sub(first))
                    .ok()
                    .filter(|&i| i < answers.len())
                else {
                    continue;
                };
                if answers[i].is_some() {
                    continue; // a second answer, e.g. an unasked-for ACK
                }
                answers[i] = match classify(&msg)? {
                    Reply::Data { cmd, attrs } => Some(Outcome::Data(cmd, attrs.to_vec())),
                    Reply::Ack | Reply::Done => Some(Outcome::Ack),
                    Reply::Error(e) => Some(Outcome::Failed(e)),
                    Reply::Ignore => continue,
                };
                if !chunk[i].quiet {
                    missing -= 1;
                }
            }
        }
        // Unanswered: quiet requests that were not refused, now that
        // everything that could answer them has been read.
        out.extend(answers.into_iter().map(|a| a.unwrap_or(Outcome::Quiet)));
        debug_assert_eq!(out.len() - base, chunk.len());
        Ok(())
    }

    /// Looks up a family by name; [`Error::FamilyNotFound`] if the kernel
    /// has none of that name.
    pub fn resolve(&mut self, name: &str) -> Result<Family, Error> {
        let mut w = AttrWriter::new();
        w.put_str(CTRL_ATTR_FAMILY_NAME, name);
        let attrs = w.finish()?;
        let replies = match self.transact(
            GENL_ID_CTRL,
            flags::ACK,
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
            &attrs,
        ) {
            Err(Error::Kernel(k)) if k.errno == libc::ENOENT => {
                return Err(Error::FamilyNotFound(name.to_owned()))
            }
            other => other?,
        };
        let (_, attrs) = replies.first().ok_or(Error::NoReply("getfamily"))?;
        Ok(Family::from_attrs(attrs)?)
    }
}

impl std::os::fd::AsRawFd for Genl {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// Checks that a reply carries the request's command.
pub(crate) fn expect_cmd(expected: u8, got: u8) -> Result<(), ParseError> {
    if got == expected {
        Ok(())
    } else {
        Err(ParseError::UnexpectedCmd { expected, got })
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
        assert!(g.rx_bytes() > 0);
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

    fn getfamily(name: &str) -> Request {
        let mut w = AttrWriter::new();
        w.put_str(CTRL_ATTR_FAMILY_NAME, name);
        Request {
            nl_type: GENL_ID_CTRL,
            flags: 0,
            cmd: CTRL_CMD_GETFAMILY,
            version: CTRL_VERSION,
            attrs: w.finish().expect("small"),
            quiet: false,
        }
    }

    #[test]
    fn pipeline_matches_answers_to_requests() {
        let Some(mut g) = open() else { return };
        // Several sends, with a failure in the middle.
        g.max_send = 1024;
        let mut reqs = vec![getfamily("nlctrl"); 100];
        reqs[50] = getfamily("hasync-none");
        let out = g.pipeline(&reqs).expect("pipeline");
        assert_eq!(out.len(), reqs.len());
        for (i, o) in out.iter().enumerate() {
            match (i, o) {
                (50, Outcome::Failed(e)) => assert_eq!(e.errno, libc::ENOENT),
                (50, o) => panic!("{o:?}"),
                (_, Outcome::Data(cmd, attrs)) => {
                    assert_eq!(*cmd, 1, "CTRL_CMD_NEWFAMILY");
                    let f = Family::from_attrs(attrs).expect("parses");
                    assert_eq!(f.id, GENL_ID_CTRL);
                }
                (i, o) => panic!("{i}: {o:?}"),
            }
        }
        // And the socket is in step afterwards.
        assert!(g.resolve("nlctrl").is_ok());
    }

    #[test]
    fn dump_runs_until_done() {
        let Some(mut g) = open() else { return };
        let mut names = Vec::new();
        g.transact_with(
            GENL_ID_CTRL,
            flags::DUMP,
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
            &[],
            |_, attrs| {
                names.push(Family::from_attrs(attrs)?.id);
                Ok(())
            },
        )
        .expect("dump");
        assert!(names.contains(&GENL_ID_CTRL), "{names:?}");
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
                flags::ACK,
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
