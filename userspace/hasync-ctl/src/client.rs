//! A blocking control API client over one connection: TIPC, or the TCP
//! face with authenticated requests ([`crate::tcp`]).

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use hasync_tipc::{SeqPacketStream, ServiceAddr, TIPC_MAX_USER_MSG_SIZE};

use crate::proto::{ChannelsRequest, Request, RequestFrame, Response, ResponseFrame};
use crate::service::Services;
use crate::tcp::TcpLink;

/// Why a call failed (a refusal by the daemon is not an error here: it is
/// a [`Response::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody publishes the service.
    #[error("no hasyncd {what} is reachable (TIPC service {service}): {source}")]
    Unreachable {
        /// `primary` or `daemon on this node`.
        what: &'static str,
        /// The service name.
        service: ServiceAddr,
        /// The connect error.
        source: hasync_tipc::Error,
    },
    /// The TCP face cannot be reached or did not greet.
    #[error("no hasyncd TCP face at {addr}: {source}")]
    TcpUnreachable {
        /// The address given.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection failed mid-call: whether a change took effect is
    /// unknown.
    #[error("connection to hasyncd lost: {0}")]
    Io(#[from] hasync_tipc::Error),
    /// The TCP connection failed mid-call.
    #[error("connection to hasyncd lost: {0}")]
    TcpIo(#[from] std::io::Error),
    /// The daemon closed the connection before answering.
    #[error("hasyncd closed the connection before answering")]
    Closed,
    /// Requests to send together exceed one frame; nothing was sent.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The daemon sent something that is not a response frame.
    #[error("malformed reply from hasyncd: {0}")]
    Malformed(String),
}

/// What a client talks over.
#[derive(Debug)]
enum Link {
    Tipc(SeqPacketStream),
    Tcp(TcpLink),
}

/// One connection to a daemon.
#[derive(Debug)]
pub struct Client {
    link: Link,
    next_id: u64,
    buf: Vec<u8>,
    /// Replies received in one message with others, not yet returned.
    ready: VecDeque<ResponseFrame>,
}

impl Client {
    /// Connect to the primary's control service.
    pub fn primary(services: Services, timeout: Duration) -> Result<Self, ClientError> {
        Self::connect(services.control(), "primary", timeout)
    }

    /// Connect to the daemon on this node (status).
    pub fn local(services: Services, timeout: Duration) -> Result<Self, ClientError> {
        Self::connect(services.local(), "daemon on this node", timeout)
    }

    fn connect(
        service: ServiceAddr,
        what: &'static str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = SeqPacketStream::connect_timeout(service, timeout).map_err(|source| {
            ClientError::Unreachable {
                what,
                service,
                source,
            }
        })?;
        Ok(Client {
            link: Link::Tipc(stream),
            next_id: 1,
            buf: vec![0; TIPC_MAX_USER_MSG_SIZE],
            ready: VecDeque::new(),
        })
    }

    /// Connect to the TCP face at `addr` (`host:port`), signing requests
    /// with `secret`.
    pub fn tcp(
        addr: &str,
        secret: crate::auth::Secret,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let link = TcpLink::connect(addr, secret, timeout).map_err(|source| {
            ClientError::TcpUnreachable {
                addr: addr.to_owned(),
                source,
            }
        })?;
        Ok(Client {
            link: Link::Tcp(link),
            next_id: 1,
            buf: Vec::new(),
            ready: VecDeque::new(),
        })
    }

    /// The underlying socket (to poll it when pipelining).
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.link {
            Link::Tipc(s) => s.as_fd(),
            Link::Tcp(l) => l.stream().as_fd(),
        }
    }

    fn send_bytes(&mut self, msg: &[u8]) -> Result<(), ClientError> {
        match &mut self.link {
            Link::Tipc(s) => s.send(msg)?,
            Link::Tcp(l) => l.send(msg)?,
        }
        Ok(())
    }

    /// Send a request without waiting; returns its id.
    pub fn send(&mut self, body: Request) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_bytes(&RequestFrame { id, body }.encode())?;
        Ok(id)
    }

    /// Send requests in one message (a JSON array): the daemon then
    /// answers this connection with arrays of the replies ready together.
    /// Returns their ids. As many as fit one frame; more is an error
    /// naming the size.
    pub fn send_many(&mut self, bodies: Vec<Request>) -> Result<Vec<u64>, ClientError> {
        let first = self.next_id;
        let frames: Vec<Vec<u8>> = bodies
            .into_iter()
            .map(|body| {
                let id = self.next_id;
                self.next_id += 1;
                RequestFrame { id, body }.encode()
            })
            .collect();
        match crate::proto::pack(&frames).as_slice() {
            [one] if one.first() == Some(&b'[') => {
                let one = one.clone();
                self.send_bytes(&one)?
            }
            packed => {
                let bytes: usize = packed.iter().map(Vec::len).sum();
                return Err(ClientError::TooLarge(format!(
                    "{} requests of {bytes} bytes do not fit one frame",
                    frames.len()
                )));
            }
        }
        Ok((first..self.next_id).collect())
    }

    /// Wait for the next reply (any id).
    pub fn recv(&mut self) -> Result<ResponseFrame, ClientError> {
        if let Some(r) = self.ready.pop_front() {
            return Ok(r);
        }
        let decoded = match &mut self.link {
            Link::Tipc(s) => match s.recv(&mut self.buf)? {
                0 => return Err(ClientError::Closed),
                n => ResponseFrame::decode_many(&self.buf[..n]),
            },
            Link::Tcp(l) => match l.recv()? {
                None => return Err(ClientError::Closed),
                Some(line) => ResponseFrame::decode_many(&line),
            },
        };
        let mut frames: VecDeque<ResponseFrame> = decoded.map_err(ClientError::Malformed)?.into();
        let first = frames.pop_front().ok_or(ClientError::Closed)?;
        self.ready = frames;
        Ok(first)
    }

    /// Replies already received and not yet returned by [`Client::recv`]
    /// (poll the socket only when there are none).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Send one request and wait for its reply.
    pub fn call(&mut self, body: Request) -> Result<Response, ClientError> {
        let id = self.send(body)?;
        loop {
            let r = self.recv()?;
            // Id 0 is the daemon refusing the connection's input as a
            // whole (a malformed or unauthenticated request) just before it
            // closes the connection: that is this call's answer too.
            if r.id == id || (r.id == 0 && matches!(r.body, Response::Error(_))) {
                return Ok(r.body);
            }
        }
    }

    /// `status` with every channel: the reply to [`Request::Status`] and
    /// then, while channels were left out, [`Request::Channels`] pages
    /// (see [`follow_pages`]). A reply that is neither (a refusal) is
    /// returned as it came.
    pub fn status_all(&mut self) -> Result<Response, ClientError> {
        let first = self.call(Request::Status)?;
        follow_pages(first, |from| {
            self.call(Request::Channels(ChannelsRequest { from }))
        })
    }
}

/// Completes a `status` reply: while its channel list is cut (a
/// `next_channel`, then a page's `next`), `fetch(from)` asks for the next
/// page and its channels are appended. The result has no `next_channel`.
/// Pages are snapshots of their own moment: a channel added or removed
/// during the walk may be missing, never listed twice. A page that does not
/// advance is [`ClientError::Malformed`], so a walk always ends; a reply
/// that is neither a status nor a page is returned as it came.
pub fn follow_pages(
    first: Response,
    mut fetch: impl FnMut(u32) -> Result<Response, ClientError>,
) -> Result<Response, ClientError> {
    let Response::Status(mut s) = first else {
        return Ok(first);
    };
    let mut next = s.next_channel.take();
    while let Some(from) = next {
        match fetch(from)? {
            Response::Channels(page) => {
                if let Some(n) = page.next.filter(|&n| n <= from) {
                    return Err(ClientError::Malformed(format!(
                        "the channel page from {from} does not advance (next {n})"
                    )));
                }
                s.channels
                    .extend(page.channels.into_iter().filter(|c| c.id >= from));
                next = page.next;
            }
            other => return Ok(other),
        }
    }
    Ok(Response::Status(s))
}
