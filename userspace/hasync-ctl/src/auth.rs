//! Authentication of control requests that come from off the box.
//!
//! Over TIPC the control API is reachable only from inside the cluster. A
//! TCP face on the service address is reachable by anyone who can route to
//! it, so each of its requests proves that it comes from a holder of the
//! cluster's secret, in a form that survives a failover of the connection
//! itself:
//!
//! - On connect the primary sends a greeting with a fresh 16-byte *nonce*.
//! - Each request is one line, `SEQ MAC JSON`: `SEQ` counts the
//!   connection's requests from 1, `MAC` is the hex HMAC-SHA256 of
//!   [`DOMAIN`], the nonce, `SEQ` (u64, big-endian) and the JSON bytes,
//!   keyed by the secret.
//! - The server takes a request only when its `SEQ` is the next one and
//!   its MAC verifies, before anything is parsed or changed; a missing,
//!   forged, replayed or out-of-order request is refused by name.
//!
//! The connection's whole authentication state is its nonce and the next
//! sequence number ([`Session`]): two numbers the replication stream
//! carries to the standby with the connection, so the standby that takes
//! the connection over checks the client's next request exactly as the
//! lost primary would have. A TLS session would have to move its keys and
//! record sequence numbers out of the TLS library to do the same. The
//! secret never travels: both units read it from a root-only file
//! ([`Secret::load`]).

use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a MAC covers first, so that a MAC for this use is never one for
/// another.
pub const DOMAIN: &[u8] = b"hasync control request v1\0";

/// Fewest secret bytes (the key strength of HMAC-SHA256).
pub const SECRET_MIN: usize = 32;

/// Most secret bytes read.
pub const SECRET_MAX: usize = 1024;

/// Length of a connection's nonce.
pub const NONCE_LEN: usize = 16;

/// Hex digits of a MAC.
pub const MAC_HEX_LEN: usize = 64;

/// A connection's nonce.
pub type Nonce = [u8; NONCE_LEN];

/// Why a secret file is not used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// It cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Group or others may read or write it, or it is not root's.
    #[error(
        "{path}: mode {mode:04o} owner uid {uid}: a secret file must be root's and neither \
         group- nor world-accessible (chown root {path}; chmod 600 {path})"
    )]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// Its owner.
        uid: u32,
    },
    /// Too short or too long.
    #[error("{path}: {len} bytes of secret; {SECRET_MIN} to {SECRET_MAX} needed (e.g. head -c 32 /dev/urandom | xxd -p -c 64 > {path})")]
    Size {
        /// The file.
        path: String,
        /// Its secret's length (trailing newline left out).
        len: usize,
    },
}

/// The cluster's shared secret.
///
/// INVARIANT: `SECRET_MIN..=SECRET_MAX` bytes.
pub struct Secret(Vec<u8>);

impl Secret {
    /// `bytes` as a secret, when of an acceptable length.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (SECRET_MIN..=SECRET_MAX)
            .contains(&bytes.len())
            .then(|| Secret(bytes.to_vec()))
    }

    /// Reads the secret from `path`: a regular file owned by root (or by
    /// the user running this, for tests) that neither group nor others
    /// may access, holding 32 to 1024 bytes; one trailing newline is not
    /// part of the secret, so `xxd -p` output works as it is.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        use std::os::unix::fs::MetadataExt;
        let name = path.display().to_string();
        let read = |source| SecretError::Read {
            path: name.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        let (mode, uid) = (meta.mode() & 0o7777, meta.uid());
        if mode & 0o077 != 0 || (uid != 0 && uid != nix::unistd::geteuid().as_raw()) {
            return Err(SecretError::Exposed {
                path: name,
                mode,
                uid,
            });
        }
        let mut bytes = std::fs::read(path).map_err(read)?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        let len = bytes.len();
        let secret = Secret::new(&bytes).ok_or(SecretError::Size { path: name, len });
        bytes.fill(0);
        secret
    }

    /// The hex MAC of a request (see the module docs).
    pub fn sign(&self, nonce: &Nonce, seq: u64, body: &[u8]) -> String {
        let tag = self.mac(nonce, seq, body).finalize().into_bytes();
        tag.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn mac(&self, nonce: &Nonce, seq: u64, body: &[u8]) -> Hmac<Sha256> {
        // Any key length is valid for HMAC: this cannot fail.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(DOMAIN);
        m.update(nonce);
        m.update(&seq.to_be_bytes());
        m.update(body);
        m
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference; a
            // volatile write keeps the compiler from eliding the wipe of
            // memory it is about to free.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Why a request was refused: before anything of it was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not `SEQ MAC JSON`.
    #[error("unauthenticated request: a request is \"SEQ MAC JSON\" on one line")]
    Unauthenticated,
    /// The MAC does not verify.
    #[error("forged request: its MAC does not verify (wrong secret, or altered on the way)")]
    Forged,
    /// A sequence number already used on this connection.
    #[error("replayed request: sequence number {seq} was used; next is {next}")]
    Replayed {
        /// The request's.
        seq: u64,
        /// The one expected.
        next: u64,
    },
    /// A sequence number past the next one.
    #[error("out-of-order request: sequence number {seq}; next is {next}")]
    Skipped {
        /// The request's.
        seq: u64,
        /// The one expected.
        next: u64,
    },
}

/// One connection's authentication state: what a standby needs to go on
/// checking it after a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The greeting's nonce.
    pub nonce: Nonce,
    /// The sequence number the next request must carry.
    pub next: u64,
}

impl Session {
    /// A new connection's state; `nonce` must be fresh and unpredictable
    /// (the daemon takes it from the kernel's CSPRNG), or a request
    /// recorded on one connection would verify on another.
    pub fn new(nonce: Nonce) -> Self {
        Session { nonce, next: 1 }
    }

    /// The greeting line that opens a connection.
    pub fn greeting(&self) -> String {
        let hex: String = self.nonce.iter().map(|b| format!("{b:02x}")).collect();
        format!("hasync-control 1 nonce {hex}\n")
    }

    /// Checks one request line (without its newline) and returns its
    /// JSON; the sequence number moves on only for a request that
    /// verifies. Order matters: a line that does not verify says nothing
    /// about the sequence, so it is refused as forged whatever its number.
    pub fn check<'a>(&mut self, secret: &Secret, line: &'a [u8]) -> Result<&'a [u8], Refusal> {
        let mut parts = line.splitn(3, |&b| b == b' ');
        let (Some(seq), Some(mac), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Refusal::Unauthenticated);
        };
        let seq = std::str::from_utf8(seq)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(Refusal::Unauthenticated)?;
        let tag = decode_hex(mac).ok_or(Refusal::Unauthenticated)?;
        secret
            .mac(&self.nonce, seq, body)
            .verify_slice(&tag)
            .map_err(|_| Refusal::Forged)?;
        if seq < self.next {
            return Err(Refusal::Replayed {
                seq,
                next: self.next,
            });
        }
        if seq > self.next {
            return Err(Refusal::Skipped {
                seq,
                next: self.next,
            });
        }
        self.next += 1;
        Ok(body)
    }
}

/// A request line as a client writes it (with its newline).
pub fn request_line(secret: &Secret, nonce: &Nonce, seq: u64, json: &[u8]) -> Vec<u8> {
    let mut line = format!("{seq} {} ", secret.sign(nonce, seq, json)).into_bytes();
    line.extend_from_slice(json);
    line.push(b'\n');
    line
}

/// The nonce of a greeting line, when it is one.
pub fn parse_greeting(line: &str) -> Option<Nonce> {
    let hex = line.trim_end().strip_prefix("hasync-control 1 nonce ")?;
    let bytes = decode_hex(hex.as_bytes())?;
    bytes.try_into().ok()
}

/// Lowercase hex of even length, as bytes.
fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || hex.len() > MAC_HEX_LEN {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    hex.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new(&[7u8; 32]).expect("long enough")
    }

    const NONCE: Nonce = [9; NONCE_LEN];

    fn line(s: &Secret, seq: u64, json: &str) -> Vec<u8> {
        let mut l = request_line(s, &NONCE, seq, json.as_bytes());
        l.pop();
        l
    }

    #[test]
    fn requests_in_sequence_verify_and_the_sequence_moves_on() {
        let s = secret();
        let mut session = Session::new(NONCE);
        for seq in 1..=3 {
            let l = line(&s, seq, "{\"status\":{}}");
            assert_eq!(session.check(&s, &l), Ok(&b"{\"status\":{}}"[..]));
        }
        assert_eq!(session.next, 4);
    }

    #[test]
    fn forged_replayed_skipped_and_bare_requests_are_refused_by_name() {
        let s = secret();
        let mut session = Session::new(NONCE);
        let first = line(&s, 1, "{\"status\":{}}");
        assert!(session.check(&s, &first).is_ok());
        // The same line again: replayed.
        assert_eq!(
            session.check(&s, &first),
            Err(Refusal::Replayed { seq: 1, next: 2 })
        );
        // A later number: nothing may be skipped.
        assert_eq!(
            session.check(&s, &line(&s, 5, "{}")),
            Err(Refusal::Skipped { seq: 5, next: 2 })
        );
        // Another secret, an altered body, another connection's nonce.
        let other = Secret::new(&[8u8; 32]).expect("long enough");
        assert_eq!(
            session.check(&s, &line(&other, 2, "{}")),
            Err(Refusal::Forged)
        );
        let mut altered = line(&s, 2, "{\"del\":{\"name\":\"eth0\"}}");
        let n = altered.len();
        altered[n - 3] = b'1';
        assert_eq!(session.check(&s, &altered), Err(Refusal::Forged));
        let elsewhere = request_line(&s, &[1; NONCE_LEN], 2, b"{}");
        assert_eq!(
            session.check(&s, &elsewhere[..elsewhere.len() - 1]),
            Err(Refusal::Forged)
        );
        // Plain JSON, a bad number, a bad MAC: unauthenticated.
        for bare in [
            &b"{\"status\":{}}"[..],
            b"x 00 {}",
            b"2 zz {}",
            b"-2 00 {}",
            b"",
        ] {
            assert_eq!(session.check(&s, bare), Err(Refusal::Unauthenticated));
        }
        // None of that moved the sequence.
        assert_eq!(session.next, 2);
        assert!(session.check(&s, &line(&s, 2, "{}")).is_ok());
    }

    #[test]
    fn a_session_carried_to_another_unit_goes_on_checking() {
        let s = secret();
        let mut lost = Session::new(NONCE);
        assert!(lost.check(&s, &line(&s, 1, "{}")).is_ok());
        // What replication carries: the nonce and the next number.
        let mut taken_over = Session {
            nonce: lost.nonce,
            next: lost.next,
        };
        let same_secret = Secret::new(&[7u8; 32]).expect("long enough");
        assert!(taken_over.check(&same_secret, &line(&s, 2, "{}")).is_ok());
        assert_eq!(
            taken_over.check(&same_secret, &line(&s, 1, "{}")),
            Err(Refusal::Replayed { seq: 1, next: 3 })
        );
    }

    #[test]
    fn the_greeting_carries_the_nonce() {
        let session = Session::new(NONCE);
        assert_eq!(parse_greeting(&session.greeting()), Some(NONCE));
        assert_eq!(parse_greeting("hasync-control 1 nonce 09"), None);
        assert_eq!(parse_greeting("hello"), None);
    }

    #[test]
    fn a_secret_file_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hasync-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = Secret::load(&path).expect_err("world-readable");
        assert!(e.to_string().contains("mode 0644"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let s = Secret::load(&path).expect("private");
        assert_eq!(format!("{s:?}"), "Secret(64 bytes)");
        std::fs::write(&path, "short\n").expect("write");
        let e = Secret::load(&path).expect_err("short");
        assert!(e.to_string().contains("5 bytes of secret"), "{e}");
        let e = Secret::load(&dir.join("absent")).expect_err("absent");
        assert!(e.to_string().contains("absent"), "{e}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
