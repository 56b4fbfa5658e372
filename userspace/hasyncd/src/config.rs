//! The daemon's configuration: a TOML file, then command-line flags that
//! override single keys, then one validation pass over the result.
//!
//! Every rule lives in [`Raw::validate`], so a value is judged the same way
//! whether it came from the file or a flag, and every refusal names the key
//! (`config: channels[2].sections: 48 is not a power of two from 1 to 64`),
//! adding the flag when a flag set it. Nothing starts before this passes.
//! `examples/hasyncd.toml` documents every key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hasync_engine::node::{self, Micros, NodeConfig, StartRole, MS};
use hasync_engine::planner::Policy;
use hasync_engine::primary::PrimaryConfig;
use hasync_engine::release::LackingPolicy;
use hasync_engine::standby::StandbyConfig;
use hasync_engine::table::SectionCount;
use hasync_engine::ChannelId;
use serde::{Deserialize, Serialize, Serializer};

/// Longest node name.
pub const NODE_NAME_MAX: usize = 63;
/// Longest channel name (the kernel's `CHANNEL_NAME_MAX`).
pub const CHANNEL_NAME_MAX: usize = hasync_nl::generated::CHANNEL_NAME_MAX as usize;
/// TIPC's own bounds on the link tolerance (`TIPC_MIN_LINK_TOL`,
/// `TIPC_MAX_LINK_TOL` in `net/tipc/bearer.h`).
pub const LINK_TOLERANCE_MS: (u32, u32) = (50, 30_000);
/// Longest audit period: one day.
pub const AUDIT_PERIOD_MAX: u32 = 86_400;
/// Bounds of the in-flight window per channel.
pub const IN_FLIGHT: (u32, u32) = (1, 65_536);
/// Most updates a standby may hold per channel.
pub const STANDBY_PENDING_MAX: u32 = 1 << 20;
/// Bounds of the per-channel record limit: those of the module's
/// `max_entries` parameter.
pub const MAX_RECORDS: (u32, u32) = (1, hasync_engine::table::MAX_ENTRIES as u32);
/// Bounds of the bulk sync window: one chunk to a quarter of what a peer
/// connection may queue before it counts as stuck.
pub const SYNC_WINDOW_KIB: (u32, u32) = (64, 16 * 1024);

/// A refused configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("config: {}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's words (they name an unknown key).
        message: String,
    },
    /// A value breaks a rule.
    #[error("config: {key}: {message}")]
    Key {
        /// The key, e.g. `channels[2].sections`, with the flag if one set it.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
}

/// Which role the daemon starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Own the kernel's channels from the start.
    Primary,
    /// Follow a primary; take over when it goes.
    Standby,
    /// Standby if a primary is published on the TIPC service, else primary.
    Auto,
}

/// Where a standby gets the ACKs that release its pending updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPath {
    /// Forwarded by the primary over TIPC.
    Forward,
    /// From the kernel's `acks` multicast group.
    Direct,
    /// Both; the first to arrive counts.
    Both,
}

/// What a takeover does with trailing updates (held, beyond the register).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trailing {
    /// Replay them all.
    Replay,
    /// Drop them all.
    Discard,
    /// Replay at most this many over all channels (at least 1).
    Budget(usize),
}

impl Trailing {
    /// The planner's policy.
    pub fn policy(self) -> Policy {
        match self {
            Trailing::Replay => Policy::Replay,
            Trailing::Discard => Policy::Discard,
            Trailing::Budget(max_ops) => Policy::Budget { max_ops },
        }
    }
}

macro_rules! keyword_enum {
    ($ty:ident { $($variant:ident = $word:literal),+ }) => {
        impl $ty {
            /// The accepted words, for messages and help.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word),+ }
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err(format!("\"{s}\" is not one of {}", $ty::WORDS.join(", "))),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

keyword_enum!(Role {
    Primary = "primary",
    Standby = "standby",
    Auto = "auto"
});
keyword_enum!(AckPath {
    Forward = "forward",
    Direct = "direct",
    Both = "both"
});

impl FromStr for Trailing {
    type Err = String;

    /// `replay`, `discard` or `budget N` (N at least 1).
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            ["replay"] => Ok(Trailing::Replay),
            ["discard"] => Ok(Trailing::Discard),
            ["budget", n] => match n.parse::<usize>() {
                Ok(0) => Err("budget 0 replays nothing: write \"discard\"".into()),
                Ok(n) => Ok(Trailing::Budget(n)),
                Err(_) => Err(format!("\"{n}\" is not a number of updates")),
            },
            _ => Err(format!("\"{s}\" is not one of replay, discard, budget N")),
        }
    }
}

impl fmt::Display for Trailing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trailing::Replay => f.write_str("replay"),
            Trailing::Discard => f.write_str("discard"),
            Trailing::Budget(n) => write!(f, "budget {n}"),
        }
    }
}

impl Serialize for Trailing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The TIPC service the control units publish and watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tipc {
    /// Service type (64 and up; TIPC reserves the ones below).
    pub service_type: u32,
    /// Service instance.
    pub instance: u32,
}

/// Flow and failure-detection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most unacknowledged updates per channel on the primary.
    pub in_flight: u32,
    /// Most updates a standby holds per channel before going cold.
    pub standby_max_pending: u32,
    /// TIPC link tolerance: how long a silent peer node counts as alive.
    pub link_tolerance_ms: u32,
    /// Most records per channel; `None`: the module's `max_entries`, read
    /// at start (a larger value is refused there).
    pub max_records: Option<u32>,
    /// Bulk sync credit window per standby, in KiB of checkpoint chunks
    /// sent and not yet acknowledged.
    pub sync_window_kib: u32,
}

impl Limits {
    /// The primary engine's tunables; `max_records` until the module's
    /// limit is known at start.
    pub fn primary(&self) -> PrimaryConfig {
        let d = PrimaryConfig::default();
        PrimaryConfig {
            window: self.in_flight as usize,
            sync_window: self.sync_window_kib as usize * 1024,
            max_entries: self.max_records.map_or(d.max_entries, |n| n as usize),
            ..d
        }
    }

    /// The standby engine's tunables.
    pub fn standby(&self) -> StandbyConfig {
        StandbyConfig {
            max_pending: self.standby_max_pending as usize,
        }
    }
}

/// One replicated channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelConfig {
    /// Channel id in the kernel.
    pub id: ChannelId,
    /// Name shown by `hasync channel`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Section count.
    #[serde(serialize_with = "ser_sections")]
    pub sections: SectionCount,
}

fn ser_sections<S: Serializer>(sc: &SectionCount, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(sc.get())
}

/// The effective, validated configuration.
///
/// Serialized in the file's own layout: `hasyncd --check-config` prints a
/// file that loads back to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Starting role.
    pub role: Role,
    /// This control unit's name (logs, takeover reports).
    pub node: String,
    /// Every control unit of the cluster, by name (empty: not listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Log filter: a level, then optional `target=level` directives.
    pub log_level: String,
    /// ACK path to standbys.
    pub ack_path: AckPath,
    /// Takeover policy for trailing updates.
    pub trailing: Trailing,
    /// Seconds in which every channel is audited once; 0 = off.
    pub audit_period: u32,
    /// TIPC service.
    pub tipc: Tipc,
    /// Limits.
    pub limits: Limits,
    /// Channels, in file order.
    pub channels: Vec<ChannelConfig>,
    /// Handling chosen per item for peers of an older release (item →
    /// keyword, each checked against what the item allows).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub upgrade: BTreeMap<String, String>,
    /// The control API's TCP face, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpFace>,
}

impl Config {
    /// The handlings `upgrade` chose, every other item at its default.
    pub fn lacking(&self) -> LackingPolicy {
        let mut p = LackingPolicy::default();
        for (item, how) in &self.upgrade {
            // Checked when the file was loaded.
            let _ = p.choose(item, how);
        }
        p
    }

    /// The byte that makes this unit's takeover epochs its own: its
    /// position in `units` (1-based) when the cluster is listed, so no two
    /// units can share one; else a hash of the node name, which two names
    /// may share (one in 256 per pair; `units` removes the risk).
    pub fn unit_byte(&self) -> u8 {
        match self.units.iter().position(|u| *u == self.node) {
            Some(i) => u8::try_from(i + 1).unwrap_or(u8::MAX),
            None => hasync_engine::handshake::node_id(&self.node).to_le_bytes()[0],
        }
    }

    /// The node's settings; `full_replay` makes every takeover replay every
    /// section of every channel (the prior art's full relearn, for the
    /// selective-vs-full benchmark).
    pub fn node_config(&self, full_replay: bool) -> NodeConfig {
        NodeConfig {
            name: self.node.clone(),
            start: match self.role {
                Role::Primary => StartRole::Primary,
                Role::Standby => StartRole::Standby,
                Role::Auto => StartRole::Auto,
            },
            channels: self.channel_list(),
            standby: self.limits.standby(),
            primary: self.limits.primary(),
            policy: self.trailing.policy(),
            unit_byte: self.unit_byte(),
            units: self.units.clone(),
            link_tolerance: Micros::from(self.limits.link_tolerance_ms) * MS,
            audit_period: (self.audit_period > 0)
                .then(|| Micros::from(self.audit_period) * 1000 * MS),
            ack_path: match self.ack_path {
                AckPath::Forward => node::AckPath::Forward,
                AckPath::Direct => node::AckPath::Direct,
                AckPath::Both => node::AckPath::Both,
            },
            full_replay,
            lacking: self.lacking(),
        }
    }

    /// Channel ids and section counts, as the engine takes them.
    pub fn channel_list(&self) -> Vec<(ChannelId, SectionCount)> {
        self.channels.iter().map(|c| (c.id, c.sections)).collect()
    }

    /// Reads `path`, applies `overrides`, validates.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path, overrides)
    }

    /// Parses `text` (read from `path`, for messages), applies `overrides`,
    /// validates.
    pub fn from_toml(text: &str, path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut raw: Raw = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            let key = e.span().and_then(|span| key_at(text, span.start));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: match key {
                    Some(k) => format!("{k}: {}", e.message()),
                    None => e.message().to_owned(),
                },
            }
        })?;
        let flags = overrides.apply(&mut raw);
        raw.validate(&flags)
    }

    /// Validates `overrides` alone (no file): every key not set by a flag
    /// takes its default.
    pub fn from_overrides(overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut raw = Raw::default();
        let flags = overrides.apply(&mut raw);
        raw.validate(&flags)
    }

    /// The configuration as TOML, in the file's layout.
    pub fn to_toml(&self) -> String {
        // Serializing plain structs, strings and integers cannot fail.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The key whose value starts at byte `at`, with its table (`limits.in_flight`,
/// `channels.id`), when the line there reads `key = value`: a wrong type or
/// range is named by its key, not only by its position.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = before.get(start..)?.split_once('=')?;
    let key = key.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    // A quoted key (`"field.speed"`, as `[upgrade]` names items) is named
    // quoted.
    let quoted =
        key.len() > 2 && key.starts_with('"') && key.ends_with('"') && bare(&key[1..key.len() - 1]);
    if !bare(key) && !quoted {
        return None;
    }
    // The table the line is in: the last header above it.
    let table = before.get(..start)?.lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("[[")
            .and_then(|t| t.strip_suffix("]]"))
            .or_else(|| l.strip_prefix('[').and_then(|t| t.strip_suffix(']')))
            .map(str::trim)
    });
    Some(match table {
        Some(t) if bare(t) => format!("{t}.{key}"),
        _ => key.to_owned(),
    })
}

/// 1-based line and column of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Values given on the command line; each replaces the file's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--role`.
    pub role: Option<String>,
    /// `--node`.
    pub node: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--ack-path`.
    pub ack_path: Option<String>,
    /// `--trailing`.
    pub trailing: Option<String>,
    /// `--audit-period`.
    pub audit_period: Option<u32>,
    /// `--service-type`.
    pub service_type: Option<u32>,
    /// `--instance`.
    pub instance: Option<u32>,
    /// `--in-flight`.
    pub in_flight: Option<u32>,
    /// `--standby-max-pending`.
    pub standby_max_pending: Option<u32>,
    /// `--link-tolerance-ms`.
    pub link_tolerance_ms: Option<u32>,
    /// `--max-records`.
    pub max_records: Option<u32>,
}

impl Overrides {
    /// Writes the given values into `raw`; returns key → flag for each.
    fn apply(&self, raw: &mut Raw) -> BTreeMap<&'static str, &'static str> {
        let mut flags = BTreeMap::new();
        fn set<T: Clone>(
            flags: &mut BTreeMap<&'static str, &'static str>,
            dst: &mut Option<T>,
            src: &Option<T>,
            key: &'static str,
            flag: &'static str,
        ) {
            if let Some(v) = src {
                *dst = Some(v.clone());
                flags.insert(key, flag);
            }
        }
        let f = &mut flags;
        set(f, &mut raw.role, &self.role, "role", "--role");
        set(f, &mut raw.node, &self.node, "node", "--node");
        set(
            f,
            &mut raw.log_level,
            &self.log_level,
            "log_level",
            "--log-level",
        );
        set(
            f,
            &mut raw.ack_path,
            &self.ack_path,
            "ack_path",
            "--ack-path",
        );
        set(
            f,
            &mut raw.trailing,
            &self.trailing,
            "trailing",
            "--trailing",
        );
        set(
            f,
            &mut raw.audit_period,
            &self.audit_period,
            "audit_period",
            "--audit-period",
        );
        let t = raw.tipc.get_or_insert_with(RawTipc::default);
        set(
            f,
            &mut t.service_type,
            &self.service_type,
            "tipc.service_type",
            "--service-type",
        );
        set(
            f,
            &mut t.instance,
            &self.instance,
            "tipc.instance",
            "--instance",
        );
        let l = raw.limits.get_or_insert_with(RawLimits::default);
        set(
            f,
            &mut l.in_flight,
            &self.in_flight,
            "limits.in_flight",
            "--in-flight",
        );
        set(
            f,
            &mut l.standby_max_pending,
            &self.standby_max_pending,
            "limits.standby_max_pending",
            "--standby-max-pending",
        );
        set(
            f,
            &mut l.link_tolerance_ms,
            &self.link_tolerance_ms,
            "limits.link_tolerance_ms",
            "--link-tolerance-ms",
        );
        set(
            f,
            &mut l.max_records,
            &self.max_records,
            "limits.max_records",
            "--max-records",
        );
        flags
    }
}

/// Defaults of the keys a file may leave out.
pub mod defaults {
    /// `log_level`.
    pub const LOG_LEVEL: &str = "info";
    /// `tipc.service_type`: an arbitrary number above TIPC's reserved range.
    pub const SERVICE_TYPE: u32 = 18_888;
    /// `tipc.instance`.
    pub const INSTANCE: u32 = 1;
    /// `limits.in_flight`: the engine's default window.
    pub const IN_FLIGHT: u32 = 64;
    /// `limits.standby_max_pending`: the engine's default.
    pub const STANDBY_MAX_PENDING: u32 = 1024;
    /// `limits.link_tolerance_ms`: TIPC's default.
    pub const LINK_TOLERANCE_MS: u32 = 1500;
    /// `limits.sync_window_kib`: the engine's default window, 1 MiB.
    pub const SYNC_WINDOW_KIB: u32 = 1024;
    /// `channels[].sections`: what the module gives a channel created
    /// without a section count.
    pub const SECTIONS: u32 = 64;
    /// `audit_period`: every channel's digests compared once a minute,
    /// spread over the minute (a channel every `60 s / channels`).
    pub const AUDIT_PERIOD: u32 = 60;
}

/// The file as written: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    role: Option<String>,
    node: Option<String>,
    units: Option<Vec<String>>,
    log_level: Option<String>,
    ack_path: Option<String>,
    trailing: Option<String>,
    audit_period: Option<u32>,
    tipc: Option<RawTipc>,
    limits: Option<RawLimits>,
    channels: Option<Vec<RawChannel>>,
    upgrade: Option<BTreeMap<String, String>>,
    tcp: Option<tcp::RawTcp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTipc {
    service_type: Option<u32>,
    instance: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    in_flight: Option<u32>,
    standby_max_pending: Option<u32>,
    link_tolerance_ms: Option<u32>,
    max_records: Option<u32>,
    sync_window_kib: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: Option<u32>,
    name: Option<String>,
    sections: Option<u32>,
}

/// Builds [`ConfigError::Key`] errors, naming the flag that set a key.
struct Namer<'a> {
    flags: &'a BTreeMap<&'static str, &'static str>,
}

impl Namer<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let key = match self.flags.get(key) {
            Some(flag) => format!("{key} (from {flag})"),
            None => key.to_owned(),
        };
        ConfigError::Key {
            key,
            message: message.into(),
        }
    }
}

fn in_range(n: &Namer<'_>, key: &str, v: u32, (lo, hi): (u32, u32)) -> Result<u32, ConfigError> {
    if v < lo {
        Err(n.err(key, format!("{v} is below the minimum {lo}")))
    } else if v > hi {
        Err(n.err(key, format!("{v} is above the maximum {hi}")))
    } else {
        Ok(v)
    }
}

fn node_name(n: &Namer<'_>, v: Option<String>) -> Result<String, ConfigError> {
    let v = v.ok_or_else(|| n.err("node", "missing: set it in the file or with --node"))?;
    unit_name(n, "node", v)
}

fn unit_name(n: &Namer<'_>, key: &str, v: String) -> Result<String, ConfigError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if v.is_empty() || v.len() > NODE_NAME_MAX {
        return Err(n.err(
            key,
            format!("\"{v}\" is not 1 to {NODE_NAME_MAX} characters"),
        ));
    }
    if !v.chars().all(ok_char) || !v.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(n.err(
            key,
            format!("\"{v}\" must start with a letter or digit and hold only letters, digits, '.', '_', '-'"),
        ));
    }
    Ok(v)
}

/// `units`: unique names, at most 255 (an epoch's low byte names the
/// unit, 0 is unused), this unit among them.
fn units(n: &Namer<'_>, v: Option<Vec<String>>, node: &str) -> Result<Vec<String>, ConfigError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.len() > usize::from(u8::MAX) {
        return Err(n.err("units", format!("{} units; at most {}", v.len(), u8::MAX)));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(v.len());
    for u in v {
        let u = unit_name(n, "units", u)?;
        if !seen.insert(u.clone()) {
            return Err(n.err("units", format!("\"{u}\" is listed twice")));
        }
        out.push(u);
    }
    if !seen.contains(node) {
        return Err(n.err(
            "units",
            format!("does not list this unit (node = \"{node}\")"),
        ));
    }
    Ok(out)
}

/// A level, then optional `target=level` directives, comma separated; a
/// bare word would otherwise be taken as a target and enable everything.
fn log_level(n: &Namer<'_>, v: Option<String>) -> Result<String, ConfigError> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let v = v.unwrap_or_else(|| defaults::LOG_LEVEL.to_owned());
    let mut parts = v.split(',');
    let first = parts.next().unwrap_or("").trim();
    if !LEVELS.contains(&first) {
        return Err(n.err(
            "log_level",
            format!("\"{first}\" is not one of {}", LEVELS.join(", ")),
        ));
    }
    for d in parts {
        let ok = match d.trim().split_once('=') {
            Some((target, level)) => !target.trim().is_empty() && LEVELS.contains(&level.trim()),
            None => false,
        };
        if !ok {
            return Err(n.err("log_level", format!("\"{}\" is not TARGET=LEVEL", d.trim())));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(&v)
        .map_err(|e| n.err("log_level", e.to_string()))?;
    Ok(v)
}

fn keyword<T: FromStr<Err = String>>(
    n: &Namer<'_>,
    key: &str,
    v: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => s.parse().map_err(|m: String| n.err(key, m)),
    }
}

fn channels(
    n: &Namer<'_>,
    raw: Option<Vec<RawChannel>>,
) -> Result<Vec<ChannelConfig>, ConfigError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Err(n.err("channels", "none configured: add a [[channels]] table"));
    }
    let mut ids: BTreeMap<u32, usize> = BTreeMap::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("channels[{i}].{k}");
        let id = c.id.ok_or_else(|| n.err(&key("id"), "missing"))?;
        if let Some(first) = ids.insert(id, i) {
            return Err(n.err(
                &key("id"),
                format!("{id} is already the id of channels[{first}]"),
            ));
        }
        let sections = c.sections.unwrap_or(defaults::SECTIONS);
        let sections = SectionCount::new(sections).map_err(|_| {
            n.err(
                &key("sections"),
                format!("{sections} is not a power of two from 1 to 64"),
            )
        })?;
        if let Some(name) = &c.name {
            if name.is_empty() {
                return Err(n.err(
                    &key("name"),
                    "empty: leave the key out for an unnamed channel",
                ));
            }
            if name.len() > CHANNEL_NAME_MAX || name.chars().any(char::is_control) {
                return Err(n.err(
                    &key("name"),
                    format!("\"{name}\" is not 1 to {CHANNEL_NAME_MAX} bytes of printable text"),
                ));
            }
            if let Some(first) = names.insert(name.clone(), i) {
                return Err(n.err(
                    &key("name"),
                    format!("\"{name}\" is already the name of channels[{first}]"),
                ));
            }
        }
        out.push(ChannelConfig {
            id,
            name: c.name,
            sections,
        });
    }
    Ok(out)
}

impl Raw {
    /// Every rule, in file order; the first broken one is reported.
    fn validate(self, flags: &BTreeMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        let n = Namer { flags };
        let role = keyword(&n, "role", self.role, Role::Auto)?;
        let node = node_name(&n, self.node)?;
        let units = units(&n, self.units, &node)?;
        let log_level = log_level(&n, self.log_level)?;
        let ack_path = keyword(&n, "ack_path", self.ack_path, AckPath::Both)?;
        let trailing = keyword(&n, "trailing", self.trailing, Trailing::Replay)?;
        let audit_period = in_range(
            &n,
            "audit_period",
            self.audit_period.unwrap_or(defaults::AUDIT_PERIOD),
            (0, AUDIT_PERIOD_MAX),
        )?;
        let t = self.tipc.unwrap_or_default();
        let service_type = t.service_type.unwrap_or(defaults::SERVICE_TYPE);
        if service_type < hasync_tipc::TIPC_RESERVED_TYPES {
            return Err(n.err(
                "tipc.service_type",
                format!(
                    "{service_type} is reserved by TIPC (use {} or above)",
                    hasync_tipc::TIPC_RESERVED_TYPES
                ),
            ));
        }
        // The deployment uses four types from it (see hasync_ctl::Services).
        if service_type > u32::MAX - 3 {
            return Err(n.err(
                "tipc.service_type",
                format!("{service_type} is above the maximum {}", u32::MAX - 3),
            ));
        }
        let tipc = Tipc {
            service_type,
            instance: t.instance.unwrap_or(defaults::INSTANCE),
        };
        let l = self.limits.unwrap_or_default();
        let in_flight = in_range(
            &n,
            "limits.in_flight",
            l.in_flight.unwrap_or(defaults::IN_FLIGHT),
            IN_FLIGHT,
        )?;
        let standby_max_pending = in_range(
            &n,
            "limits.standby_max_pending",
            l.standby_max_pending
                .unwrap_or(defaults::STANDBY_MAX_PENDING),
            (1, STANDBY_PENDING_MAX),
        )?;
        // A standby holds up to a full window before the ACKs come: any
        // less and a busy primary pushes it cold in normal operation.
        if standby_max_pending < in_flight {
            return Err(n.err(
                "limits.standby_max_pending",
                format!("{standby_max_pending} is below limits.in_flight ({in_flight})"),
            ));
        }
        let link_tolerance_ms = in_range(
            &n,
            "limits.link_tolerance_ms",
            l.link_tolerance_ms.unwrap_or(defaults::LINK_TOLERANCE_MS),
            LINK_TOLERANCE_MS,
        )?;
        let max_records = l
            .max_records
            .map(|v| in_range(&n, "limits.max_records", v, MAX_RECORDS))
            .transpose()?;
        let sync_window_kib = in_range(
            &n,
            "limits.sync_window_kib",
            l.sync_window_kib.unwrap_or(defaults::SYNC_WINDOW_KIB),
            SYNC_WINDOW_KIB,
        )?;
        let channels = channels(&n, self.channels)?;
        let upgrade = self.upgrade.unwrap_or_default();
        let mut check = LackingPolicy::default();
        for (item, how) in &upgrade {
            check
                .choose(item, how)
                .map_err(|e| n.err(&format!("upgrade.\"{item}\""), e))?;
        }
        let tcp = self.tcp.map(|t| t.validate(&n)).transpose()?;
        Ok(Config {
            role,
            node,
            units,
            log_level,
            ack_path,
            trailing,
            audit_period,
            tipc,
            limits: Limits {
                in_flight,
                standby_max_pending,
                link_tolerance_ms,
                max_records,
                sync_window_kib,
            },
            channels,
            upgrade,
            tcp,
        })
    }
}

/// Every key the file accepts, as dotted paths (for `--help` and tests).
pub fn known_keys() -> BTreeSet<String> {
    let upgrade = hasync_engine::release::choosable().map(|i| format!("upgrade.{i}"));
    [
        "role",
        "node",
        "units",
        "log_level",
        "ack_path",
        "trailing",
        "audit_period",
        "tipc.service_type",
        "tipc.instance",
        "limits.in_flight",
        "limits.standby_max_pending",
        "limits.link_tolerance_ms",
        "limits.max_records",
        "limits.sync_window_kib",
        "channels[].id",
        "channels[].name",
        "channels[].sections",
        "tcp.listen",
        "tcp.interface",
        "tcp.prefix",
        "tcp.secret",
        "tcp.allow",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(upgrade)
    .collect()
}

mod tcp;
pub use tcp::{Net4, TcpFace};

#[cfg(test)]
mod tests;
