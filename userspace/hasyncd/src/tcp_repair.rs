//! Reading a TCP connection's transport state out of the kernel and
//! recreating the connection from it elsewhere, with `TCP_REPAIR`
//! (`CAP_NET_ADMIN`).
//!
//! The order follows the kernel's rules (and CRIU's proven sequence):
//!
//! - **Reading** needs repair mode, which stops nothing: the socket goes on
//!   receiving and acknowledging. The caller makes the connection quiet
//!   first (its unit cut off, or the output held).
//! - **Recreating**, in repair mode on a new socket:
//!   1. bind to the service address (`IP_FREEBIND` and `IP_TRANSPARENT`:
//!      the address comes after);
//!   2. both queue heads' sequence numbers, then `connect`, which sends
//!      nothing in repair mode;
//!   3. the options negotiated at the handshake, which the kernel takes only
//!      before any byte was sent;
//!   4. the timestamp clock;
//!   5. the received, unread bytes into the receive queue;
//!   6. the windows, which must agree with the receive sequence;
//!   7. repair off, which sends a window probe: the client acknowledges it,
//!      and segments it had sent meanwhile are retransmitted to us; then
//!      every byte the client has not acknowledged goes out again as new
//!      data at its old sequence numbers ([`go_live`] says why).
//!
//! Closing a socket in repair mode sends neither FIN nor RST: that is how
//! a unit lets a connection go that another unit will hold.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use hasync_engine::tcp_state::{opt, TcpState, Window, QUEUE_MAX};

// <linux/tcp.h>
const TCP_MAXSEG: i32 = 2;
const TCP_INFO: i32 = 11;
const TCP_REPAIR: i32 = 19;
const TCP_REPAIR_QUEUE: i32 = 20;
const TCP_QUEUE_SEQ: i32 = 21;
const TCP_REPAIR_OPTIONS: i32 = 22;
const TCP_TIMESTAMP: i32 = 24;
const TCP_REPAIR_WINDOW: i32 = 29;
const TCP_REPAIR_ON: i32 = 1;
const TCP_REPAIR_OFF: i32 = 0;
const TCP_RECV_QUEUE: i32 = 1;
const TCP_SEND_QUEUE: i32 = 2;
const TCPOPT_MSS: u32 = 2;
const TCPOPT_WINDOW: u32 = 3;
const TCPOPT_SACK_PERM: u32 = 4;
const TCPOPT_TIMESTAMP: u32 = 8;
// <linux/sockios.h>
const SIOCINQ: libc::c_ulong = 0x541B;
const SIOCOUTQ: libc::c_ulong = 0x5411;
const SIOCOUTQNSD: libc::c_ulong = 0x894B;
const TCP_ESTABLISHED: u8 = 1;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set_int(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is valid for reads of its size for the whole call.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::from_ref(&v).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    })
    .map(drop)
}

fn set_bytes(fd: RawFd, name: i32, v: &[u8]) -> io::Result<()> {
    // SAFETY: `v` is valid for reads of its length for the whole call.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            name,
            v.as_ptr().cast(),
            v.len() as u32,
        )
    })
    .map(drop)
}

/// Reads a TCP option into `buf`; returns the length the kernel wrote.
fn get(fd: RawFd, name: i32, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `len` are valid for writes for the whole call and
    // `len` says how much of `buf` the kernel may write.
    check(unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    Ok(len as usize)
}

fn get_u32(fd: RawFd, name: i32) -> io::Result<u32> {
    let mut b = [0u8; 4];
    get(fd, name, &mut b)?;
    Ok(u32::from_ne_bytes(b))
}

fn ioctl_len(fd: RawFd, req: libc::c_ulong) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: these requests write one int to the pointer given.
    check(unsafe { libc::ioctl(fd, req, &mut n) })?;
    usize::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::EPROTO))
}

fn repair(fd: RawFd, on: i32) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_TCP, TCP_REPAIR, on)
}

/// Peeks at the selected queue's `len` bytes (repair mode).
fn peek(fd: RawFd, len: usize) -> io::Result<Vec<u8>> {
    if len > QUEUE_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len} bytes queued"),
        ));
    }
    let mut buf = vec![0u8; len + 1];
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    let n = if n < 0 {
        let e = io::Error::last_os_error();
        // An empty queue reads as "would block".
        if len == 0 && e.kind() == io::ErrorKind::WouldBlock {
            0
        } else {
            return Err(e);
        }
    } else {
        n as usize
    };
    if n != len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("queue holds {n} bytes where {len} were counted"),
        ));
    }
    buf.truncate(n);
    Ok(buf)
}

fn v4(a: SocketAddr) -> io::Result<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "IPv6 connection",
        )),
    }
}

/// Puts `s` in repair mode and reads its transport state. The socket
/// stays in repair mode: close it (silently) or call [`resume`].
pub fn dump(s: &TcpStream) -> io::Result<TcpState> {
    let fd = s.as_raw_fd();
    let local = v4(s.local_addr()?)?;
    let remote = v4(s.peer_addr()?)?;
    repair(fd, TCP_REPAIR_ON)?;
    let mut info = [0u8; 8];
    get(fd, TCP_INFO, &mut info)?;
    if info[0] != TCP_ESTABLISHED {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("connection in TCP state {}, not established", info[0]),
        ));
    }
    let options = info[5] & opt::ALL;
    let (snd_wscale, rcv_wscale) = (info[6] & 0xf, info[6] >> 4);
    let inq_len = ioctl_len(fd, SIOCINQ)?;
    let outq_len = ioctl_len(fd, SIOCOUTQ)?;
    let unsent = ioctl_len(fd, SIOCOUTQNSD)?;
    // In repair mode this is the client's MSS (mss_clamp).
    let mss = u16::try_from(get_u32(fd, TCP_MAXSEG)?).unwrap_or(u16::MAX);
    let timestamp = if options & opt::TIMESTAMPS != 0 {
        get_u32(fd, TCP_TIMESTAMP)?
    } else {
        0
    };
    let mut w = [0u8; 20];
    get(fd, TCP_REPAIR_WINDOW, &mut w)?;
    let word = |i: usize| u32::from_ne_bytes([w[i], w[i + 1], w[i + 2], w[i + 3]]);
    let window = Window {
        snd_wl1: word(0),
        snd_wnd: word(4),
        max_window: word(8),
        rcv_wnd: word(12),
        rcv_wup: word(16),
    };
    set_int(fd, libc::IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)?;
    let rcv_nxt = get_u32(fd, TCP_QUEUE_SEQ)?;
    let inq = peek(fd, inq_len)?;
    set_int(fd, libc::IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)?;
    let write_seq = get_u32(fd, TCP_QUEUE_SEQ)?;
    let outq = peek(fd, outq_len)?;
    Ok(TcpState {
        local,
        remote,
        rcv_nxt,
        write_seq,
        mss,
        snd_wscale,
        rcv_wscale,
        options,
        timestamp,
        window,
        unsent: unsent.min(outq_len) as u32,
        inq,
        outq,
    })
}

/// Takes a socket read by [`dump`] out of repair mode, without a window
/// probe: it carries on as if it had not been read.
pub fn resume(s: &TcpStream) -> io::Result<()> {
    repair(s.as_raw_fd(), -1)
}

/// Puts `s` in repair mode so that dropping it sends neither FIN nor RST:
/// the connection goes on at the unit that holds its state.
pub fn vanish(s: &TcpStream) -> io::Result<()> {
    repair(s.as_raw_fd(), TCP_REPAIR_ON)
}

/// Writes all of `data` into the selected queue (repair mode), in
/// pieces the kernel takes.
fn fill(fd: RawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reads of its length.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), 0) };
        if n <= 0 {
            return Err(io::Error::last_os_error());
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Recreates the connection `s` describes, steps 1 to 7 (see the module
/// docs): a unit that takes a connection over puts the service address
/// on its interface between [`rebuild`] and [`go_live`] instead.
pub fn restore(s: &TcpState) -> io::Result<TcpStream> {
    let stream = rebuild(s)?;
    go_live(&stream)?;
    use std::io::Write;
    (&stream).write_all(&s.outq)?;
    Ok(stream)
}

/// Steps 1 to 6: the connection exists again, in repair mode. Until the
/// service address is on an interface nothing reaches it; once it is, a
/// client's segment finds this socket rather than none, so the kernel
/// answers no RST. Nothing leaves it until [`go_live`].
pub fn rebuild(s: &TcpState) -> io::Result<TcpStream> {
    // SAFETY: plain system call; checked before use.
    let raw =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let raw = fd.as_raw_fd();
    // SO_REUSEADDR first: repair mode then raises the socket to forced
    // reuse, which binds beside whatever else holds the service port.
    set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    repair(raw, TCP_REPAIR_ON)?;
    // The service address is not ours yet: IP_FREEBIND lets the socket
    // bind it, IP_TRANSPARENT lets `connect` route from it.
    set_int(raw, libc::IPPROTO_IP, libc::IP_FREEBIND, 1)?;
    set_int(raw, libc::IPPROTO_IP, libc::IP_TRANSPARENT, 1)?;
    let sin = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
    let local = sin(s.local);
    // SAFETY: `local` is a valid sockaddr_in of `len` bytes.
    check(unsafe { libc::bind(raw, std::ptr::from_ref(&local).cast(), len) })?;
    set_int(raw, libc::IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)?;
    set_int(raw, libc::IPPROTO_TCP, TCP_QUEUE_SEQ, s.copied_seq() as i32)?;
    set_int(raw, libc::IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)?;
    set_int(raw, libc::IPPROTO_TCP, TCP_QUEUE_SEQ, s.snd_una() as i32)?;
    let remote = sin(s.remote);
    // SAFETY: `remote` is a valid sockaddr_in of `len` bytes.
    check(unsafe { libc::connect(raw, std::ptr::from_ref(&remote).cast(), len) })?;

    let mut opts: Vec<(u32, u32)> = Vec::new();
    if s.options & opt::SACK != 0 {
        opts.push((TCPOPT_SACK_PERM, 0));
    }
    if s.options & opt::WSCALE != 0 {
        opts.push((
            TCPOPT_WINDOW,
            u32::from(s.snd_wscale) | u32::from(s.rcv_wscale) << 16,
        ));
    }
    if s.options & opt::TIMESTAMPS != 0 {
        opts.push((TCPOPT_TIMESTAMP, 0));
    }
    opts.push((TCPOPT_MSS, u32::from(s.mss)));
    let bytes: Vec<u8> = opts
        .iter()
        .flat_map(|&(code, val)| code.to_ne_bytes().into_iter().chain(val.to_ne_bytes()))
        .collect();
    set_bytes(raw, TCP_REPAIR_OPTIONS, &bytes)?;
    if s.options & opt::TIMESTAMPS != 0 {
        set_int(raw, libc::IPPROTO_TCP, TCP_TIMESTAMP, s.timestamp as i32)?;
    }

    set_int(raw, libc::IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)?;
    fill(raw, &s.inq)?;
    // The send queue stays empty here: see `go_live`.

    let w = s.window;
    let win: Vec<u8> = [w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    set_bytes(raw, TCP_REPAIR_WINDOW, &win)?;
    Ok(TcpStream::from(fd))
}

/// Step 7: repair mode off, with the window probe that makes the client
/// answer. The caller then sends every byte the client has not
/// acknowledged (`outq`) afresh, from the send sequence `rebuild` set (the
/// first unacknowledged byte), through its own nonblocking send path.
///
/// Queued in repair mode as already sent, those bytes would wait for a
/// retransmission timeout, and a rebuilt socket has no round-trip sample:
/// its first timeout is the initial one, a second. Sent afresh, they go
/// out at once, at the sequence numbers they had; a client that already
/// holds some of them takes them as duplicates. Leaving repair mode clears
/// SO_REUSEADDR: it is set again, so that the unit's listener can bind the
/// service port beside the connections.
pub fn go_live(stream: &TcpStream) -> io::Result<()> {
    repair(stream.as_raw_fd(), TCP_REPAIR_OFF)?;
    set_int(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// A connection moves from one socket to a new one on the same host:
    /// the client goes on reading and writing on the socket it had, and
    /// bytes in both queues at the move arrive exactly once. Needs
    /// CAP_NET_ADMIN, like hasyncd itself.
    #[test]
    fn a_connection_moves_to_a_new_socket_with_its_queues() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let (mut server, _) = l.accept().expect("accept");
        drop(l);
        client.write_all(b"ping 1\n").expect("send");
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"ping 1\n");
        server.write_all(b"pong 1\n").expect("reply");
        let n = client.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"pong 1\n");
        // Queued both ways at the move: a request not yet read by the
        // server, a reply not yet read by the client.
        client.write_all(b"ping 2\n").expect("send");
        server.write_all(b"pong 2\n").expect("reply");
        std::thread::sleep(Duration::from_millis(50));

        let state = match dump(&server) {
            Ok(s) => s,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                panic!("TCP_REPAIR needs CAP_NET_ADMIN: run the host tests as root ({e})")
            }
            Err(e) => panic!("dump: {e}"),
        };
        assert_eq!(state.inq, b"ping 2\n");
        let again = TcpState::decode(&state.encode()).expect("codec");
        // In repair mode the old socket goes without FIN or RST.
        drop(server);
        let mut moved = restore(&again).expect("restore");
        moved
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");

        let n = moved.read(&mut buf).expect("read the queued request");
        assert_eq!(&buf[..n], b"ping 2\n");
        let n = client.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"pong 2\n");
        client.write_all(b"ping 3\n").expect("send");
        let n = moved.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"ping 3\n");
        moved.write_all(b"pong 3\n").expect("reply");
        let n = client.read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"pong 3\n");
    }
}
