//! `cookies`: which sections the applied opids above a point touched, as
//! their OR (do) or as the cookie log's entries themselves (dump).

use serde::{ser::SerializeMap, Serialize, Serializer};

use crate::attr::{set_once, AttrWriter, Attrs, ParseError};
use crate::client::{check_echo, Client};
use crate::error::Error;
use crate::generated::{attr::cookie_entry, attr::cookies, cmd};

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

/// A `cookies` answer: the OR, and the register it runs up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiesReply {
    /// Channel id.
    pub channel: u32,
    /// The OR of the cookies, or log-short.
    pub cookies: Cookies,
    /// The register (`None` from a module that does not report it).
    pub register: Option<u64>,
}

impl Cookies {
    /// Parses a `cookies` reply: `channel`, exactly one of `cookie` and
    /// `log-short`, and the register when the module sends it.
    pub fn from_attrs(buf: &[u8]) -> Result<CookiesReply, ParseError> {
        let mut channel = None;
        let mut cookie = None;
        let mut short = None;
        let mut register = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = cookies::name(a.kind).unwrap_or("?");
            match a.kind {
                cookies::CHANNEL => set_once(&mut channel, a.u32(n)?, n)?,
                cookies::COOKIE => set_once(&mut cookie, a.uint(n)?, n)?,
                cookies::LOG_SHORT => set_once(&mut short, a.flag(n)?, n)?,
                cookies::REGISTER => set_once(&mut register, a.uint(n)?, n)?,
                _ => {}
            }
        }
        let channel = channel.ok_or(ParseError::Missing("channel"))?;
        let cookies = match (cookie, short) {
            (Some(c), None) => Cookies::Cookie(c),
            (None, Some(_)) => Cookies::LogShort,
            (None, None) => return Err(ParseError::Missing("cookie")),
            (Some(_), Some(_)) => {
                return Err(ParseError::Invalid {
                    attr: "cookie",
                    why: "given with log-short",
                })
            }
        };
        Ok(CookiesReply {
            channel,
            cookies,
            register,
        })
    }
}

/// One entry of a channel's cookie log: an applied update or replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CookieEntry {
    /// The register after it (a replay may advance it by more than one).
    pub opid: u64,
    /// Its epoch.
    pub epoch: u32,
    /// The sections it touched.
    pub sections: u64,
}

impl CookieEntry {
    /// Parses the attributes of an `entry` nest.
    pub fn from_attrs(buf: &[u8]) -> Result<Self, ParseError> {
        let mut opid = None;
        let mut epoch = None;
        let mut sections = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = cookie_entry::name(a.kind).unwrap_or("?");
            match a.kind {
                cookie_entry::OPID => set_once(&mut opid, a.uint(n)?, n)?,
                cookie_entry::EPOCH => set_once(&mut epoch, a.u32(n)?, n)?,
                cookie_entry::SECTIONS => set_once(&mut sections, a.uint(n)?, n)?,
                _ => {}
            }
        }
        Ok(CookieEntry {
            opid: opid.ok_or(ParseError::Missing("opid"))?,
            epoch: epoch.ok_or(ParseError::Missing("epoch"))?,
            sections: sections.ok_or(ParseError::Missing("sections"))?,
        })
    }
}

/// A channel's cookie log above a point, as a `cookies` dump pages it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CookieLog {
    /// The register when the dump ended.
    pub register: u64,
    /// The entries above the point asked, oldest first.
    pub entries: Vec<CookieEntry>,
    /// The log no longer reaches back to the point: the entries (if any)
    /// are not all there were; treat the channel as wholly dirty.
    pub log_short: bool,
}

impl CookieLog {
    /// Adds one message of a `cookies` dump for `channel`.
    pub fn add_message(&mut self, channel: u32, buf: &[u8]) -> Result<(), ParseError> {
        let mut got = None;
        for a in Attrs::new(buf) {
            let a = a?;
            let n = cookies::name(a.kind).unwrap_or("?");
            match a.kind {
                cookies::CHANNEL => set_once(&mut got, a.u32(n)?, n)?,
                cookies::REGISTER => self.register = a.uint(n)?,
                cookies::ENTRY => {
                    let e = CookieEntry::from_attrs(a.payload)?;
                    if self.entries.last().is_some_and(|l| l.opid >= e.opid) {
                        return Err(ParseError::Invalid {
                            attr: "entry",
                            why: "opids not in increasing order",
                        });
                    }
                    self.entries.push(e);
                }
                cookies::LOG_SHORT => self.log_short = a.flag(n)?,
                _ => {}
            }
        }
        check_echo(
            "channel",
            channel,
            got.ok_or(ParseError::Missing("channel"))?,
        )
    }
}

impl Client {
    /// The sections touched by the applied opids above `after_opid`.
    pub fn cookies(&mut self, channel: u32, after_opid: u64) -> Result<CookiesReply, Error> {
        let attrs = self.call(cmd::COOKIES, &encode_cookies(channel, after_opid)?)?;
        let r = Cookies::from_attrs(&attrs)?;
        check_echo("channel", channel, r.channel)?;
        Ok(r)
    }

    /// The cookie log's entries above `after_opid`, paged by a dump.
    pub fn cookie_log(&mut self, channel: u32, after_opid: u64) -> Result<CookieLog, Error> {
        let mut log = CookieLog::default();
        self.dump(
            cmd::COOKIES,
            &encode_cookies(channel, after_opid)?,
            |attrs| Ok(log.add_message(channel, attrs)?),
        )?;
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::raw;

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
        assert_eq!(
            Cookies::from_attrs(&b),
            Ok(CookiesReply {
                channel: 3,
                cookies: Cookies::Cookie(1 << 63),
                register: None
            })
        );
        let mut s = Vec::new();
        raw(&mut s, 1, &3u32.to_ne_bytes());
        raw(&mut s, 4, &[]);
        raw(&mut s, 5, &9u64.to_ne_bytes());
        assert_eq!(
            Cookies::from_attrs(&s),
            Ok(CookiesReply {
                channel: 3,
                cookies: Cookies::LogShort,
                register: Some(9)
            })
        );
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
    fn log_pages() {
        let page = |entries: &[(u64, u32, u64)], short: bool| {
            let mut b = Vec::new();
            raw(&mut b, 1, &3u32.to_ne_bytes());
            raw(&mut b, 5, &20u64.to_ne_bytes());
            for &(opid, epoch, sections) in entries {
                let mut e = Vec::new();
                raw(&mut e, 1, &opid.to_ne_bytes());
                raw(&mut e, 2, &epoch.to_ne_bytes());
                raw(&mut e, 3, &sections.to_ne_bytes());
                crate::record::tests::raw_nest(&mut b, 6, &e);
            }
            if short {
                raw(&mut b, 4, &[]);
            }
            b
        };
        let mut log = CookieLog::default();
        log.add_message(3, &page(&[(4, 1, 1), (5, 2, 8)], false))
            .expect("valid");
        log.add_message(3, &page(&[(20, 2, 3)], false))
            .expect("valid");
        assert_eq!(log.register, 20);
        assert_eq!(log.entries.len(), 3);
        assert_eq!(
            log.entries[1],
            CookieEntry {
                opid: 5,
                epoch: 2,
                sections: 8
            }
        );
        assert!(!log.log_short);
        assert!(log.add_message(3, &page(&[(6, 2, 1)], false)).is_err());
        assert!(log.add_message(4, &page(&[], false)).is_err());
        let mut log = CookieLog::default();
        log.add_message(3, &page(&[], true)).expect("valid");
        assert!(log.log_short && log.entries.is_empty());
    }

    #[test]
    fn json_shape() {
        let j = |c| serde_json::to_string(&c).expect("serializes");
        assert_eq!(j(Cookies::Cookie(5)), "{\"cookie\":5}");
        assert_eq!(j(Cookies::LogShort), "{\"log_short\":true}");
    }
}
