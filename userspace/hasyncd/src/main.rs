//! `hasyncd`: the hasync replication daemon.
//!
//! Reads and validates its configuration (`--check-config` prints the
//! effective one), sets up logging and runs the daemon loop until SIGTERM.
//! The work is in the library half (`hasyncd::daemon` and friends).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use hasyncd::cli::Cli;
use hasyncd::daemon::Daemon;
use hasyncd::fault::Faults;
use hasyncd::reload::{Reload, SetLogLevel};

/// Exit status of a refused configuration.
const EXIT_CONFIG: u8 = 1;
/// Exit status when the daemon cannot start or stops on an error.
const EXIT_RUNTIME: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(path) = &cli.check_config {
        return check_config(&cli, path);
    }
    let cfg = match cli.load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hasyncd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let set_log_level = match init_logging(&cfg.log_level) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("hasyncd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
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
    let reload = cli.config.clone().map(|path| Reload {
        load: Box::new(move || cli.load(Some(&path))),
        set_log_level,
    });
    let daemon = Daemon::new(cfg, node, faults).map(|d| match reload {
        Some(r) => d.with_reload(r),
        None => d,
    });
    match daemon.and_then(Daemon::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hasyncd stopped");
            eprintln!("hasyncd: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn check_config(cli: &Cli, path: &Path) -> ExitCode {
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

/// Structured logs on stderr, filtered by the configuration's `log_level`;
/// returns what replaces the filter on a reload.
fn init_logging(filter: &str) -> Result<SetLogLevel, String> {
    let parse = |f: &str| {
        tracing_subscriber::EnvFilter::builder()
            .parse(f)
            .map_err(|e| format!("config: log_level: {e}"))
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(parse(filter)?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .with_filter_reloading();
    let handle = builder.reload_handle();
    builder
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))?;
    Ok(Box::new(move |f| {
        handle.reload(parse(f)?).map_err(|e| e.to_string())
    }))
}
