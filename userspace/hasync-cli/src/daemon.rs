//! Talking to `hasyncd` over its control API (`hasync-ctl`): the global
//! options that name the deployment's TIPC services (or, with `--connect`,
//! the primary's TCP face and the secret to sign requests with), one
//! request per connection, and errors a person can act on.
//!
//! A refusal prints as `hasync: KIND: MESSAGE [(primary is NODE)]`. A
//! connection that fails after the request was sent leaves its effect
//! unknown, and the message says so for the commands that change state.

use std::fmt;
use std::time::Duration;

use hasync_ctl::service::{DEFAULT_INSTANCE, DEFAULT_SERVICE_TYPE};
use hasync_ctl::{Client, ClientError, CtlError, ReleasesReply, Request, Response, Services};

/// Which daemon a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// Whichever daemon is primary, wherever it runs (changes, switchover,
    /// audit).
    Primary,
    /// The daemon on this node (status).
    Local,
}

/// Options of the commands that talk to `hasyncd`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Daemon options")]
pub struct Opts {
    /// TIPC service type of the deployment (hasyncd's [tipc] service_type).
    #[arg(
        long,
        global = true,
        value_name = "N",
        default_value_t = DEFAULT_SERVICE_TYPE,
        value_parser = clap::value_parser!(u32).range(64..=i64::from(u32::MAX - 2))
    )]
    pub service_type: u32,

    /// TIPC instance of the deployment (hasyncd's [tipc] instance).
    #[arg(long, global = true, value_name = "N", default_value_t = DEFAULT_INSTANCE)]
    pub instance: u32,

    /// How long to wait for the connection to the daemon, in milliseconds.
    #[arg(
        long,
        global = true,
        value_name = "MS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub timeout: u64,

    /// Talk to the primary's TCP face at ADDR:PORT (hasyncd's [tcp] listen)
    /// instead of over TIPC; every request is signed with --secret.
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub connect: Option<String>,

    /// The cluster's secret file, for --connect (hasyncd's [tcp] secret).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "/etc/hasync/control.key"
    )]
    pub secret: std::path::PathBuf,
}

/// Why a request to the daemon did not get an answer to print.
#[derive(Debug)]
pub enum Error {
    /// No daemon publishes the service.
    Unreachable(ClientError),
    /// The daemon refused; nothing changed.
    Refused(CtlError),
    /// The connection failed after the request was sent; `outcome` says
    /// what that leaves unknown.
    Lost {
        /// What failed.
        source: ClientError,
        /// E.g. "the change may or may not have been applied".
        outcome: Option<&'static str>,
    },
    /// The secret for `--connect` cannot be used.
    Secret(hasync_ctl::auth::SecretError),
    /// A reply of the wrong kind for the request.
    Unexpected {
        /// The request, for the message.
        asked: &'static str,
        /// The reply, as JSON.
        got: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unreachable(e) => write!(f, "{e}"),
            Error::Refused(e) => {
                write!(f, "{}", e.kind)?;
                if !e.message.is_empty() {
                    write!(f, ": {}", e.message)?;
                }
                if let Some(p) = &e.primary {
                    write!(f, " (primary is {p})")?;
                }
                Ok(())
            }
            Error::Lost { source, outcome } => {
                write!(f, "{source}")?;
                match outcome {
                    Some(o) => write!(f, "; {o}"),
                    None => Ok(()),
                }
            }
            Error::Unexpected { asked, got } => {
                write!(f, "unexpected reply from hasyncd to {asked}: {got}")
            }
            Error::Secret(e) => write!(f, "--secret {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unreachable(e) | Error::Lost { source: e, .. } => Some(e),
            Error::Secret(e) => Some(e),
            Error::Refused(_) | Error::Unexpected { .. } => None,
        }
    }
}

/// A reply that does not answer `asked`.
pub fn unexpected(asked: &'static str, got: &Response) -> Error {
    Error::Unexpected {
        asked,
        got: serde_json::to_string(got).unwrap_or_else(|_| format!("{got:?}")),
    }
}

impl Opts {
    /// The deployment's service names.
    pub fn services(&self) -> Services {
        Services {
            service_type: self.service_type,
            instance: self.instance,
        }
    }

    /// Sends `request` to `daemon` on a new connection and waits for its
    /// answer; a refusal is an [`Error::Refused`]. `outcome` describes what
    /// a connection lost after sending leaves unknown (`None` for reads).
    pub fn call(
        &self,
        daemon: Daemon,
        request: Request,
        outcome: Option<&'static str>,
    ) -> Result<Response, Error> {
        self.exchange(daemon, outcome, |c| c.call(request))
    }

    /// Talks to the daemon on this node with `talk` on a connection of its
    /// own (streams: `hasync monitor daemon`).
    pub fn exchange_local(
        &self,
        talk: impl FnOnce(&mut Client) -> Result<Response, ClientError>,
    ) -> Result<Response, Error> {
        self.exchange(Daemon::Local, None, talk)
    }

    /// The status of the daemon on this node with every channel, however
    /// many replies that takes ([`Client::status_all`]), and on the same
    /// connection its releases (`None` from a first-release daemon, which
    /// does not know the request).
    pub fn status_and_releases(&self) -> Result<(Response, Option<ReleasesReply>), Error> {
        let mut releases = None;
        let status = self.exchange(Daemon::Local, None, |c| {
            let s = c.status_all()?;
            if let Ok(Response::Releases(r)) = c.call(Request::Releases) {
                releases = Some(r);
            }
            Ok(s)
        })?;
        Ok((status, releases))
    }

    /// Runs `talk` on a new connection to `daemon`; as [`Opts::call`].
    fn exchange(
        &self,
        daemon: Daemon,
        outcome: Option<&'static str>,
        talk: impl FnOnce(&mut Client) -> Result<Response, ClientError>,
    ) -> Result<Response, Error> {
        let timeout = Duration::from_millis(self.timeout);
        let mut client = match (&self.connect, daemon) {
            // Over TCP there is one daemon to reach: the primary.
            (Some(addr), _) => {
                let secret = hasync_ctl::auth::Secret::load(&self.secret).map_err(Error::Secret)?;
                Client::tcp(addr, secret, timeout)
            }
            (None, Daemon::Primary) => Client::primary(self.services(), timeout),
            (None, Daemon::Local) => Client::local(self.services(), timeout),
        }
        .map_err(Error::Unreachable)?;
        match talk(&mut client) {
            Ok(Response::Error(e)) => Err(Error::Refused(e)),
            Ok(r) => Ok(r),
            Err(source) => Err(Error::Lost { source, outcome }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_ctl::{ErrorKind, SwitchoverReply};

    #[test]
    fn refusals_read_like_the_other_errors() {
        let e = Error::Refused(CtlError {
            kind: ErrorKind::NotPrimary,
            message: "this node is a standby".into(),
            primary: Some("cu-a".into()),
        });
        assert_eq!(
            e.to_string(),
            "not the primary: this node is a standby (primary is cu-a)"
        );
        let e = Error::Refused(CtlError {
            kind: ErrorKind::Busy,
            message: String::new(),
            primary: None,
        });
        assert_eq!(e.to_string(), "busy");
        let e = Error::Lost {
            source: ClientError::Closed,
            outcome: Some("the change may or may not have been applied"),
        };
        assert_eq!(
            e.to_string(),
            "hasyncd closed the connection before answering; \
             the change may or may not have been applied"
        );
        let e = unexpected(
            "status",
            &Response::Switchover(SwitchoverReply { to: "cu-b".into() }),
        );
        assert_eq!(
            e.to_string(),
            "unexpected reply from hasyncd to status: {\"switchover\":{\"to\":\"cu-b\"}}"
        );
    }
}
