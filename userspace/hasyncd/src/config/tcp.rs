//! `[tcp]`: the control API's TCP face on the cluster's service address.
//!
//! The address floats: the primary adds it to the configured interface
//! and announces it, a unit that stops being primary removes it. Absent,
//! the control API is reachable over TIPC only, as before.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::{ConfigError, Namer};

/// Default port of the TCP face.
pub const DEFAULT_PORT: u16 = 7_700;
/// Default secret file.
pub const DEFAULT_SECRET: &str = "/etc/hasync/control.key";
/// Longest interface name (`IFNAMSIZ` less its NUL).
const IFNAME_MAX: usize = 15;

/// An IPv4 network, `a.b.c.d/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net4 {
    /// Its first address (host bits clear).
    pub addr: Ipv4Addr,
    /// Prefix length, 0 to 32.
    pub len: u8,
}

impl Net4 {
    /// `addr/len` with the host bits cleared.
    pub fn new(addr: Ipv4Addr, len: u8) -> Self {
        Net4 {
            addr: Ipv4Addr::from(u32::from(addr) & Self::mask(len)),
            len,
        }
    }

    fn mask(len: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }

    /// `ip` lies in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.len) == u32::from(self.addr)
    }

    /// Parses `a.b.c.d/len` (or a bare address: a /32).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, len),
            None => (s, "32"),
        };
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("\"{s}\" is not an IPv4 network (a.b.c.d/len)"))?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|&l| l <= 32)
            .ok_or_else(|| format!("\"{s}\": prefix length must be 0 to 32"))?;
        Ok(Net4::new(ip, len))
    }
}

impl std::fmt::Display for Net4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for Net4 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The validated `[tcp]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpFace {
    /// The service address and port the primary listens on.
    #[serde(serialize_with = "ser_display")]
    pub listen: SocketAddrV4,
    /// The interface the primary puts the address on.
    pub interface: String,
    /// The address's prefix length on that interface.
    pub prefix: u8,
    /// The cluster's shared secret (root-only file, the same on every unit).
    pub secret: PathBuf,
    /// Source networks a client may connect from.
    pub allow: Vec<Net4>,
}

fn ser_display<S: Serializer>(v: &SocketAddrV4, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl TcpFace {
    /// The network the service address lies in.
    pub fn subnet(&self) -> Net4 {
        Net4::new(*self.listen.ip(), self.prefix)
    }

    /// A client at `ip` may connect.
    pub fn allows(&self, ip: Ipv4Addr) -> bool {
        self.allow.iter().any(|n| n.contains(ip))
    }
}

/// `[tcp]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTcp {
    listen: Option<String>,
    interface: Option<String>,
    prefix: Option<u8>,
    secret: Option<PathBuf>,
    allow: Option<Vec<String>>,
}

impl RawTcp {
    /// Every rule of the table; the secret file itself is read at start.
    pub(super) fn validate(self, n: &Namer<'_>) -> Result<TcpFace, ConfigError> {
        let listen = self.listen.ok_or_else(|| {
            n.err(
                "tcp.listen",
                "missing: the service address, e.g. \"10.0.0.100:7700\"",
            )
        })?;
        let listen = parse_listen(&listen).map_err(|e| n.err("tcp.listen", e))?;
        let interface = self.interface.ok_or_else(|| {
            n.err(
                "tcp.interface",
                "missing: where the primary puts the address",
            )
        })?;
        if interface.is_empty()
            || interface.len() > IFNAME_MAX
            || interface
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || !b.is_ascii_graphic())
        {
            return Err(n.err(
                "tcp.interface",
                format!("\"{interface}\" is not an interface name (1 to {IFNAME_MAX} characters, no '/', ':' or space)"),
            ));
        }
        let prefix = self.prefix.unwrap_or(32);
        if !(1..=32).contains(&prefix) {
            return Err(n.err("tcp.prefix", format!("{prefix}: must be 1 to 32")));
        }
        let secret = self.secret.unwrap_or_else(|| PathBuf::from(DEFAULT_SECRET));
        if !secret.is_absolute() {
            return Err(n.err(
                "tcp.secret",
                format!("\"{}\" must be an absolute path", secret.display()),
            ));
        }
        let allow = match self.allow {
            // Confined by default: the service address's own network.
            None => vec![Net4::new(*listen.ip(), prefix)],
            Some(list) => {
                let mut nets = Vec::with_capacity(list.len());
                for (i, s) in list.iter().enumerate() {
                    nets.push(Net4::parse(s).map_err(|e| n.err(&format!("tcp.allow[{i}]"), e))?);
                }
                if nets.is_empty() {
                    return Err(n.err(
                        "tcp.allow",
                        "empty: no client could connect (leave [tcp] out to have no TCP face)",
                    ));
                }
                nets
            }
        };
        Ok(TcpFace {
            listen,
            interface,
            prefix,
            secret,
            allow,
        })
    }
}

fn parse_listen(s: &str) -> Result<SocketAddrV4, String> {
    let (ip, port) = match s.rsplit_once(':') {
        Some((ip, port)) => (ip, Some(port)),
        None => (s, None),
    };
    let ip: Ipv4Addr = ip.parse().map_err(|_| {
        format!("\"{s}\" is not an IPv4 address with an optional port (a.b.c.d:port); IPv6 service addresses are not supported yet")
    })?;
    if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback() {
        return Err(format!(
            "{ip} cannot be a service address: it must be a unicast address other units can take over"
        ));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("\"{s}\": port must be 1 to 65535"))?,
    };
    Ok(SocketAddrV4::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_clear_host_bits_and_contain() {
        let n = Net4::parse("10.1.2.3/24").expect("valid");
        assert_eq!(n.to_string(), "10.1.2.0/24");
        assert!(n.contains("10.1.2.200".parse().expect("ip")));
        assert!(!n.contains("10.1.3.1".parse().expect("ip")));
        let all = Net4::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        let one = Net4::parse("192.0.2.7").expect("valid");
        assert_eq!(one.len, 32);
        assert!(one.contains("192.0.2.7".parse().expect("ip")));
        assert!(!one.contains("192.0.2.8".parse().expect("ip")));
        for bad in ["10.1.2.3/33", "10.1.2/8", "fe80::1/64", "x", "10.0.0.0/-1"] {
            assert!(Net4::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listen_takes_a_unicast_address_and_a_port() {
        assert_eq!(
            parse_listen("10.0.0.100").expect("valid"),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), DEFAULT_PORT)
        );
        assert_eq!(parse_listen("10.0.0.100:80").expect("valid").port(), 80);
        for bad in [
            "0.0.0.0:1",
            "127.0.0.1:1",
            "224.0.0.1:1",
            "10.0.0.1:0",
            "10.0.0.1:x",
            "[::1]:7",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
