//! The command line of `hasync-load`, checked into a [`Config`] before
//! anything is sent: a bad flag exits 2 with a message naming it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use hasync_ctl::service::{DEFAULT_INSTANCE, DEFAULT_SERVICE_TYPE};
use hasync_ctl::Services;

use crate::plan::Plan;

#[derive(Debug, Parser)]
#[command(
    name = "hasync-load",
    version,
    about = "Stream `iface set` requests to the hasync primary, following it across failovers",
    long_about = None
)]
pub struct Flags {
    /// TIPC service type of the deployment (hasyncd's [tipc] service_type).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_SERVICE_TYPE,
        value_parser = clap::value_parser!(u32).range(64..=i64::from(u32::MAX - 2))
    )]
    service_type: u32,

    /// TIPC instance of the deployment.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_INSTANCE)]
    instance: u32,

    /// Channel ids, comma-separated; --skew favours the first.
    #[arg(long, value_name = "LIST", required = true, value_delimiter = ',')]
    channels: Vec<u32>,

    /// Requests to send in total (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,

    /// Stop sending after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    duration: Option<u64>,

    /// Requests outstanding on the connection.
    #[arg(
        long,
        value_name = "W",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    window: u32,

    /// Requests per message (a JSON array; the daemon answers in arrays
    /// too). 1 sends each request alone, as every release understands.
    #[arg(
        long,
        value_name = "B",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=64)
    )]
    batch: u32,

    /// Distinct interface names per channel.
    #[arg(long, value_name = "K", default_value_t = 64)]
    keys: u64,

    /// Addresses each record carries (dense records for bulk sync tests).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=16)
    )]
    addrs: u8,

    /// Fill in order instead of drawing channels: each channel of the list
    /// in turn gets K consecutive requests, one per name, so channels x K
    /// requests set every name of every channel once (and requests for one
    /// channel arrive together, to share updates). --skew and --seed are
    /// then unused.
    #[arg(long)]
    sweep: bool,

    /// Share of requests for the first channel, in permille (0: uniform).
    #[arg(
        long,
        value_name = "PERMILLE",
        default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=1000)
    )]
    skew: u32,

    /// Interface name prefix: names are PREFIX{channel}_{k % keys}.
    #[arg(long, value_name = "P", default_value = "l")]
    prefix: String,

    /// Seed of the channel choice.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,

    /// Sequence number of the first request. Successive runs over the same
    /// names give each a higher start, so that a record left by an earlier
    /// run can never pass for a change confirmed in this one (a checker
    /// compares the `s{seq}` the kernel holds with the confirmed seq).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..=1 << 52)
    )]
    first_seq: u64,

    /// Write events here, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,

    /// How long to keep trying to reach a primary, at the start and after
    /// the connection is lost, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 20_000)]
    reconnect_ms: u64,

    /// Stop cleanly when this file exists.
    #[arg(long, value_name = "PATH")]
    stop_file: Option<PathBuf>,

    /// No progress on stderr.
    #[arg(long)]
    quiet: bool,
}

/// A checked command line.
#[derive(Debug)]
pub struct Config {
    pub services: Services,
    pub plan: Plan,
    /// 0: no limit.
    pub count: u64,
    pub first_seq: u64,
    pub duration: Option<Duration>,
    pub window: usize,
    pub batch: usize,
    pub log: Option<PathBuf>,
    pub reconnect: Duration,
    pub stop_file: Option<PathBuf>,
    pub quiet: bool,
}

impl Flags {
    /// What clap cannot check: the names, and that something ends the run.
    pub fn check(self) -> Result<Config, String> {
        if self.count == 0 && self.duration.is_none() && self.stop_file.is_none() {
            return Err("nothing ends the run: give --count, --duration or --stop-file".into());
        }
        let plan = Plan::new(self.channels, self.keys, self.skew, self.prefix, self.seed)?
            .with_addrs(self.addrs)
            .with_sweep(self.sweep);
        Ok(Config {
            services: Services {
                service_type: self.service_type,
                instance: self.instance,
            },
            plan,
            count: self.count,
            first_seq: self.first_seq,
            duration: self.duration.map(Duration::from_secs),
            // At most 4096.
            window: self.window as usize,
            // At most 64.
            batch: self.batch as usize,
            log: self.log,
            reconnect: Duration::from_millis(self.reconnect_ms),
            stop_file: self.stop_file,
            quiet: self.quiet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn flags(argv: &str) -> Result<Flags, clap::Error> {
        Flags::try_parse_from(std::iter::once("hasync-load").chain(argv.split_whitespace()))
    }

    #[test]
    fn grammar_is_consistent() {
        Flags::command().debug_assert();
    }

    #[test]
    fn defaults_and_full_form() {
        let c = flags("--channels 1,2,3 --count 100")
            .expect("parses")
            .check()
            .expect("valid");
        assert_eq!(c.services, Services::default());
        assert_eq!((c.count, c.window, c.duration), (100, 8, None));
        assert_eq!(c.reconnect, Duration::from_millis(20_000));
        assert_eq!(
            c.plan,
            Plan::new(vec![1, 2, 3], 64, 0, "l".into(), 1).expect("valid")
        );
        let c = flags(
            "--service-type 5000 --instance 2 --channels 4 --duration 30 --window 32 --keys 10 \
             --skew 900 --prefix ab --seed 7 --log /tmp/x.jsonl --reconnect-ms 5000 \
             --stop-file /tmp/stop --quiet",
        )
        .expect("parses")
        .check()
        .expect("valid");
        assert_eq!(
            c.services,
            Services {
                service_type: 5000,
                instance: 2
            }
        );
        assert_eq!(c.duration, Some(Duration::from_secs(30)));
        assert_eq!(c.window, 32);
        assert!(c.quiet && c.log.is_some() && c.stop_file.is_some());
    }

    #[test]
    fn bad_flags_are_refused() {
        for argv in [
            "--count 10",
            "--channels x --count 10",
            "--channels 1 --count 10 --window 0",
            "--channels 1 --count 10 --skew 1001",
            "--channels 1 --duration 0",
            "--channels 1 --count 10 --service-type 10",
        ] {
            let e = flags(argv).expect_err(argv);
            assert_eq!(e.exit_code(), 2, "{argv}");
        }
        for (argv, msg) in [
            (
                "--channels 1",
                "nothing ends the run: give --count, --duration or --stop-file",
            ),
            (
                "--channels 1,1 --count 1",
                "--channels lists channel 1 twice",
            ),
            (
                "--channels 1 --count 1 --keys 0",
                "--keys must be at least 1",
            ),
            (
                "--channels 100000 --count 1 --prefix load --keys 100000",
                "interface names such as \"load100000_99999\" exceed 15 bytes: \
                 shorten --prefix or lower --keys",
            ),
        ] {
            let e = flags(argv).expect("parses").check().expect_err(argv);
            assert_eq!(e, msg, "{argv}");
        }
    }
}
