//! The link tolerance of this node's TIPC bearers, over TIPC's generic
//! netlink family `TIPCv2` (`<linux/tipc_netlink.h>`): what `tipc bearer
//! get/set tolerance` does, without the `tipc` tool.
//!
//! The tolerance is how long a link may stay silent before TIPC resets it
//! and reports the peer node lost. In Linux 6.12 `TIPC_NL_BEARER_SET` with
//! `TIPC_NLA_PROP_TOL` (`__tipc_nl_bearer_set()`, `net/tipc/bearer.c`):
//!
//! * stores it in the bearer, and every link created on the bearer later
//!   starts with it (`tipc_node_check_dest()` → `tipc_link_create(…,
//!   b->tolerance, …)`): a link re-created after a node comes back needs
//!   nothing more;
//! * applies it to the bearer's existing links (`tipc_node_apply_property()`
//!   → `tipc_link_set_tolerance()`), each of which also advertises it to
//!   its peer in a STATE message, and the peer's end adopts it.
//!
//! Each end of a link supervises the peer with its own value: it starts
//! from its own bearer's (RESET and ACTIVATE messages advertise none), and
//! adopts a value the other end sets later (`tipc_link_proto_rcv()`). So
//! nodes that all set the same value agree; a peer that never sets one
//! keeps TIPC's default on its end.
//!
//! The numbers below are the uapi's; the encoders and the parser are pure
//! functions tested on any host; [`TipcConfig`] is the socket.

use hasync_nl::attr::{set_once, AttrWriter, Attrs, ParseError};
use hasync_nl::nlmsg::flags;
use hasync_nl::Genl;
use thiserror::Error;

/// `TIPC_GENL_V2_NAME`.
pub const TIPC_GENL_V2_NAME: &str = "TIPCv2";
/// `TIPC_GENL_V2_VERSION`.
const TIPC_GENL_V2_VERSION: u8 = 1;

// enum { TIPC_NL_UNSPEC, TIPC_NL_LEGACY, TIPC_NL_BEARER_DISABLE,
// TIPC_NL_BEARER_ENABLE, TIPC_NL_BEARER_GET, TIPC_NL_BEARER_SET, … }
const TIPC_NL_BEARER_GET: u8 = 4;
const TIPC_NL_BEARER_SET: u8 = 5;
// Top-level attributes: TIPC_NLA_BEARER (nest).
const TIPC_NLA_BEARER: u16 = 1;
// Bearer attributes: TIPC_NLA_BEARER_NAME (string), _PROP (nest).
const TIPC_NLA_BEARER_NAME: u16 = 1;
const TIPC_NLA_BEARER_PROP: u16 = 2;
// Link properties: TIPC_NLA_PROP_PRIO, _TOL, _WIN, … (u32 each).
const TIPC_NLA_PROP_TOL: u16 = 2;

/// `TIPC_MIN_LINK_TOL` (`<linux/tipc_config.h>`), in ms.
pub const TIPC_MIN_LINK_TOL: u32 = 50;
/// `TIPC_DEF_LINK_TOL`: what a bearer starts with, in ms.
pub const TIPC_DEF_LINK_TOL: u32 = 1500;
/// `TIPC_MAX_LINK_TOL`, in ms.
pub const TIPC_MAX_LINK_TOL: u32 = 30000;

/// What can go wrong reading or setting a bearer's tolerance.
#[derive(Debug, Error)]
pub enum ToleranceError {
    /// No `TIPCv2` family: the kernel has no TIPC (module not loaded).
    #[error(
        "TIPC is not available: no \"TIPCv2\" generic netlink family (is the tipc module loaded?)"
    )]
    NoTipc,
    /// A tolerance the kernel would refuse with `EINVAL`.
    #[error("link tolerance {0} ms is outside TIPC's range {TIPC_MIN_LINK_TOL} to {TIPC_MAX_LINK_TOL} ms")]
    OutOfRange(u32),
    /// The kernel refused to set a bearer's tolerance.
    #[error("bearer {bearer}: cannot set the link tolerance: {source}{}", eperm_hint(.source))]
    Set {
        /// The bearer's name (`eth:eth0`).
        bearer: String,
        /// What the kernel said.
        #[source]
        source: hasync_nl::Error,
    },
    /// The socket, the family lookup or the bearer dump failed.
    #[error("TIPC netlink: {0}")]
    Netlink(#[from] hasync_nl::Error),
}

impl ToleranceError {
    /// The errno the kernel answered with, if it did (`EPERM` without
    /// `CAP_NET_ADMIN`).
    pub fn errno(&self) -> Option<i32> {
        match self {
            ToleranceError::Set { source, .. } | ToleranceError::Netlink(source) => source.errno(),
            _ => None,
        }
    }
}

fn eperm_hint(e: &hasync_nl::Error) -> &'static str {
    if e.errno() == Some(libc::EPERM) {
        " (needs CAP_NET_ADMIN in the network namespace)"
    } else {
        ""
    }
}

/// Refuses a tolerance outside TIPC's bounds, before the kernel does.
pub fn check_tolerance(ms: u32) -> Result<u32, ToleranceError> {
    if (TIPC_MIN_LINK_TOL..=TIPC_MAX_LINK_TOL).contains(&ms) {
        Ok(ms)
    } else {
        Err(ToleranceError::OutOfRange(ms))
    }
}

/// One bearer as `TIPC_NL_BEARER_GET` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// `media:device`, e.g. `eth:eth0` or `udp:u1`.
    pub name: String,
    /// Its link tolerance in ms.
    pub tolerance_ms: u32,
}

/// Attributes of a `TIPC_NL_BEARER_SET` request that sets only the
/// tolerance of bearer `name`: `TIPC_NLA_BEARER { NAME, PROP { TOL } }`.
pub fn encode_set_tolerance(name: &str, ms: u32) -> Result<Vec<u8>, ToleranceError> {
    let ms = check_tolerance(ms)?;
    let mut w = AttrWriter::new();
    w.nest(TIPC_NLA_BEARER, |b| {
        b.put_str(TIPC_NLA_BEARER_NAME, name)
            .nest(TIPC_NLA_BEARER_PROP, |p| {
                p.put_u32(TIPC_NLA_PROP_TOL, ms);
            });
    });
    Ok(w.finish().map_err(hasync_nl::Error::from)?)
}

/// Parses the attributes of one `TIPC_NL_BEARER_GET` message (one bearer).
pub fn parse_bearer(attrs: &[u8]) -> Result<Bearer, ParseError> {
    let mut bearer = None;
    for attr in Attrs::new(attrs) {
        let attr = attr?;
        if attr.kind == TIPC_NLA_BEARER {
            set_once(&mut bearer, attr, "bearer")?;
        }
    }
    let bearer = bearer.ok_or(ParseError::Missing("bearer"))?;
    let mut name = None;
    let mut tolerance = None;
    for attr in bearer.nested() {
        let attr = attr?;
        match attr.kind {
            TIPC_NLA_BEARER_NAME => set_once(
                &mut name,
                attr.string("bearer-name")?.to_owned(),
                "bearer-name",
            )?,
            TIPC_NLA_BEARER_PROP => {
                for prop in attr.nested() {
                    let prop = prop?;
                    if prop.kind == TIPC_NLA_PROP_TOL {
                        set_once(&mut tolerance, prop.u32("prop-tol")?, "prop-tol")?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Bearer {
        name: name
            .filter(|n| !n.is_empty())
            .ok_or(ParseError::Missing("bearer-name"))?,
        tolerance_ms: tolerance.ok_or(ParseError::Missing("prop-tol"))?,
    })
}

/// What [`TipcConfig::apply_tolerance`] did to one bearer.
#[derive(Debug)]
pub enum Applied {
    /// It already had the tolerance.
    Unchanged,
    /// It had `was` ms and now has the requested tolerance.
    Set {
        /// The tolerance before.
        was: u32,
    },
    /// The kernel refused (`EPERM`, or the bearer went away meanwhile).
    Failed(ToleranceError),
}

/// TIPC's configuration interface: one generic netlink socket bound to
/// `TIPCv2`, in the caller's network namespace.
pub struct TipcConfig {
    genl: Genl,
    family: u16,
}

impl TipcConfig {
    /// Opens the socket and looks up the family; [`ToleranceError::NoTipc`]
    /// if the kernel has no TIPC.
    pub fn open() -> Result<Self, ToleranceError> {
        let mut genl = Genl::open()?;
        let family = match genl.resolve(TIPC_GENL_V2_NAME) {
            Ok(f) => f.id,
            Err(hasync_nl::Error::FamilyNotFound(_)) => return Err(ToleranceError::NoTipc),
            Err(e) => return Err(e.into()),
        };
        Ok(TipcConfig { genl, family })
    }

    /// Every bearer of this node (none before `tipc bearer enable`).
    pub fn bearers(&mut self) -> Result<Vec<Bearer>, ToleranceError> {
        let mut out = Vec::new();
        self.genl.transact_with(
            self.family,
            flags::DUMP,
            TIPC_NL_BEARER_GET,
            TIPC_GENL_V2_VERSION,
            &[],
            |_, attrs| {
                out.push(parse_bearer(attrs)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Sets bearer `name`'s tolerance, which also applies it to its links
    /// (see the module documentation). Needs `CAP_NET_ADMIN`.
    pub fn set_tolerance(&mut self, name: &str, ms: u32) -> Result<(), ToleranceError> {
        let attrs = encode_set_tolerance(name, ms)?;
        self.genl
            .transact_with(
                self.family,
                flags::ACK,
                TIPC_NL_BEARER_SET,
                TIPC_GENL_V2_VERSION,
                &attrs,
                |_, _| Ok(()),
            )
            .map_err(|source| ToleranceError::Set {
                bearer: name.to_owned(),
                source,
            })
    }

    /// Sets the tolerance of every bearer whose tolerance differs from
    /// `ms`; returns each bearer with what was done. An error is a failure
    /// to list the bearers; a refusal for one bearer is its [`Applied`].
    pub fn apply_tolerance(&mut self, ms: u32) -> Result<Vec<(Bearer, Applied)>, ToleranceError> {
        let ms = check_tolerance(ms)?;
        let bearers = self.bearers()?;
        Ok(bearers
            .into_iter()
            .map(|b| {
                let applied = if b.tolerance_ms == ms {
                    Applied::Unchanged
                } else {
                    match self.set_tolerance(&b.name, ms) {
                        Ok(()) => Applied::Set {
                            was: b.tolerance_ms,
                        },
                        Err(e) => Applied::Failed(e),
                    }
                };
                (b, applied)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One bearer message's attributes, as `__tipc_nl_add_bearer()` lays
    /// them out (name, then PRIO, TOL, WIN in the property nest).
    fn bearer_msg(name: &str, tol: u32) -> Vec<u8> {
        let mut w = AttrWriter::new();
        w.nest(TIPC_NLA_BEARER, |b| {
            b.put_str(TIPC_NLA_BEARER_NAME, name)
                .nest(TIPC_NLA_BEARER_PROP, |p| {
                    p.put_u32(1, 10)
                        .put_u32(TIPC_NLA_PROP_TOL, tol)
                        .put_u32(3, 50);
                });
        });
        w.finish().expect("small")
    }

    #[test]
    fn set_request_wire_bytes() {
        let got = encode_set_tolerance("eth:e0", 400).expect("in range");
        let nested = 0x8000u16;
        let mut want = Vec::new();
        // TIPC_NLA_BEARER: 4 + (4 + 7 + pad 1) + (4 + 8) = 28 bytes.
        want.extend_from_slice(&28u16.to_ne_bytes());
        want.extend_from_slice(&(TIPC_NLA_BEARER | nested).to_ne_bytes());
        // NAME: "eth:e0\0", padded to 8.
        want.extend_from_slice(&11u16.to_ne_bytes());
        want.extend_from_slice(&TIPC_NLA_BEARER_NAME.to_ne_bytes());
        want.extend_from_slice(b"eth:e0\0\0");
        // PROP { TOL = 400 }.
        want.extend_from_slice(&12u16.to_ne_bytes());
        want.extend_from_slice(&(TIPC_NLA_BEARER_PROP | nested).to_ne_bytes());
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&TIPC_NLA_PROP_TOL.to_ne_bytes());
        want.extend_from_slice(&400u32.to_ne_bytes());
        assert_eq!(got, want);
    }

    #[test]
    fn set_request_refuses_what_the_kernel_would() {
        for ms in [0, 49, 30001, u32::MAX] {
            let e = encode_set_tolerance("eth:e0", ms).expect_err("out of range");
            assert!(matches!(e, ToleranceError::OutOfRange(v) if v == ms), "{e}");
        }
        assert_eq!(
            ToleranceError::OutOfRange(49).to_string(),
            "link tolerance 49 ms is outside TIPC's range 50 to 30000 ms"
        );
        assert!(encode_set_tolerance("eth:e0", TIPC_MIN_LINK_TOL).is_ok());
        assert!(encode_set_tolerance("eth:e0", TIPC_MAX_LINK_TOL).is_ok());
    }

    #[test]
    fn parses_a_bearer() {
        let b = parse_bearer(&bearer_msg("eth:tipc1-2", 1500)).expect("valid");
        assert_eq!(
            b,
            Bearer {
                name: "eth:tipc1-2".into(),
                tolerance_ms: 1500
            }
        );
        // What we send parses back: the same layout.
        let b = parse_bearer(&encode_set_tolerance("udp:u1", 400).expect("ok")).expect("valid");
        assert_eq!((b.name.as_str(), b.tolerance_ms), ("udp:u1", 400));
    }

    #[test]
    fn malformed_bearers_name_the_attribute() {
        assert_eq!(parse_bearer(&[]), Err(ParseError::Missing("bearer")));
        let mut w = AttrWriter::new();
        w.nest(TIPC_NLA_BEARER, |b| {
            b.put_str(TIPC_NLA_BEARER_NAME, "eth:x");
        });
        assert_eq!(
            parse_bearer(&w.finish().expect("small")),
            Err(ParseError::Missing("prop-tol"))
        );
        let mut w = AttrWriter::new();
        w.nest(TIPC_NLA_BEARER, |b| {
            b.nest(TIPC_NLA_BEARER_PROP, |p| {
                p.put_u32(TIPC_NLA_PROP_TOL, 400);
            });
        });
        assert_eq!(
            parse_bearer(&w.finish().expect("small")),
            Err(ParseError::Missing("bearer-name"))
        );
        let mut w = AttrWriter::new();
        w.nest(TIPC_NLA_BEARER, |b| {
            b.put_str(TIPC_NLA_BEARER_NAME, "eth:x")
                .nest(TIPC_NLA_BEARER_PROP, |p| {
                    p.put_u16(TIPC_NLA_PROP_TOL, 400);
                });
        });
        assert!(matches!(
            parse_bearer(&w.finish().expect("small")),
            Err(ParseError::BadLength {
                attr: "prop-tol",
                ..
            })
        ));
        let mut two = bearer_msg("eth:a", 400);
        two.extend(bearer_msg("eth:b", 400));
        assert_eq!(parse_bearer(&two), Err(ParseError::Duplicate("bearer")));
        let mut cut = bearer_msg("eth:a", 400);
        cut.truncate(cut.len() - 2);
        assert!(matches!(
            parse_bearer(&cut),
            Err(ParseError::Truncated { .. })
        ));
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            ToleranceError::NoTipc.to_string(),
            "TIPC is not available: no \"TIPCv2\" generic netlink family (is the tipc module loaded?)"
        );
        let e = ToleranceError::Set {
            bearer: "eth:e0".into(),
            source: hasync_nl::KernelError::new(libc::EPERM).into(),
        };
        assert_eq!(e.errno(), Some(libc::EPERM));
        assert_eq!(
            e.to_string(),
            "bearer eth:e0: cannot set the link tolerance: kernel error: Operation not permitted \
             (needs CAP_NET_ADMIN in the network namespace)"
        );
        let e = ToleranceError::Set {
            bearer: "eth:e0".into(),
            source: hasync_nl::KernelError {
                message: Some("Bearer not found".into()),
                ..hasync_nl::KernelError::new(libc::EINVAL)
            }
            .into(),
        };
        assert_eq!(
            e.to_string(),
            "bearer eth:e0: cannot set the link tolerance: kernel error: Invalid argument: Bearer not found"
        );
    }
}
