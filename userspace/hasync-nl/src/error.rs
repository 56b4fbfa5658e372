//! Errors of the netlink client.

use std::{fmt, io};

use thiserror::Error;

use crate::attr::{ParseError, TooLarge};

/// Everything that can go wrong talking to the kernel module.
#[derive(Debug, Error)]
pub enum Error {
    /// The family is not registered: the module is not loaded.
    #[error("generic netlink family \"{0}\" not found (is {0}.ko loaded?)")]
    FamilyNotFound(String),
    /// The kernel answered with an error.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The socket itself failed.
    #[error("netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel's answer could not be understood.
    #[error("malformed reply from the kernel: {0}")]
    Reply(#[from] ParseError),
    /// A request could not be encoded.
    #[error("cannot encode request: {0}")]
    Encode(#[from] TooLarge),
    /// A request has no netlink form.
    #[error("cannot encode {0}")]
    Unencodable(&'static str),
    /// The family lacks a multicast group this version needs.
    #[error("generic netlink family has no multicast group \"{0}\"")]
    NoGroup(String),
    /// The kernel acknowledged a request that should have had a reply.
    #[error("kernel sent no reply to {0}")]
    NoReply(&'static str),
}

impl Error {
    /// The errno the kernel answered with, if it did.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel(k) => Some(k.errno),
            _ => None,
        }
    }

    /// The kernel answered `ENOENT`: what was asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(libc::ENOENT)
    }
}

/// An `NLMSG_ERROR` from the kernel, with its extended ACK if it had one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct KernelError {
    /// Positive errno (`EINVAL`, not `-EINVAL`).
    pub errno: i32,
    /// The extack message (`NLMSGERR_ATTR_MSG`): the kernel's own words on
    /// what was wrong, usually naming the attribute.
    pub message: Option<String>,
    /// The attribute type the kernel found missing (`NLMSGERR_ATTR_MISS_TYPE`),
    /// which it reports without a message.
    pub missing_attr: Option<u32>,
    /// Where in the request the offending attribute starts
    /// (`NLMSGERR_ATTR_OFFS`, from the netlink header).
    pub bad_offset: Option<u32>,
    /// That attribute's dotted spec path (`op.iface.name`), filled in by
    /// the client that sent the request.
    pub bad_attr: Option<String>,
    /// The extack cookie (`NLMSGERR_ATTR_COOKIE`), raw: hasync puts the
    /// register there with `EPROTO` and the owner epoch with `ESTALE`.
    pub cookie: Option<Vec<u8>>,
}

impl KernelError {
    /// An error with only an errno.
    pub fn new(errno: i32) -> Self {
        KernelError {
            errno,
            message: None,
            missing_attr: None,
            bad_offset: None,
            bad_attr: None,
            cookie: None,
        }
    }

    /// For an update rejected because its opid is not register + 1
    /// (`EPROTO`): the channel's register, from the 8-byte extack cookie.
    pub fn gap_register(&self) -> Option<u64> {
        let bytes = self.cookie.as_deref()?.try_into().ok()?;
        (self.errno == libc::EPROTO).then(|| u64::from_ne_bytes(bytes))
    }

    /// For a request fenced by a newer owner (`ESTALE`): the channel's owner
    /// epoch, from the 4-byte extack cookie.
    pub fn fenced_epoch(&self) -> Option<u32> {
        let bytes = self.cookie.as_deref()?.try_into().ok()?;
        (self.errno == libc::ESTALE).then(|| u32::from_ne_bytes(bytes))
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std renders "<strerror> (os error N)"; the number is noise here.
        let os = io::Error::from_raw_os_error(self.errno).to_string();
        let suffix = format!(" (os error {})", self.errno);
        write!(
            f,
            "kernel error: {}",
            os.strip_suffix(&suffix).unwrap_or(&os)
        )?;
        if let Some(msg) = &self.message {
            write!(f, ": {msg}")?;
        }
        if let Some(path) = &self.bad_attr {
            write!(f, " (attribute {path})")?;
        }
        if let Some(attr) = self.missing_attr {
            write!(f, " (missing attribute type {attr})")?;
        }
        // The value from the cookie, in words scripts can match, unless
        // the kernel's message already says it so.
        let value = match (self.gap_register(), self.fenced_epoch()) {
            (Some(register), _) => Some(format!("register {register}")),
            (None, Some(epoch)) => Some(format!("owner epoch {epoch}")),
            (None, None) => None,
        };
        match value {
            Some(v) if !self.message.as_deref().unwrap_or("").contains(&v) => write!(f, " ({v})"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_not_found_names_the_module() {
        assert_eq!(
            Error::FamilyNotFound("hasync".into()).to_string(),
            "generic netlink family \"hasync\" not found (is hasync.ko loaded?)"
        );
    }

    #[test]
    fn kernel_error_shows_strerror_and_extack() {
        let e = KernelError {
            message: Some("bad attribute mtu".into()),
            ..KernelError::new(22)
        };
        assert_eq!(
            e.to_string(),
            "kernel error: Invalid argument: bad attribute mtu"
        );
        let bare = KernelError {
            missing_attr: Some(3),
            ..KernelError::new(1)
        };
        assert_eq!(
            bare.to_string(),
            "kernel error: Operation not permitted (missing attribute type 3)"
        );
        assert_eq!(Error::from(bare).errno(), Some(1));
        let policy = KernelError {
            message: Some("integer out of range".into()),
            bad_offset: Some(28),
            bad_attr: Some("sections".into()),
            ..KernelError::new(libc::ERANGE)
        };
        assert_eq!(
            policy.to_string(),
            "kernel error: Numerical result out of range: integer out of range (attribute sections)"
        );
    }

    #[test]
    fn gap_and_fence_cookies_decode_by_errno_and_size() {
        let gap = KernelError {
            message: Some("opid 9 is not register + 1".into()),
            cookie: Some(7u64.to_ne_bytes().to_vec()),
            ..KernelError::new(libc::EPROTO)
        };
        assert_eq!(gap.gap_register(), Some(7));
        assert_eq!(gap.fenced_epoch(), None);
        assert_eq!(
            gap.to_string(),
            "kernel error: Protocol error: opid 9 is not register + 1 (register 7)"
        );
        let fenced = KernelError {
            cookie: Some(3u32.to_ne_bytes().to_vec()),
            ..KernelError::new(libc::ESTALE)
        };
        assert_eq!(fenced.fenced_epoch(), Some(3));
        assert_eq!(fenced.gap_register(), None);
        assert!(fenced.to_string().ends_with(" (owner epoch 3)"), "{fenced}");
        // Not twice when the kernel's message already says it.
        let said = KernelError {
            message: Some("opid 9 is not register + 1 (register 7)".into()),
            ..gap.clone()
        };
        assert_eq!(
            said.to_string(),
            "kernel error: Protocol error: opid 9 is not register + 1 (register 7)"
        );
        // Wrong size or wrong errno: no value, and no claim in the text.
        let short = KernelError {
            cookie: Some(vec![1, 2, 3]),
            ..KernelError::new(libc::EPROTO)
        };
        assert_eq!(short.gap_register(), None);
        let other = KernelError {
            cookie: Some(7u64.to_ne_bytes().to_vec()),
            ..KernelError::new(libc::EINVAL)
        };
        assert_eq!(other.gap_register(), None);
        assert!(!other.to_string().contains("register"));
    }
}
