//! `hasync`: command-line interface to the hasync kernel module and to
//! the `hasyncd` daemons. The binary (`src/main.rs`) calls [`main`]; the
//! man page generator reads the grammar through [`command`].
//!
//! The grammar follows iproute2: `hasync [OPTIONS] OBJECT [COMMAND] [WORDS]`,
//! with objects and commands abbreviable (`hasync i s`, `hasync ch sh`),
//! `help` at every level and `-j` / `-p` for JSON. Keyword arguments
//! (`id 3 name links`) are read by [`words`]. One module per object;
//! [`output`] renders results. `status`, `switchover`, `audit` and
//! `iface set|del` talk to the daemons through [`daemon`]; the other
//! objects talk to the kernel module.

mod audit;
mod change;
mod channel;
mod daemon;
mod iface;
mod info;
mod kernel;
mod monitor;
mod output;
mod record;
mod stats;
mod status;
mod switchover;
mod tcp;
use hasync_model::words;

use std::process::ExitCode;

use std::ffi::OsString;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

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

    #[command(flatten)]
    daemon: daemon::Opts,

    #[command(subcommand)]
    object: Object,
}

#[derive(Debug, Subcommand)]
enum Object {
    /// The kernel module's version, limits and counts.
    #[command(alias = "i")]
    Info(info::Args),
    /// Channels: show, add, del.
    #[command(alias = "c")]
    Channel(channel::Args),
    /// Interface records: show (kernel), set and del (through the primary).
    Iface(iface::Args),
    /// Follow kernel events or the daemon's, one line each.
    Monitor(monitor::Args),
    /// Counters on one screen: the module's, or the daemon's.
    #[command(alias = "st")]
    Stats(stats::Args),
    /// The daemon on this node: role, peers, channels, last takeover.
    #[command(alias = "s")]
    Status(status::Args),
    /// Hand the primary role to a hot standby.
    Switchover(switchover::Args),
    /// The control API's TCP face: listener, connections, refusals.
    Tcp(tcp::Args),
    /// Compare digests with the kernel and the standbys; repair what differs.
    Audit(audit::Args),
    /// Drive the module directly: update, claim, cookies, replay.
    Kernel(kernel::Args),
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
        Object::Channel(args) => channel::run(args, out),
        Object::Iface(args) => iface::run(args, out, &cli.daemon),
        Object::Monitor(args) => monitor::run(args, out, &cli.daemon),
        Object::Stats(args) => stats::run(args, out, &cli.daemon),
        Object::Status(args) => status::run(args, out, &cli.daemon),
        Object::Switchover(args) => switchover::run(args, out, &cli.daemon),
        Object::Tcp(args) => tcp::run(args, out, &cli.daemon),
        Object::Audit(args) => audit::run(args, out, &cli.daemon),
        Object::Kernel(args) => kernel::run(args, out),
        Object::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "hasync", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// The keyword words of the innermost command (none if it takes none).
fn leaf_words(m: &ArgMatches) -> Vec<&str> {
    let mut m = m;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m.try_get_many::<String>("words")
        .ok()
        .flatten()
        .map(|w| w.map(String::as_str).collect())
        .unwrap_or_default()
}

/// Parse the command line. `help` as the last word asks for the help of
/// the command before it, at any level, as in ip(8): `hasync channel add
/// help`, `hasync monitor help`. It is taken as data only where it is an
/// argument's value (`iface set dev help`): a word list of just `help` is
/// not valid input to any command.
fn parse_from(argv: Vec<OsString>) -> std::result::Result<Cli, clap::Error> {
    let parsed = Cli::command().try_get_matches_from(&argv);
    let help_asked = argv.last().is_some_and(|a| a == "help")
        && match &parsed {
            Ok(m) => leaf_words(m) == ["help"],
            Err(e) => e.kind() != clap::error::ErrorKind::DisplayHelp,
        };
    if help_asked {
        let mut with_help = argv.clone();
        with_help.pop();
        with_help.push("--help".into());
        if let Err(e) = Cli::command().try_get_matches_from(with_help) {
            if e.kind() == clap::error::ErrorKind::DisplayHelp {
                return Err(e);
            }
        }
    }
    Cli::from_arg_matches(&parsed?)
}

/// The whole grammar, for generated documents (man page, completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs `hasync` on this process's arguments.
pub fn main() -> ExitCode {
    // Usage errors exit 2, from inside parse() for clap's and here for
    // the keyword grammar's, as they would from clap.
    let cli = parse_from(std::env::args_os().collect()).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hasync: {e}");
            if e.is::<words::Usage>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
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

    fn parse(argv: &[&str]) -> Cli {
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
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
            assert!(matches!(parse(argv).object, Object::Info(_)), "{argv:?}");
        }
        for argv in [
            &["hasync", "channel"][..],
            &["hasync", "c", "sh", "id", "3"],
            &["hasync", "ch", "add", "id", "1", "name", "x"],
            &["hasync", "-j", "channel", "del", "id", "1"],
        ] {
            assert!(matches!(parse(argv).object, Object::Channel(_)), "{argv:?}");
        }
        for argv in [
            &["hasync", "if"][..],
            &["hasync", "iface", "show", "dev", "eth0", "channel", "1"],
        ] {
            assert!(matches!(parse(argv).object, Object::Iface(_)), "{argv:?}");
        }
        assert!(matches!(parse(&["hasync", "m"]).object, Object::Monitor(_)));
        assert!(matches!(
            parse(&["hasync", "mon", "acks"]).object,
            Object::Monitor(_)
        ));
        assert!(matches!(
            parse(&["hasync", "-j", "st"]).object,
            Object::Stats(_)
        ));
        for argv in [
            &[
                "hasync", "kernel", "update", "channel", "1", "epoch", "1", "opid", "1", "set",
                "dev", "a",
            ][..],
            &["hasync", "k", "claim", "epoch", "2", "all"],
            &["hasync", "k", "co", "channel", "1", "after", "0"],
            &[
                "hasync", "k", "r", "channel", "1", "epoch", "1", "opid", "1", "sections", "1",
            ],
        ] {
            assert!(matches!(parse(argv).object, Object::Kernel(_)), "{argv:?}");
        }
    }

    #[test]
    fn daemon_commands() {
        for argv in [
            &["hasync", "status"][..],
            &["hasync", "s"],
            &["hasync", "statu", "show"],
            &["hasync", "-j", "status", "sh"],
        ] {
            assert!(matches!(parse(argv).object, Object::Status(_)), "{argv:?}");
        }
        assert!(matches!(
            parse(&["hasync", "sw"]).object,
            Object::Switchover(_)
        ));
        for argv in [&["hasync", "audit"][..], &["hasync", "a", "channel", "1"]] {
            assert!(matches!(parse(argv).object, Object::Audit(_)), "{argv:?}");
        }
        for argv in [
            &["hasync", "iface", "set", "dev", "eth0", "mtu", "9000"][..],
            &["hasync", "if", "se", "dev", "eth0", "up", "channel", "2"],
            &["hasync", "iface", "del", "dev", "eth0"],
            &["hasync", "if", "d", "dev", "eth0", "channel", "1"],
            &["hasync", "if", "delete", "dev", "eth0"],
            // "s" is show, never set.
            &["hasync", "if", "s", "dev", "eth0"],
        ] {
            assert!(matches!(parse(argv).object, Object::Iface(_)), "{argv:?}");
        }
    }

    #[test]
    fn daemon_options() {
        let cli = parse(&["hasync", "status"]);
        assert_eq!(cli.daemon.services(), hasync_ctl::Services::default());
        assert_eq!(cli.daemon.timeout, 2000);
        let cli = parse(&[
            "hasync",
            "--service-type",
            "4242",
            "iface",
            "set",
            "dev",
            "a",
            "--instance",
            "7",
            "--timeout",
            "500",
        ]);
        assert_eq!(
            cli.daemon.services(),
            hasync_ctl::Services {
                service_type: 4242,
                instance: 7
            }
        );
        assert_eq!(cli.daemon.timeout, 500);
        for argv in [
            &["hasync", "--service-type", "63", "status"][..],
            &["hasync", "--service-type", "4294967294", "status"],
            &["hasync", "--timeout", "0", "status"],
            &["hasync", "--instance", "-1", "status"],
        ] {
            let err = Cli::try_parse_from(argv).expect_err("invalid");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn options_may_follow_the_words() {
        let cli = parse(&["hasync", "channel", "show", "id", "3", "-j"]);
        assert_eq!(Format::new(cli.json, cli.pretty), Format::Json);
        let cli = parse(&[
            "hasync", "kernel", "cookies", "channel", "1", "-p", "after", "0",
        ]);
        assert!(cli.pretty);
    }

    #[test]
    fn negative_numbers_reach_the_keyword_grammar() {
        // `id -1` is a bad id for the grammar to name, not an unknown
        // option with clap's hint to write `-- -1`.
        let Object::Channel(c) = parse(&["hasync", "channel", "add", "id", "-1"]).object else {
            panic!("a channel command")
        };
        let e = channel::run(c, Format::Text).expect_err("refused");
        assert!(e.is::<words::Usage>(), "{e}");
        assert_eq!(e.to_string(), "invalid value \"-1\" for \"id\"");
        let cli = parse(&["hasync", "iface", "set", "dev", "x", "mtu", "-5", "-j"]);
        assert!(cli.json, "options still follow the words");
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        for argv in [
            &["hasync"][..],
            &["hasync", "bogus"],
            &["hasync", "info", "bogus"],
            &["hasync", "monitor", "bogus"],
            &["hasync", "kernel"],
            &["hasync", "kernel", "frob"],
            &["hasync", "stat"],
            &["hasync", "status", "bogus"],
            &["hasync", "switchover", "now"],
        ] {
            let err = Cli::try_parse_from(argv).expect_err("invalid");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
        let help = Cli::try_parse_from(["hasync", "info", "help"]).expect_err("help");
        assert_eq!(help.exit_code(), 0);
    }

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn help_as_the_last_word_is_help_at_every_level() {
        for words in [
            &["hasync", "channel", "add", "help"][..],
            &["hasync", "channel", "show", "help"],
            &["hasync", "channel", "del", "help"],
            &["hasync", "iface", "show", "help"],
            &["hasync", "iface", "set", "help"],
            &["hasync", "iface", "del", "help"],
            &["hasync", "kernel", "update", "help"],
            &["hasync", "kernel", "claim", "help"],
            &["hasync", "kernel", "cookies", "help"],
            &["hasync", "kernel", "replay", "help"],
            &["hasync", "audit", "help"],
            &["hasync", "monitor", "help"],
            &["hasync", "stats", "help"],
            &["hasync", "status", "help"],
            &["hasync", "ch", "a", "help"],
        ] {
            let e = parse_from(argv(words))
                .err()
                .unwrap_or_else(|| panic!("{words:?}: parsed"));
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{words:?}");
            assert_eq!(e.exit_code(), 0, "{words:?}");
            let text = e.render().to_string();
            assert!(text.contains("Usage: hasync"), "{words:?}: {text}");
        }
    }

    #[test]
    fn help_as_a_value_is_data() {
        let cli = parse_from(argv(&[
            "hasync", "iface", "set", "dev", "help", "mtu", "1500",
        ]))
        .expect("a device named help");
        assert!(matches!(cli.object, Object::Iface(_)));
        let cli = parse_from(argv(&["hasync", "iface", "del", "dev", "help"])).expect("parses");
        assert!(matches!(cli.object, Object::Iface(_)));
        // Still a usage error when the command is wrong.
        let e = parse_from(argv(&["hasync", "bogus", "help"])).expect_err("bogus");
        assert_eq!(e.exit_code(), 2);
    }
}
