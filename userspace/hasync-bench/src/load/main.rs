//! `hasync-load`: a steady stream of `iface set` requests to the hasync
//! primary over its control API, for the end-to-end failover tests and
//! benchmarks. It follows the primary across failovers and logs the fate
//! of every request, so a checker can compare the log with the kernel's
//! records (each record's description names its request: `s{seq}`).
//!
//! ```text
//! hasync-load --channels 1,2,3 (--count N | --duration SECS | --stop-file PATH)
//!             [--window 8] [--keys 64] [--skew PERMILLE] [--prefix l] [--seed 1]
//!             [--first-seq 1] [--log FILE] [--reconnect-ms 20000] [--service-type N] [--instance N] [--quiet]
//! ```
//!
//! Exit status: 0 when the run ended as asked (lost requests included), 1
//! when no primary was reachable within `--reconnect-ms`, 2 for bad flags.
//! The summary is printed on stdout as one JSON line in every case but 2.
//!
//! One job per file: [`flags`] (the command line), [`plan`] (what request
//! `k` is), [`conn`] (reaching the primary, `poll`), [`run`] (the loop),
//! [`log`] (the JSON lines).

mod conn;
mod flags;
mod log;
mod plan;
mod run;

use std::process::ExitCode;

use clap::Parser;

use crate::log::{Event, Log};

fn main() -> ExitCode {
    let cfg = match flags::Flags::parse().check() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("hasync-load: {e}");
            return ExitCode::from(2);
        }
    };
    let mut log = match Log::create(cfg.log.as_deref()) {
        Ok(log) => log,
        Err(e) => {
            let path = cfg.log.as_deref().unwrap_or(std::path::Path::new(""));
            eprintln!("hasync-load: --log {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let (summary, result) = run::run(&cfg, &mut log);
    let summary = Event::Summary(summary);
    let logged = log.write(&summary);
    print!("{}", log::line(&summary));
    let result = result.and(logged.map_err(run::Error::Log));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hasync-load: {e}");
            ExitCode::FAILURE
        }
    }
}
