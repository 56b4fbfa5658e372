//! hasyncd's command line: the flags, each overriding the file's key of
//! the same name. The man page generator reads the grammar from here.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::config::{Config, ConfigError, Overrides};

/// hasync replication daemon: keeps a standby control plane hot and takes
/// over without relearning state.
#[derive(Debug, Parser)]
#[command(name = "hasyncd", version, disable_help_subcommand = true)]
pub struct Cli {
    /// Configuration file (TOML; see examples/hasyncd.toml).
    #[arg(short, long, value_name = "FILE", conflicts_with = "check_config")]
    pub config: Option<PathBuf>,
    /// Validate FILE with the flags applied, print the effective
    /// configuration and exit (0 valid, 1 refused).
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,
    /// With --check-config: print JSON instead of TOML.
    #[arg(short, long, requires = "check_config")]
    pub json: bool,
    /// Starting role: primary, standby or auto.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// This control unit's name.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Log filter: LEVEL[,TARGET=LEVEL…].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// ACK path to standbys: forward, direct or both.
    #[arg(long, value_name = "PATH")]
    pub ack_path: Option<String>,
    /// Trailing updates at takeover: replay, discard or "budget N".
    #[arg(long, value_name = "POLICY")]
    pub trailing: Option<String>,
    /// Seconds in which every channel is audited once (default 60), 0 = off.
    #[arg(long, value_name = "SECONDS")]
    pub audit_period: Option<u32>,
    /// TIPC service type (64 and up).
    #[arg(long, value_name = "TYPE")]
    pub service_type: Option<u32>,
    /// TIPC service instance.
    #[arg(long, value_name = "INSTANCE")]
    pub instance: Option<u32>,
    /// Most unacknowledged updates per channel on the primary.
    #[arg(long, value_name = "N")]
    pub in_flight: Option<u32>,
    /// Most updates a standby holds per channel.
    #[arg(long, value_name = "N")]
    pub standby_max_pending: Option<u32>,
    /// TIPC link tolerance in milliseconds (50 to 30000).
    #[arg(long, value_name = "MS")]
    pub link_tolerance_ms: Option<u32>,
    /// Most records per channel (default: the module's max_entries).
    #[arg(long, value_name = "N")]
    pub max_records: Option<u32>,
    /// Benchmark baseline: at takeover replay every section of every
    /// channel instead of only the out-of-sync ones.
    #[arg(long, hide = true)]
    pub full_replay: bool,
}

impl Cli {
    /// The flags that override the file's keys.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            role: self.role.clone(),
            node: self.node.clone(),
            log_level: self.log_level.clone(),
            ack_path: self.ack_path.clone(),
            trailing: self.trailing.clone(),
            audit_period: self.audit_period,
            service_type: self.service_type,
            instance: self.instance,
            in_flight: self.in_flight,
            standby_max_pending: self.standby_max_pending,
            link_tolerance_ms: self.link_tolerance_ms,
            max_records: self.max_records,
        }
    }

    /// The configuration from `path` (or from the flags alone), the flags
    /// applied.
    pub fn load(&self, path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Config::load(p, &self.overrides()),
            None => Config::from_overrides(&self.overrides()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "hasyncd",
            "--check-config",
            "x.toml",
            "-j",
            "--role",
            "standby",
            "--trailing",
            "budget 5",
            "--link-tolerance-ms",
            "80",
        ])
        .expect("parses");
        let o = cli.overrides();
        assert_eq!(o.role.as_deref(), Some("standby"));
        assert_eq!(o.trailing.as_deref(), Some("budget 5"));
        assert_eq!(o.link_tolerance_ms, Some(80));
        assert_eq!(o.node, None);
        assert!(cli.json);
    }

    #[test]
    fn json_needs_check_config_and_config_conflicts_with_it() {
        assert!(Cli::try_parse_from(["hasyncd", "-j"]).is_err());
        assert!(Cli::try_parse_from(["hasyncd", "--config", "a", "--check-config", "b"]).is_err());
    }
}
