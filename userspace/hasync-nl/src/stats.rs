//! `stats`: counters per command and per error class.

use serde::Serialize;

use crate::attr::{set_once, Attrs, ParseError};
use crate::client::Client;
use crate::error::Error;
use crate::generated::{attr::cmd_stats, attr::err_stats, attr::stats, cmd, ErrClass};

/// Counters of one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CmdStats {
    /// Command number.
    pub cmd: u32,
    /// Its name in the spec, if this version knows it.
    pub name: Option<&'static str>,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
}

/// Failures counted under one error class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrStats {
    /// Class number (`err-class` enum).
    pub class: u32,
    /// Its name in the spec, if this version knows it.
    pub name: Option<&'static str>,
    /// Failed commands in the class.
    pub count: u64,
}

/// The module's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Per command.
    pub cmds: Vec<CmdStats>,
    /// Per error class.
    pub errors: Vec<ErrStats>,
    /// ACKs published on the `acks` group.
    pub acks_published: u64,
    /// Ops applied by updates.
    pub ops_applied: u64,
}

fn cmd_from_attrs(buf: &[u8]) -> Result<CmdStats, ParseError> {
    let mut c = None;
    let mut ok = None;
    let mut failed = None;
    for a in Attrs::new(buf) {
        let a = a?;
        let n = cmd_stats::name(a.kind).unwrap_or("?");
        match a.kind {
            cmd_stats::CMD => set_once(&mut c, a.u32(n)?, n)?,
            cmd_stats::OK => set_once(&mut ok, a.uint(n)?, n)?,
            cmd_stats::FAILED => set_once(&mut failed, a.uint(n)?, n)?,
            _ => {}
        }
    }
    let c = c.ok_or(ParseError::Missing("cmd"))?;
    Ok(CmdStats {
        cmd: c,
        name: u8::try_from(c).ok().and_then(cmd::name),
        ok: ok.ok_or(ParseError::Missing("ok"))?,
        failed: failed.ok_or(ParseError::Missing("failed"))?,
    })
}

fn err_from_attrs(buf: &[u8]) -> Result<ErrStats, ParseError> {
    let mut class = None;
    let mut count = None;
    for a in Attrs::new(buf) {
        let a = a?;
        let n = err_stats::name(a.kind).unwrap_or("?");
        match a.kind {
            err_stats::CLASS => set_once(&mut class, a.u32(n)?, n)?,
            err_stats::COUNT => set_once(&mut count, a.uint(n)?, n)?,
            _ => {}
        }
    }
    let class = class.ok_or(ParseError::Missing("class"))?;
    Ok(ErrStats {
        class,
        name: ErrClass::from_u32(class).map(ErrClass::name),
        count: count.ok_or(ParseError::Missing("count"))?,
    })
}

impl Stats {
    /// Parses a `stats` reply.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut cmds = Vec::new();
        let mut errors = Vec::new();
        let mut acks = None;
        let mut ops = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = stats::name(a.kind).unwrap_or("?");
            match a.kind {
                stats::CMD => cmds.push(cmd_from_attrs(a.payload)?),
                stats::ERR => errors.push(err_from_attrs(a.payload)?),
                stats::ACKS_PUBLISHED => set_once(&mut acks, a.uint(n)?, n)?,
                stats::OPS_APPLIED => set_once(&mut ops, a.uint(n)?, n)?,
                _ => {}
            }
        }
        Ok(Stats {
            cmds,
            errors,
            acks_published: acks.ok_or(ParseError::Missing("acks-published"))?,
            ops_applied: ops.ok_or(ParseError::Missing("ops-applied"))?,
        })
    }
}

impl Client {
    /// The module's counters.
    pub fn stats(&mut self) -> Result<Stats, Error> {
        let attrs = self.call(cmd::STATS, &[])?;
        Ok(Stats::from_attrs(&attrs)?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::tests::{raw, raw_nest};

    pub(crate) fn sample_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        for (c, ok, failed) in [(5u32, 10u64, 2u64), (99, 1, 0)] {
            let mut n = Vec::new();
            raw(&mut n, 1, &c.to_ne_bytes());
            raw(&mut n, 2, &ok.to_ne_bytes());
            raw(&mut n, 3, &(failed as u32).to_ne_bytes());
            raw_nest(&mut b, 1, &n);
        }
        let mut n = Vec::new();
        raw(&mut n, 1, &1u32.to_ne_bytes());
        raw(&mut n, 2, &2u32.to_ne_bytes());
        raw_nest(&mut b, 2, &n);
        raw(&mut b, 3, &10u32.to_ne_bytes());
        raw(&mut b, 4, &(1u64 << 32).to_ne_bytes());
        b
    }

    pub(crate) fn sample() -> Stats {
        Stats {
            cmds: vec![
                CmdStats {
                    cmd: 5,
                    name: Some("update"),
                    ok: 10,
                    failed: 2,
                },
                CmdStats {
                    cmd: 99,
                    name: None,
                    ok: 1,
                    failed: 0,
                },
            ],
            errors: vec![ErrStats {
                class: 1,
                name: Some("gap"),
                count: 2,
            }],
            acks_published: 10,
            ops_applied: 1 << 32,
        }
    }

    #[test]
    fn parses_reply() {
        assert_eq!(Stats::from_attrs(&sample_bytes()), Ok(sample()));
    }

    #[test]
    fn malformed_replies() {
        let b = sample_bytes();
        // Without ops-applied (the last 12 bytes).
        assert_eq!(
            Stats::from_attrs(&b[..b.len() - 12]),
            Err(ParseError::Missing("ops-applied"))
        );
        let mut n = Vec::new();
        raw(&mut n, 1, &5u32.to_ne_bytes());
        raw(&mut n, 2, &1u32.to_ne_bytes());
        let mut bad = Vec::new();
        raw_nest(&mut bad, 1, &n);
        assert_eq!(Stats::from_attrs(&bad), Err(ParseError::Missing("failed")));
    }
}
