//! The system calls, and the crate's only `unsafe` code.
//!
//! Each function is one call into libc on a borrowed descriptor, with the
//! addresses already encoded as bytes by [`crate::addr`]. Nothing here
//! knows TIPC beyond the constants it is handed.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::uapi::{
    AF_TIPC, SIOCGETNODEID, SOCKADDR_TIPC_LEN, TIPC_NODEID_LEN, TIPC_SIOC_NODEID_REQ_LEN,
};

/// Room for what the kernel writes as a source address: one
/// `sockaddr_tipc`, or two for a group member (`struct sockaddr_pair`).
pub(crate) const NAME_BUF_LEN: usize = 2 * SOCKADDR_TIPC_LEN;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_len(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

fn socklen(len: usize) -> libc::socklen_t {
    // The lengths passed here are constants of a few dozen bytes.
    len as libc::socklen_t
}

/// `socket(AF_TIPC, ty | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0)`.
pub(crate) fn socket(ty: libc::c_int, nonblocking: bool) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(libc::c_int::from(AF_TIPC), ty | flags, 0) })?;
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind()` to an encoded `sockaddr_tipc`.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &[u8; SOCKADDR_TIPC_LEN]) -> io::Result<()> {
    // SAFETY: addr points to SOCKADDR_TIPC_LEN readable bytes, the length
    // passed; the kernel copies them and does not keep the pointer.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            addr.as_ptr().cast::<libc::sockaddr>(),
            socklen(addr.len()),
        )
    })?;
    Ok(())
}

/// `connect()` to an encoded `sockaddr_tipc`.
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &[u8; SOCKADDR_TIPC_LEN]) -> io::Result<()> {
    // SAFETY: as for bind(): a readable buffer of the length passed.
    check(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            addr.as_ptr().cast::<libc::sockaddr>(),
            socklen(addr.len()),
        )
    })?;
    Ok(())
}

/// `listen()`.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: listen() takes no pointers.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

/// `accept4()`, close-on-exec, returning the peer's encoded address.
pub(crate) fn accept(
    fd: BorrowedFd<'_>,
    nonblocking: bool,
) -> io::Result<(OwnedFd, [u8; NAME_BUF_LEN], usize)> {
    let mut name = [0u8; NAME_BUF_LEN];
    let mut len = socklen(name.len());
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: name is writable for len bytes and len is a valid socklen_t
    // the kernel updates; the kernel truncates to len.
    let new = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            name.as_mut_ptr().cast::<libc::sockaddr>(),
            &mut len,
            flags,
        )
    })?;
    // SAFETY: new was just returned by accept4() and is owned by nobody else.
    let new = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((new, name, (len as usize).min(NAME_BUF_LEN)))
}

/// `send()` with `MSG_NOSIGNAL`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is readable for buf.len() bytes.
    check_len(unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr().cast::<libc::c_void>(),
            buf.len(),
            libc::MSG_NOSIGNAL,
        )
    })
}

/// `sendto()` an encoded `sockaddr_tipc`, with `MSG_NOSIGNAL`.
pub(crate) fn send_to(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    addr: &[u8; SOCKADDR_TIPC_LEN],
) -> io::Result<usize> {
    // SAFETY: buf and addr are readable for the lengths passed.
    check_len(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast::<libc::c_void>(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            addr.as_ptr().cast::<libc::sockaddr>(),
            socklen(addr.len()),
        )
    })
}

/// What `recvmsg()` returned.
pub(crate) struct Received {
    /// Bytes copied into the buffer.
    pub(crate) len: usize,
    /// `msg_flags` (`MSG_TRUNC`, …).
    pub(crate) flags: libc::c_int,
    /// The source address as the kernel wrote it, and its length.
    pub(crate) name: [u8; NAME_BUF_LEN],
    pub(crate) name_len: usize,
}

/// `recvmsg()` of one message into `buf`, with its source address.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Received> {
    let mut name = [0u8; NAME_BUF_LEN];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<libc::c_void>(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct for which all-zero is valid
    // (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast::<libc::c_void>();
    msg.msg_namelen = socklen(name.len());
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: msg points to one iovec over buf (writable for its length)
    // and to name (writable for msg_namelen); no control buffer. All of
    // them outlive the call.
    let len = check_len(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) })?;
    Ok(Received {
        len,
        flags: msg.msg_flags,
        name,
        name_len: (msg.msg_namelen as usize).min(NAME_BUF_LEN),
    })
}

fn getname(
    fd: BorrowedFd<'_>,
    f: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> io::Result<([u8; NAME_BUF_LEN], usize)> {
    let mut name = [0u8; NAME_BUF_LEN];
    let mut len = socklen(name.len());
    // SAFETY: f is getsockname or getpeername; name is writable for len
    // bytes and the kernel truncates to len.
    check(unsafe {
        f(
            fd.as_raw_fd(),
            name.as_mut_ptr().cast::<libc::sockaddr>(),
            &mut len,
        )
    })?;
    Ok((name, (len as usize).min(NAME_BUF_LEN)))
}

/// `getsockname()`.
pub(crate) fn local_name(fd: BorrowedFd<'_>) -> io::Result<([u8; NAME_BUF_LEN], usize)> {
    getname(fd, libc::getsockname)
}

/// `getpeername()`.
pub(crate) fn peer_name(fd: BorrowedFd<'_>) -> io::Result<([u8; NAME_BUF_LEN], usize)> {
    getname(fd, libc::getpeername)
}

/// `setsockopt()` of a `u32` value.
pub(crate) fn set_u32_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    opt: libc::c_int,
    value: u32,
) -> io::Result<()> {
    // SAFETY: value is readable for size_of::<u32>() bytes, the length
    // passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&value as *const u32).cast::<libc::c_void>(),
            socklen(size_of::<u32>()),
        )
    })?;
    Ok(())
}

/// `getsockopt()` of a `u32` (or `int`) value.
pub(crate) fn get_u32_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    opt: libc::c_int,
) -> io::Result<u32> {
    let mut value: u32 = 0;
    let mut len = socklen(size_of::<u32>());
    // SAFETY: value is writable for len bytes; len is updated in place.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&mut value as *mut u32).cast::<libc::c_void>(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// `setsockopt()` of a `struct timeval` (`SO_RCVTIMEO`, `SO_SNDTIMEO`);
/// `None` or zero waits forever.
pub(crate) fn set_timeval_opt(
    fd: BorrowedFd<'_>,
    opt: libc::c_int,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let t = timeout.unwrap_or(Duration::ZERO);
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 1 000 000: fits any suseconds_t.
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: tv is readable for size_of::<timeval>() bytes, the length
    // passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&tv as *const libc::timeval).cast::<libc::c_void>(),
            socklen(size_of::<libc::timeval>()),
        )
    })?;
    Ok(())
}

/// `fcntl(F_SETFL)` with `O_NONBLOCK` set or cleared.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL takes no pointer.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: F_SETFL takes an int, no pointer.
        check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// `shutdown(SHUT_RDWR)`.
pub(crate) fn shutdown(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: shutdown() takes no pointers.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) })?;
    Ok(())
}

/// `ioctl(SIOCGETNODEID)`: the 128-bit identity of the node with address
/// `node` (the own node or a peer with a link).
pub(crate) fn node_id(fd: BorrowedFd<'_>, node: u32) -> io::Result<[u8; TIPC_NODEID_LEN]> {
    // struct tipc_sioc_nodeid_req { __u32 peer; char node_id[16]; }
    let mut req = [0u8; TIPC_SIOC_NODEID_REQ_LEN];
    req[..4].copy_from_slice(&node.to_ne_bytes());
    // SAFETY: SIOCGETNODEID reads and writes one struct
    // tipc_sioc_nodeid_req (20 bytes, no alignment demand beyond what the
    // kernel's copy_from_user handles), which req is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGETNODEID as _, req.as_mut_ptr()) })?;
    let mut id = [0u8; TIPC_NODEID_LEN];
    id.copy_from_slice(&req[4..]);
    Ok(id)
}
