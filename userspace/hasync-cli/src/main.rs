//! `hasync`: command-line interface to the hasync kernel module.
//!
//! The grammar follows iproute2: `hasync [OPTIONS] OBJECT [COMMAND]`, with
//! objects and commands abbreviable (`hasync i s`), `help` at every level and
//! `-j` / `-p` for JSON. One module per object; [`output`] renders results.

mod info;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use output::Format;

/// Failures reach `main` as text for the user; the types carry no policy.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Parser)]
#[command(
    name = "hasync",
    version,
    about = "Inspect and control hasync state replication",
    infer_subcommands = true,
    propagate_version = true,
    subcommand_value_name = "OBJECT",
    subcommand_help_heading = "Objects"
)]
struct Cli {
    /// Print JSON, one object per line.
    #[arg(short, long, global = true)]
    json: bool,

    /// Print indented JSON (implies --json).
    #[arg(short, long, global = true)]
    pretty: bool,

    #[command(subcommand)]
    object: Object,
}

#[derive(Debug, Subcommand)]
enum Object {
    /// The kernel module's version, limits and counts.
    Info(info::Args),
    /// Print a shell completion script.
    Completion {
        /// Shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn run(cli: Cli) -> Result {
    let out = Format::new(cli.json, cli.pretty);
    match cli.object {
        Object::Info(args) => info::run(args, out),
        Object::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "hasync", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    // Usage errors exit 2 from inside parse(), as clap does.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hasync: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn abbreviations_and_defaults() {
        for argv in [
            &["hasync", "info"][..],
            &["hasync", "info", "show"],
            &["hasync", "i", "s"],
            &["hasync", "-j", "in"],
            &["hasync", "info", "sh", "-p"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert!(matches!(cli.object, Object::Info(_)), "{argv:?}");
        }
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        for argv in [
            &["hasync"][..],
            &["hasync", "bogus"],
            &["hasync", "info", "bogus"],
        ] {
            let err = Cli::try_parse_from(argv).expect_err("invalid");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
        let help = Cli::try_parse_from(["hasync", "info", "help"]).expect_err("help");
        assert_eq!(help.exit_code(), 0);
    }
}
