//! `cookies`: which sections the applied opids above a point touched.

use serde::{ser::SerializeMap, Serialize, Serializer};

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::cookies, cmd};

/// The answer of `cookies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookies {
    /// OR of the cookies of the applied opids in `(after-opid, register]`.
    Cookie(u64),
    /// The cookie log no longer covers that range: treat the whole channel
    /// as dirty.
    LogShort,
}

/// JSON: `{"cookie": N}` or `{"log_short": true}`.
impl Serialize for Cookies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        match self {
            Cookies::Cookie(c) => m.serialize_entry("cookie", c)?,
            Cookies::LogShort => m.serialize_entry("log_short", &true)?,
        }
        m.end()
    }
}

/// The attributes of a `cookies` request.
pub fn encode_cookies(channel: u32, after_opid: u64) -> Result<Vec<u8>, Error> {
    let mut w = AttrWriter::new();
    w.put_u32(cookies::CHANNEL, channel)
        .put_u64(cookies::AFTER_OPID, after_opid);
    Ok(w.finish()?)
}

impl Cookies {
    /// Parses a `cookies` reply: `channel` and exactly one of `cookie` and
    /// `log-short`. Returns the channel too.
    pub fn from_attrs(buf: &[u8]) -> Result<(u32, Self), ParseError> {
        let mut channel = None;
        let mut cookie = None;
        let mut short = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = cookies::name(a.kind).unwrap_or("?");
            match a.kind {
                cookies::CHANNEL => set_once(&mut channel, a.u32(n)?, n)?,
                cookies::COOKIE => set_once(&mut cookie, a.uint(n)?, n)?,
                cookies::LOG_SHORT => set_once(&mut short, a.flag(n)?, n)?,
                _ => {}
            }
        }
        let channel = channel.ok_or(ParseError::Missing("channel"))?;
        match (cookie, short) {
            (Some(c), None) => Ok((channel, Cookies::Cookie(c))),
            (None, Some(_)) => Ok((channel, Cookies::LogShort)),
            (None, None) => Err(ParseError::Missing("cookie")),
            (Some(_), Some(_)) => Err(ParseError::Invalid {
                attr: "cookie",
                why: "given with log-short",
            }),
        }
    }
}

impl Client {
    /// The sections touched by the applied opids above `after_opid`.
    pub fn cookies(&mut self, channel: u32, after_opid: u64) -> Result<Cookies, Error> {
        let attrs = self.call(cmd::COOKIES, &encode_cookies(channel, after_opid)?)?;
        let (got, c) = Cookies::from_attrs(&attrs)?;
        check_echo("channel", channel, got)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::tests::raw;

    #[test]
    fn request_bytes() {
        let mut want = Vec::new();
        raw(&mut want, 1, &3u32.to_ne_bytes());
        raw(&mut want, 2, &9u64.to_ne_bytes());
        assert_eq!(encode_cookies(3, 9).expect("small"), want);
    }

    #[test]
    fn replies() {
        let mut b = Vec::new();
        raw(&mut b, 1, &3u32.to_ne_bytes());
        raw(&mut b, 3, &(1u64 << 63).to_ne_bytes());
        assert_eq!(Cookies::from_attrs(&b), Ok((3, Cookies::Cookie(1 << 63))));
        let mut s = Vec::new();
        raw(&mut s, 1, &3u32.to_ne_bytes());
        raw(&mut s, 4, &[]);
        assert_eq!(Cookies::from_attrs(&s), Ok((3, Cookies::LogShort)));
        raw(&mut b, 4, &[]);
        assert!(matches!(
            Cookies::from_attrs(&b),
            Err(ParseError::Invalid { attr: "cookie", .. })
        ));
        let mut n = Vec::new();
        raw(&mut n, 1, &3u32.to_ne_bytes());
        assert_eq!(Cookies::from_attrs(&n), Err(ParseError::Missing("cookie")));
    }

    #[test]
    fn json_shape() {
        let j = |c| serde_json::to_string(&c).expect("serializes");
        assert_eq!(j(Cookies::Cookie(5)), "{\"cookie\":5}");
        assert_eq!(j(Cookies::LogShort), "{\"log_short\":true}");
    }
}
