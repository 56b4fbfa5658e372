//! One control connection on the TCP face: authenticated request lines
//! in, JSON reply lines out (see `hasync_ctl::auth`).
//!
//! The socket is nonblocking; replies wait in a bounded queue while the
//! client does not read. A line that does not verify ends the connection
//! after its refusal is sent: nothing after it is read.

use std::io::{self, Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};

use hasync_ctl::auth::{Refusal, Secret, Session};
use hasync_tipc::TIPC_MAX_USER_MSG_SIZE;

use crate::conn::End;

/// Longest request line: a frame's worth of JSON, its sequence number and
/// MAC.
pub const LINE_MAX: usize = TIPC_MAX_USER_MSG_SIZE + 128;
/// Most reply bytes queued for one client before it counts as stuck.
const QUEUE_MAX_BYTES: usize = 16 << 20;

/// What one read produced, in order.
#[derive(Debug)]
pub enum Incoming {
    /// A verified request's JSON.
    Request(Vec<u8>),
    /// A line that did not verify; nothing after it was taken.
    Refused(Refusal),
    /// A line longer than [`LINE_MAX`].
    TooLong,
}

/// A connection.
#[derive(Debug)]
pub struct TcpConn {
    stream: TcpStream,
    /// The client's address.
    pub peer: SocketAddrV4,
    /// Its authentication state.
    pub session: Session,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// Requests taken.
    pub requests: u64,
}

impl TcpConn {
    /// Wraps an accepted stream and queues the greeting with `session`'s
    /// nonce.
    pub fn new(stream: TcpStream, peer: SocketAddrV4, session: Session) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let mut c = TcpConn {
            stream,
            peer,
            session,
            inbuf: Vec::new(),
            out: Vec::new(),
            requests: 0,
        };
        c.out.extend_from_slice(session.greeting().as_bytes());
        c.flush().map_err(io::Error::other)?;
        Ok(c)
    }

    /// The socket, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// Replies wait for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Queues one reply line and sends what the socket takes; Err: drop
    /// the connection.
    pub fn send_line(&mut self, json: &[u8]) -> Result<(), String> {
        self.out.extend_from_slice(json);
        self.out.push(b'\n');
        if self.out.len() > QUEUE_MAX_BYTES {
            return Err(format!(
                "client not reading: {} bytes queued",
                self.out.len()
            ));
        }
        self.flush()
    }

    /// Sends queued bytes until the socket would block.
    pub fn flush(&mut self) -> Result<(), String> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    /// Serves a poll wakeup: sends what waits (when `writable`), reads what
    /// is there, and checks every complete line against `secret`.
    pub fn pump(
        &mut self,
        writable: bool,
        secret: &Secret,
        buf: &mut [u8],
    ) -> (Vec<Incoming>, Option<End>) {
        let mut got = Vec::new();
        if writable {
            if let Err(why) = self.flush() {
                return (
                    got,
                    Some(End {
                        planned: false,
                        why,
                    }),
                );
            }
        }
        let end = loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    break Some(End {
                        planned: true,
                        why: "closed in order".into(),
                    })
                }
                Ok(n) => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    if self.take_lines(secret, &mut got) {
                        return (got, None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    break Some(End {
                        planned: false,
                        why: e.to_string(),
                    })
                }
            }
        };
        (got, end)
    }

    /// Moves complete lines out of the input; true once a line was refused
    /// (the caller ends the connection).
    fn take_lines(&mut self, secret: &Secret, got: &mut Vec<Incoming>) -> bool {
        let mut start = 0;
        while let Some(nl) = self.inbuf[start..].iter().position(|&b| b == b'\n') {
            let line = &self.inbuf[start..start + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            start += nl + 1;
            match self.session.check(secret, line) {
                Ok(json) => {
                    self.requests += 1;
                    got.push(Incoming::Request(json.to_vec()));
                }
                Err(r) => {
                    got.push(Incoming::Refused(r));
                    self.inbuf.clear();
                    return true;
                }
            }
        }
        self.inbuf.drain(..start);
        if self.inbuf.len() > LINE_MAX {
            got.push(Incoming::TooLong);
            self.inbuf.clear();
            return true;
        }
        false
    }

    /// Ends the connection after sending what is queued.
    pub fn shutdown(&mut self) {
        let _ = self.flush();
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_ctl::auth::{request_line, NONCE_LEN};
    use std::io::{BufRead, BufReader};
    use std::net::{SocketAddr, TcpListener};
    use std::time::{Duration, Instant};

    const NONCE: [u8; NONCE_LEN] = [3; NONCE_LEN];

    fn secret() -> Secret {
        Secret::new(&[5u8; 32]).expect("long enough")
    }

    /// A server-side connection and the client's socket.
    fn pair() -> (TcpConn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, from) = l.accept().expect("accept");
        let SocketAddr::V4(peer) = from else {
            panic!("v4 loopback")
        };
        (
            TcpConn::new(s, peer, Session::new(NONCE)).expect("conn"),
            client,
        )
    }

    /// Pumps until something came in or the connection ended.
    fn pump(c: &mut TcpConn) -> (Vec<Incoming>, Option<End>) {
        let mut buf = vec![0; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (got, end) = c.pump(false, &secret(), &mut buf);
            if !got.is_empty() || end.is_some() || Instant::now() > deadline {
                return (got, end);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn greets_then_takes_signed_lines_and_stops_at_the_first_refusal() {
        let (mut c, mut client) = pair();
        let mut r = BufReader::new(client.try_clone().expect("clone"));
        let mut greeting = String::new();
        r.read_line(&mut greeting).expect("greeting");
        assert_eq!(
            hasync_ctl::auth::parse_greeting(&greeting),
            Some(NONCE),
            "{greeting}"
        );
        let s = secret();
        let mut bytes = request_line(&s, &NONCE, 1, b"{\"id\":1,\"status\":{}}");
        bytes.extend(request_line(&s, &NONCE, 2, b"{\"id\":2,\"status\":{}}"));
        // Replayed, then a good-looking line that must not be taken.
        bytes.extend(request_line(&s, &NONCE, 2, b"{\"id\":3,\"status\":{}}"));
        bytes.extend(request_line(&s, &NONCE, 3, b"{\"id\":4,\"status\":{}}"));
        client.write_all(&bytes).expect("send");
        let mut got = Vec::new();
        while got.len() < 3 {
            let (more, end) = pump(&mut c);
            assert!(end.is_none(), "{end:?}");
            assert!(!more.is_empty(), "nothing came in");
            got.extend(more);
        }
        assert!(matches!(&got[0], Incoming::Request(j) if j.starts_with(b"{\"id\":1")));
        assert!(matches!(&got[1], Incoming::Request(j) if j.starts_with(b"{\"id\":2")));
        assert!(matches!(
            &got[2],
            Incoming::Refused(Refusal::Replayed { seq: 2, next: 3 })
        ));
        assert_eq!(got.len(), 3, "nothing after a refusal is taken");
        assert_eq!(c.requests, 2);
        c.send_line(b"{\"id\":1}").expect("reply");
        let mut reply = String::new();
        r.read_line(&mut reply).expect("reply");
        assert_eq!(reply, "{\"id\":1}\n");
    }

    #[test]
    fn unsigned_and_endless_lines_are_refused() {
        let (mut c, mut client) = pair();
        client
            .write_all(b"{\"id\":1,\"status\":{}}\n")
            .expect("send");
        let (got, _) = pump(&mut c);
        assert!(matches!(
            &got[..],
            [Incoming::Refused(Refusal::Unauthenticated)]
        ));

        let (mut c, mut client) = pair();
        client.write_all(&vec![b'1'; LINE_MAX + 10]).expect("send");
        let mut seen = Vec::new();
        while seen.is_empty() {
            let (got, end) = pump(&mut c);
            assert!(end.is_none(), "{end:?}");
            seen = got;
        }
        assert!(matches!(&seen[..], [Incoming::TooLong]));
    }
}
