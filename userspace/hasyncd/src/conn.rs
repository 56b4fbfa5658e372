//! One nonblocking TIPC SEQPACKET connection with an outgoing queue.
//!
//! TIPC connections are reliable and ordered with their own flow control:
//! when the peer's receive window is full, `send` says `EAGAIN` and the
//! frame waits here until the socket is writable again. The queue is
//! bounded: a peer that stops reading is dropped rather than let the
//! daemon's memory grow (the primary then stops waiting for it).

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};

use hasync_tipc::{SeqPacketStream, TipcSocket, TIPC_MAX_USER_MSG_SIZE};

/// Most bytes queued for one peer before it counts as stuck.
pub const QUEUE_MAX_BYTES: usize = 64 << 20;

/// How a connection ended.
#[derive(Debug)]
pub struct End {
    /// The peer closed in order (`shutdown`): a planned end, not a
    /// failure.
    pub planned: bool,
    /// Why, for the log.
    pub why: String,
}

/// A connection.
#[derive(Debug)]
pub struct Conn {
    stream: SeqPacketStream,
    out: VecDeque<Vec<u8>>,
    queued: usize,
}

impl Conn {
    /// Wrap a connected stream (made nonblocking here).
    pub fn new(stream: SeqPacketStream) -> Result<Self, hasync_tipc::Error> {
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            out: VecDeque::new(),
            queued: 0,
        })
    }

    /// The socket, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// The stream.
    pub fn stream(&self) -> &SeqPacketStream {
        &self.stream
    }

    /// Frames are waiting for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Queue a frame and send what the socket takes. Err when the queue
    /// is over its bound or the socket failed: drop the connection.
    pub fn send(&mut self, frame: Vec<u8>) -> Result<(), String> {
        if frame.is_empty() || frame.len() > TIPC_MAX_USER_MSG_SIZE {
            return Err(format!("frame of {} bytes cannot be sent", frame.len()));
        }
        self.queued += frame.len();
        self.out.push_back(frame);
        if self.queued > QUEUE_MAX_BYTES {
            return Err(format!("peer not reading: {} bytes queued", self.queued));
        }
        self.flush()
    }

    /// Send queued frames until the socket would block.
    pub fn flush(&mut self) -> Result<(), String> {
        while let Some(f) = self.out.front() {
            match self.stream.send(f) {
                Ok(()) => {
                    self.queued -= f.len();
                    self.out.pop_front();
                }
                Err(e) if e.is_would_block() => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    /// Serve a poll wakeup: send what waits (when `writable`), then read
    /// every frame ready now. The frames come with the end, if the
    /// connection ended; drop it then.
    pub fn pump(&mut self, writable: bool, buf: &mut [u8]) -> (Vec<Vec<u8>>, Option<End>) {
        let mut frames = Vec::new();
        if writable {
            if let Err(why) = self.flush() {
                return (
                    frames,
                    Some(End {
                        planned: false,
                        why,
                    }),
                );
            }
        }
        loop {
            match self.stream.recv(buf) {
                Ok(0) => {
                    let why = "closed in order".to_owned();
                    return (frames, Some(End { planned: true, why }));
                }
                Ok(n) => frames.push(buf[..n].to_vec()),
                Err(e) if e.is_would_block() => return (frames, None),
                Err(e) => {
                    let why = e.to_string();
                    return (
                        frames,
                        Some(End {
                            planned: false,
                            why,
                        }),
                    );
                }
            }
        }
    }

    /// End in order: the peer reads end-of-stream, not a reset.
    pub fn shutdown(&mut self) {
        let _ = self.flush();
        let _ = self.stream.shutdown();
    }
}
