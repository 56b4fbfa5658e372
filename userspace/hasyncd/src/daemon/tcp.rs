//! The control API's TCP face (`[tcp]`): while primary, the unit holds
//! the service address and listens on it; every request line is
//! authenticated before it is parsed (`hasync_ctl::auth`), and a client
//! outside the allowed networks is closed at accept. Requests then take
//! the same path as over TIPC (`control.rs`).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};

use hasync_ctl::auth::{Nonce, Refusal, Secret, Session, NONCE_LEN};
use hasync_ctl::{ErrorKind, RequestFrame, ResponseFrame};
use nix::poll::PollFlags;

use super::{Daemon, DaemonError, CONTROL_CONNS_MAX};
use crate::config::TcpFace;
use crate::service_addr::ServiceAddr;
use crate::tcp_conn::{Incoming, TcpConn};

/// Refusals on the TCP face, by reason.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpRefusals {
    /// Clients outside `tcp.allow`, closed at accept.
    pub source: u64,
    /// Lines without `SEQ MAC`.
    pub unauthenticated: u64,
    /// MACs that did not verify.
    pub forged: u64,
    /// Sequence numbers used before or skipped.
    pub replayed: u64,
    /// Lines over the length limit.
    pub too_long: u64,
}

/// The TCP face's state.
pub(super) struct Tcp {
    pub(super) cfg: TcpFace,
    secret: Secret,
    addr: ServiceAddr,
    listener: Option<TcpListener>,
    pub(super) conns: BTreeMap<u64, TcpConn>,
    pub(super) refused: TcpRefusals,
}

impl Tcp {
    /// Reads the secret and makes sure this unit does not hold the
    /// service address (a unit that restarts is not primary yet).
    pub(super) fn start(cfg: TcpFace) -> Result<Self, DaemonError> {
        let secret =
            Secret::load(&cfg.secret).map_err(|e| DaemonError::Os(format!("tcp.secret: {e}")))?;
        let addr = ServiceAddr {
            ip: *cfg.listen.ip(),
            prefix: cfg.prefix,
            interface: cfg.interface.clone(),
        };
        addr.release().map_err(|e| {
            DaemonError::Os(format!(
                "tcp: cannot clear {} from {}: {e}",
                addr.ip, addr.interface
            ))
        })?;
        Ok(Tcp {
            cfg,
            secret,
            addr,
            listener: None,
            conns: BTreeMap::new(),
            refused: TcpRefusals::default(),
        })
    }

    pub(super) fn listener(&self) -> Option<&TcpListener> {
        self.listener.as_ref()
    }
}

/// A fresh nonce from the kernel's CSPRNG.
fn nonce() -> std::io::Result<Nonce> {
    let mut n = [0u8; NONCE_LEN];
    // SAFETY: `n` is valid for writes of its length.
    let got = unsafe { libc::getrandom(n.as_mut_ptr().cast(), n.len(), 0) };
    if got != n.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n)
}

impl Daemon {
    /// Becoming primary: take the address, announce it, listen.
    pub(super) fn tcp_up(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        if tcp.listener.is_some() {
            return;
        }
        if let Err(e) = tcp.addr.take() {
            tracing::error!(address = %tcp.addr.ip, interface = %tcp.addr.interface, error = %e,
                "cannot take the service address; the TCP face stays down");
            return;
        }
        let listen = tcp.cfg.listen;
        match TcpListener::bind(listen).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        }) {
            Ok(l) => {
                tracing::info!(%listen, interface = %tcp.addr.interface, "service address taken; TCP face listening");
                tcp.listener = Some(l);
            }
            Err(e) => {
                tracing::error!(%listen, error = %e, "cannot listen on the service address");
                let _ = tcp.addr.release();
            }
        }
    }

    /// No longer primary: stop listening, end the connections, give the
    /// address up.
    pub(super) fn tcp_down(&mut self) {
        let Some(tcp) = &mut self.tcp else { return };
        if tcp.listener.take().is_none() && tcp.conns.is_empty() {
            return;
        }
        for (_, mut c) in std::mem::take(&mut tcp.conns) {
            c.shutdown();
        }
        match tcp.addr.release() {
            Ok(()) => tracing::info!(address = %tcp.addr.ip, "service address given up"),
            Err(e) => {
                tracing::error!(address = %tcp.addr.ip, error = %e, "cannot give up the service address")
            }
        }
    }

    pub(super) fn accept_tcp(&mut self) {
        loop {
            let Some(tcp) = &mut self.tcp else { return };
            let Some(l) = &tcp.listener else { return };
            let (stream, from) = match l.accept() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!(error = %e, "accept on the TCP face failed");
                    return;
                }
            };
            let SocketAddr::V4(peer) = from else {
                continue;
            };
            if !tcp.cfg.allows(*peer.ip()) {
                tcp.refused.source += 1;
                tracing::warn!(client = %peer, "TCP client outside tcp.allow refused");
                continue;
            }
            if tcp.conns.len() + self.ctl.len() >= CONTROL_CONNS_MAX {
                tracing::warn!(client = %peer, "too many control connections; refusing one");
                continue;
            }
            let conn = nonce().and_then(|n| TcpConn::new(stream, peer, Session::new(n)));
            match conn {
                Ok(c) => {
                    let t = self.token();
                    tracing::debug!(client = %peer, "TCP control connection");
                    if let Some(tcp) = &mut self.tcp {
                        tcp.conns.insert(t, c);
                    }
                }
                Err(e) => tracing::warn!(client = %peer, error = %e, "TCP connection setup failed"),
            }
        }
    }

    pub(super) fn on_tcp(&mut self, t: u64, flags: PollFlags) {
        let Some(tcp) = &mut self.tcp else { return };
        let Some(c) = tcp.conns.get_mut(&t) else {
            return;
        };
        let (got, end) = c.pump(
            flags.contains(PollFlags::POLLOUT),
            &tcp.secret,
            &mut self.buf,
        );
        let peer = c.peer;
        for inc in got {
            match inc {
                Incoming::Request(json) => match RequestFrame::decode_many(&json) {
                    Ok((reqs, array)) => {
                        if array {
                            self.batched.entry(t).or_default();
                        }
                        for req in reqs {
                            self.request(t, req);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(client = %peer, error = %e, "malformed control request; closing the connection");
                        return self.refuse_tcp(t, ErrorKind::BadRequest, e);
                    }
                },
                Incoming::Refused(r) => {
                    if let Some(tcp) = &mut self.tcp {
                        match r {
                            Refusal::Unauthenticated => tcp.refused.unauthenticated += 1,
                            Refusal::Forged => tcp.refused.forged += 1,
                            Refusal::Replayed { .. } | Refusal::Skipped { .. } => {
                                tcp.refused.replayed += 1
                            }
                        }
                    }
                    tracing::warn!(client = %peer, refusal = %r, "TCP control request refused; closing the connection");
                    return self.refuse_tcp(t, ErrorKind::Unauthorized, r.to_string());
                }
                Incoming::TooLong => {
                    if let Some(tcp) = &mut self.tcp {
                        tcp.refused.too_long += 1;
                    }
                    tracing::warn!(client = %peer, "TCP control line too long; closing the connection");
                    let e = format!("request line over {} bytes", crate::tcp_conn::LINE_MAX);
                    return self.refuse_tcp(t, ErrorKind::BadRequest, e);
                }
            }
        }
        if end.is_some() {
            self.close_ctl(t);
        }
    }

    /// Answers with one error, then ends the connection.
    fn refuse_tcp(&mut self, t: u64, kind: ErrorKind, message: String) {
        self.batched.remove(&t);
        self.reply(t, ResponseFrame::error(0, kind, message));
        if let Some(c) = self.tcp.as_mut().and_then(|tcp| tcp.conns.get_mut(&t)) {
            c.shutdown();
        }
        self.close_ctl(t);
    }
}
