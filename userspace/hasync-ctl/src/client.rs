//! A blocking control API client over one TIPC connection.

use std::collections::VecDeque;
use std::time::Duration;

use hasync_tipc::{SeqPacketStream, ServiceAddr, TIPC_MAX_USER_MSG_SIZE};

use crate::proto::{ChannelsRequest, Request, RequestFrame, Response, ResponseFrame};
use crate::service::Services;

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
    /// The connection failed mid-call: whether a change took effect is
    /// unknown.
    #[error("connection to hasyncd lost: {0}")]
    Io(#[from] hasync_tipc::Error),
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

/// One connection to a daemon.
#[derive(Debug)]
pub struct Client {
    stream: SeqPacketStream,
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
            stream,
            next_id: 1,
            buf: vec![0; TIPC_MAX_USER_MSG_SIZE],
            ready: VecDeque::new(),
        })
    }

    /// The underlying socket (to poll it when pipelining).
    pub fn stream(&self) -> &SeqPacketStream {
        &self.stream
    }

    /// Send a request without waiting; returns its id.
    pub fn send(&mut self, body: Request) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.stream.send(&RequestFrame { id, body }.encode())?;
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
            [one] if one.first() == Some(&b'[') => self.stream.send(one)?,
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
        let n = self.stream.recv(&mut self.buf)?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        let mut frames: VecDeque<ResponseFrame> = ResponseFrame::decode_many(&self.buf[..n])
            .map_err(ClientError::Malformed)?
            .into();
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
            if r.id == id {
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
