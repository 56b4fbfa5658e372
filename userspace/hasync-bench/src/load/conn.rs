//! Reaching the primary and waiting for its replies: connect by service
//! name with retries up to a deadline, and `poll(2)` on the connection.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::thread;
use std::time::{Duration, Instant};

use hasync_ctl::{Client, ClientError, Request, ResponseFrame, Services};

/// A connection to the primary as the load loop uses it: a [`Client`],
/// or a fake daemon in the tests.
pub trait Conn {
    /// Sends a request without waiting; its id.
    fn send(&mut self, body: Request) -> Result<u64, ClientError>;
    /// Sends requests in one message; their ids. (The daemon then answers
    /// with replies in arrays.)
    fn send_many(&mut self, bodies: Vec<Request>) -> Result<Vec<u64>, ClientError> {
        bodies.into_iter().map(|b| self.send(b)).collect()
    }
    /// Replies received and not yet returned by `recv`.
    fn has_ready(&self) -> bool {
        false
    }
    /// The next reply; call when [`Conn::fd`] is readable.
    fn recv(&mut self) -> Result<ResponseFrame, ClientError>;
    /// The descriptor to poll.
    fn fd(&self) -> BorrowedFd<'_>;
}

impl Conn for Client {
    fn send(&mut self, body: Request) -> Result<u64, ClientError> {
        Client::send(self, body)
    }

    fn send_many(&mut self, bodies: Vec<Request>) -> Result<Vec<u64>, ClientError> {
        Client::send_many(self, bodies)
    }

    fn recv(&mut self) -> Result<ResponseFrame, ClientError> {
        Client::recv(self)
    }

    fn has_ready(&self) -> bool {
        Client::has_ready(self)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

/// Pause between connection attempts while nobody publishes the service.
const RETRY: Duration = Duration::from_millis(100);
/// Longest wait for one connection attempt.
const ATTEMPT: Duration = Duration::from_secs(2);

/// Why no connection was made.
#[derive(Debug)]
pub enum Failure {
    /// `stop()` said to give up.
    Stopped,
    /// The deadline passed; the last attempt's error.
    Deadline(ClientError),
}

/// Connects to the primary's control service, trying until `deadline`
/// (at least once) or until `stop()` is true.
pub fn reach_primary(
    services: Services,
    deadline: Instant,
    stop: &mut dyn FnMut() -> bool,
) -> Result<Client, Failure> {
    loop {
        if stop() {
            return Err(Failure::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = left.clamp(Duration::from_millis(1), ATTEMPT);
        match Client::primary(services, attempt) {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => return Err(Failure::Deadline(e)),
            Err(_) => {
                let left = deadline.saturating_duration_since(Instant::now());
                thread::sleep(RETRY.min(left));
            }
        }
    }
}

/// Waits at most `timeout` for `fd` to be readable (or hung up, or in
/// error: the next `recv` says which). `false` on timeout or a signal.
pub fn wait_readable(fd: &impl AsFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // Rounded up, so that a short wait does not become a busy loop.
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfd` is one initialised pollfd that lives across the call,
    // and nfds says one; `fd` is borrowed, so the descriptor stays open.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::Interrupted => Ok(false),
            _ => Err(e),
        };
    }
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn poll_sees_data_and_hangup() {
        let (mut a, b) = UnixStream::pair().expect("socketpair");
        assert!(!wait_readable(&b, Duration::from_millis(1)).expect("polls"));
        a.write_all(b"x").expect("writes");
        assert!(wait_readable(&b, Duration::from_secs(5)).expect("polls"));
        let (a, b) = UnixStream::pair().expect("socketpair");
        drop(a);
        assert!(wait_readable(&b, Duration::ZERO).expect("polls"));
    }

    #[test]
    fn stop_is_asked_first() {
        let far = Instant::now() + Duration::from_secs(60);
        assert!(matches!(
            reach_primary(Services::default(), far, &mut || true),
            Err(Failure::Stopped)
        ));
        // Nobody publishes this service (and build hosts often lack
        // TIPC): one attempt, then the deadline that has already passed.
        let nobody = Services {
            service_type: 4_000_000_000,
            instance: 77,
        };
        assert!(matches!(
            reach_primary(nobody, Instant::now(), &mut || false),
            Err(Failure::Deadline(_))
        ));
    }
}
