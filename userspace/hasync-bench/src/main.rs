//! `hasync-bench`: rates of hasync.ko measured from userspace, printed as
//! one `key=value` line per measurement.
//!
//! ```text
//! hasync-bench apply --batch B --senders S --updates N
//! hasync-bench baseline --batch B --requests N
//! hasync-bench dump --records N [--fill replay|updates]
//! ```

mod apply;
mod baseline;
mod dump;
mod report;
mod setup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hasync-bench",
    version,
    about = "Benchmark hasync.ko over generic netlink"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Pipelined updates: one channel and socket per sender.
    Apply(apply::Args),
    /// nlctrl GETFAMILY at the same batch size (the reference rate).
    Baseline(baseline::Args),
    /// Fill a channel, then time full entry dumps.
    Dump(dump::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().bench {
        Bench::Apply(a) => apply::run(a),
        Bench::Baseline(a) => baseline::run(a),
        Bench::Dump(a) => dump::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hasync-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_forms() {
        for argv in [
            &[
                "hasync-bench",
                "apply",
                "--batch",
                "16",
                "--senders",
                "2",
                "--updates",
                "1000",
            ][..],
            &[
                "hasync-bench",
                "baseline",
                "--batch",
                "256",
                "--requests",
                "10000",
            ],
            &[
                "hasync-bench",
                "dump",
                "--records",
                "1000",
                "--fill",
                "updates",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["hasync-bench", "dump", "--fill", "x"]).is_err());
    }
}
