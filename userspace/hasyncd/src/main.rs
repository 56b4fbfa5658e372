//! `hasyncd`: the hasync replication daemon.
//!
//! Reads and validates its configuration (`--check-config` prints the
//! effective one), sets up logging and runs the daemon loop until SIGTERM.
//! The work is in the library half (`hasyncd::daemon` and friends).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use hasyncd::config::{Config, ConfigError, Overrides};
use hasyncd::daemon::Daemon;
use hasyncd::fault::Faults;

/// Exit status of a refused configuration.
const EXIT_CONFIG: u8 = 1;
/// Exit status when the daemon cannot start or stops on an error.
const EXIT_RUNTIME: u8 = 3;

/// hasync replication daemon: keeps a standby control plane hot and takes
/// over without relearning state.
#[derive(Debug, Parser)]
#[command(name = "hasyncd", version, disable_help_subcommand = true)]
struct Cli {
    /// Configuration file (TOML; see examples/hasyncd.toml).
    #[arg(short, long, value_name = "FILE", conflicts_with = "check_config")]
    config: Option<PathBuf>,
    /// Validate FILE with the flags applied, print the effective
    /// configuration and exit (0 valid, 1 refused).
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
    /// With --check-config: print JSON instead of TOML.
    #[arg(short, long, requires = "check_config")]
    json: bool,
    /// Starting role: primary, standby or auto.
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// This control unit's name.
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Log filter: LEVEL[,TARGET=LEVEL…].
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// ACK path to standbys: forward, direct or both.
    #[arg(long, value_name = "PATH")]
    ack_path: Option<String>,
    /// Trailing updates at takeover: replay, discard or "budget N".
    #[arg(long, value_name = "POLICY")]
    trailing: Option<String>,
    /// Seconds in which every channel is audited once (default 60), 0 = off.
    #[arg(long, value_name = "SECONDS")]
    audit_period: Option<u32>,
    /// TIPC service type (64 and up).
    #[arg(long, value_name = "TYPE")]
    service_type: Option<u32>,
    /// TIPC service instance.
    #[arg(long, value_name = "INSTANCE")]
    instance: Option<u32>,
    /// Most unacknowledged updates per channel on the primary.
    #[arg(long, value_name = "N")]
    in_flight: Option<u32>,
    /// Most updates a standby holds per channel.
    #[arg(long, value_name = "N")]
    standby_max_pending: Option<u32>,
    /// TIPC link tolerance in milliseconds (50 to 30000).
    #[arg(long, value_name = "MS")]
    link_tolerance_ms: Option<u32>,
    /// Most records per channel (default: the module's max_entries).
    #[arg(long, value_name = "N")]
    max_records: Option<u32>,
    /// Benchmark baseline: at takeover replay every section of every
    /// channel instead of only the out-of-sync ones.
    #[arg(long, hide = true)]
    full_replay: bool,
}

impl Cli {
    fn overrides(&self) -> Overrides {
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

    fn load(&self, path: Option<&PathBuf>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Config::load(p, &self.overrides()),
            None => Config::from_overrides(&self.overrides()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(path) = &cli.check_config {
        return check_config(&cli, path);
    }
    let cfg = match cli.load(cli.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hasyncd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = init_logging(&cfg.log_level) {
        eprintln!("hasyncd: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    tracing::info!(
        node = %cfg.node,
        role = %cfg.role,
        channels = cfg.channels.len(),
        service_type = cfg.tipc.service_type,
        instance = cfg.tipc.instance,
        ack_path = %cfg.ack_path,
        trailing = %cfg.trailing,
        "configuration accepted"
    );
    let faults = match Faults::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hasyncd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let node = cfg.node_config(cli.full_replay);
    match Daemon::new(cfg, node, faults).and_then(Daemon::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hasyncd stopped");
            eprintln!("hasyncd: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn check_config(cli: &Cli, path: &PathBuf) -> ExitCode {
    match cli.load(Some(path)) {
        Ok(cfg) if cli.json => match serde_json::to_string(&cfg) {
            Ok(j) => {
                println!("{j}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hasyncd: cannot print the configuration: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Ok(cfg) => {
            print!("{}", cfg.to_toml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hasyncd: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Structured logs on stderr, filtered by the configuration's `log_level`.
fn init_logging(filter: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("config: log_level: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
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
