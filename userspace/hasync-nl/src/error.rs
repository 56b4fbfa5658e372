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
        if let Some(attr) = self.missing_attr {
            write!(f, " (missing attribute type {attr})")?;
        }
        Ok(())
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
            errno: 22,
            message: Some("opid 9 is not register+1 (7)".into()),
            missing_attr: None,
        };
        assert_eq!(
            e.to_string(),
            "kernel error: Invalid argument: opid 9 is not register+1 (7)"
        );
        let bare = KernelError {
            errno: 1,
            message: None,
            missing_attr: Some(3),
        };
        assert_eq!(
            bare.to_string(),
            "kernel error: Operation not permitted (missing attribute type 3)"
        );
        assert_eq!(Error::from(bare).errno(), Some(1));
    }
}
