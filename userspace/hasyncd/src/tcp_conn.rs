//! One control connection on the TCP face: authenticated request lines
//! in, JSON reply lines out (see `hasync_ctl::auth`).
//!
//! The socket is nonblocking; replies wait in a bounded queue while the
//! client does not read. A line that does not verify ends the connection
//! after its refusal is sent: nothing after it is read.
//!
//! Requests are taken one at a time: the next line only once the last
//! one was answered. The bytes not yet answered stay in the input buffer,
//! so a standby that takes the connection over is handed exactly the
//! requests no reply was sent for, and answers them in order.

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
    /// Bytes read and not yet answered: the request being served (its
    /// line, while `in_flight`), then what came after it.
    inbuf: Vec<u8>,
    /// Length of the line being served, with its newline.
    in_flight: Option<usize>,
    out: Vec<u8>,
    /// When it was accepted (or taken over).
    pub since: std::time::Instant,
    /// Taken over by a switchover: the sequence number of a switchover
    /// request the old primary answered, if that is what comes first.
    pub switched: Option<u64>,
}

impl TcpConn {
    /// Wraps an accepted stream and queues the greeting with `session`'s
    /// nonce.
    pub fn new(stream: TcpStream, peer: SocketAddrV4, session: Session) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let mut c = TcpConn::restored(stream, peer, session)?;
        c.out.extend_from_slice(session.greeting().as_bytes());
        c.flush().map_err(io::Error::other)?;
        Ok(c)
    }

    /// A connection taken over from another unit: greeted there, its
    /// unanswered requests back in the socket's receive queue.
    pub fn restored(stream: TcpStream, peer: SocketAddrV4, session: Session) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(TcpConn {
            stream,
            peer,
            session,
            inbuf: Vec::new(),
            in_flight: None,
            out: Vec::new(),
            since: std::time::Instant::now(),
            switched: None,
        })
    }

    /// The stream (for its transport state).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// What a standby needs besides the transport: the bytes not yet
    /// answered, and the sequence number of the first of their requests.
    pub fn unanswered(&self) -> (&[u8], u64) {
        let next = self.session.next - u64::from(self.in_flight.is_some());
        (&self.inbuf, next)
    }

    /// A request is being served.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Reply bytes queued here, not yet taken by the socket: they follow
    /// the kernel's send queue.
    pub fn pending_out(&self) -> &[u8] {
        &self.out
    }

    /// Queues bytes to send as they are (a connection taken over resends
    /// what its client has not acknowledged).
    pub fn queue_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.out.extend_from_slice(bytes);
        self.flush()
    }

    /// More input is read only while the unanswered bytes stay within
    /// two lines (poll for reading only then).
    pub fn wants_read(&self) -> bool {
        self.inbuf.len() <= 2 * LINE_MAX
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
        // The request is answered: its line is no longer owed.
        if let Some(len) = self.in_flight.take() {
            self.inbuf.drain(..len);
        }
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
            // While a request is served, a client that keeps sending is
            // read no further than two lines ahead (TCP flow control
            // holds the rest).
            if self.inbuf.len() > 2 * LINE_MAX {
                break None;
            }
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

    /// The next request, when none is being served and a complete line
    /// waits; true once a line was refused (the caller ends the
    /// connection).
    pub fn take_lines(&mut self, secret: &Secret, got: &mut Vec<Incoming>) -> bool {
        if self.in_flight.is_some() {
            return false;
        }
        if let Some(nl) = self.inbuf.iter().position(|&b| b == b'\n') {
            let line = &self.inbuf[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match self.session.check(secret, line) {
                Ok(json) => {
                    got.push(Incoming::Request(json.to_vec()));
                    self.in_flight = Some(nl + 1);
                }
                Err(r) => {
                    got.push(Incoming::Refused(r));
                    self.inbuf.clear();
                    return true;
                }
            }
            return false;
        }
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
    fn takes_one_request_at_a_time_and_stops_at_the_first_refusal() {
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
        let one = request_line(&s, &NONCE, 1, b"{\"id\":1,\"body\":\"status\"}");
        let two = request_line(&s, &NONCE, 2, b"{\"id\":2,\"body\":\"status\"}");
        // Replayed, then a good-looking line that must not be taken.
        let replayed = request_line(&s, &NONCE, 2, b"{\"id\":3,\"body\":\"status\"}");
        let after = request_line(&s, &NONCE, 3, b"{\"id\":4,\"body\":\"status\"}");
        let all = [one.clone(), two.clone(), replayed, after].concat();
        client.write_all(&all).expect("send");
        let (got, end) = pump(&mut c);
        assert!(end.is_none(), "{end:?}");
        assert!(matches!(&got[..], [Incoming::Request(j)] if j.starts_with(b"{\"id\":1")));
        // Until it is answered, the first request is owed, with the rest.
        assert!(c.busy());
        let (owed, next) = c.unanswered();
        assert_eq!(next, 1);
        assert!(owed.starts_with(&one) && owed.len() > one.len());
        let mut more = Vec::new();
        assert!(!c.take_lines(&s, &mut more));
        assert!(more.is_empty(), "nothing more while one is served");
        c.send_line(b"{\"id\":1}").expect("reply");
        let mut reply = String::new();
        r.read_line(&mut reply).expect("reply");
        assert_eq!(reply, "{\"id\":1}\n");
        assert!(!c.busy());
        assert_eq!(c.unanswered().1, 2);
        assert!(c.unanswered().0.starts_with(&two));
        assert!(!c.take_lines(&s, &mut more));
        assert!(matches!(&more[..], [Incoming::Request(j)] if j.starts_with(b"{\"id\":2")));
        c.send_line(b"{\"id\":2}").expect("reply");
        more.clear();
        assert!(c.take_lines(&s, &mut more), "a refusal ends the connection");
        assert!(matches!(
            &more[..],
            [Incoming::Refused(Refusal::Replayed { seq: 2, next: 3 })]
        ));
        // Two requests verified: the next must carry 3.
        assert_eq!(c.session.next, 3);
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
