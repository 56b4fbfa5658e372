//! One rtnetlink request and its ACK, on a raw socket: what the floating
//! address (`service_addr`) and the output commit (`plug`) send is a
//! handful of fixed messages, built and tested where they are used.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;

/// An rtnetlink socket.
#[derive(Debug)]
pub struct Rtnl(OwnedFd);

impl Rtnl {
    /// Opens one.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain system call; checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(Rtnl(unsafe { OwnedFd::from_raw_fd(raw) }))
    }

    /// Sends `msg` (with `NLM_F_ACK`) and waits for its ACK; the kernel's
    /// refusal comes back as its errno.
    pub fn call(&self, msg: &[u8]) -> io::Result<()> {
        let fd = self.0.as_raw_fd();
        // SAFETY: `msg` is valid for reads of its length; the kernel is the
        // default destination of an unbound netlink socket.
        if unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 1024];
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        match ack_errno(&buf[..n as usize]) {
            None => Ok(()),
            Some(e) => Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The errno of an `NLMSG_ERROR` reply (`None` for an ACK); anything else
/// is `EPROTO`.
fn ack_errno(reply: &[u8]) -> Option<i32> {
    let ty = reply.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let err = reply
        .get(16..20)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    match (ty, err) {
        (Some(NLMSG_ERROR), Some(0)) => None,
        (Some(NLMSG_ERROR), Some(e)) => Some(e.saturating_neg()),
        _ => Some(libc::EPROTO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_and_errors_are_told_apart() {
        let mut r = vec![0u8; 36];
        r[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(ack_errno(&r), None);
        r[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(ack_errno(&r), Some(libc::EEXIST));
        assert_eq!(ack_errno(&r[..10]), Some(libc::EPROTO));
    }
}
