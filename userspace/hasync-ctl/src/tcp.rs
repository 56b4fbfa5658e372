//! The client's side of the TCP face: read the greeting, then sign every
//! request line with the connection's nonce and the next sequence number
//! (see [`crate::auth`]); replies are JSON lines.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::auth::{parse_greeting, request_line, Nonce, Secret};

/// Longest reply line read.
const REPLY_MAX: usize = 1 << 20;

/// One authenticated TCP connection.
#[derive(Debug)]
pub struct TcpLink {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    secret: Secret,
    nonce: Nonce,
    next: u64,
    /// The server's address.
    pub addr: SocketAddr,
}

impl TcpLink {
    /// Connects to `addr` (`host:port`) and reads the greeting.
    pub fn connect(addr: &str, secret: Secret, timeout: Duration) -> io::Result<Self> {
        let to = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: no address"))
        })?;
        let stream = TcpStream::connect_timeout(&to, timeout)?;
        stream.set_nodelay(true)?;
        // The greeting comes at once; a silent server is not hasyncd.
        stream.set_read_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let mut greeting = String::new();
        reader.read_line(&mut greeting)?;
        let nonce = parse_greeting(&greeting).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{to} is not a hasyncd TCP face (greeting {:?})",
                    greeting.trim_end()
                ),
            )
        })?;
        reader.get_ref().set_read_timeout(None)?;
        Ok(TcpLink {
            reader,
            writer,
            secret,
            nonce,
            next: 1,
            addr: to,
        })
    }

    /// Signs and sends one request's JSON.
    pub fn send(&mut self, json: &[u8]) -> io::Result<()> {
        let line = request_line(&self.secret, &self.nonce, self.next, json);
        self.next += 1;
        self.writer.write_all(&line)
    }

    /// The next reply line (`None`: the server closed the connection).
    pub fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(REPLY_MAX as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply line over {REPLY_MAX} bytes or cut short"),
            ));
        }
        line.pop();
        Ok(Some(line))
    }

    /// The socket, for poll.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }
}
