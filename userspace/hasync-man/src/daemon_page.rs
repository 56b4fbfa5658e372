//! hasyncd(8): clap's synopsis and options, then how the daemon runs.

use std::io;

use clap::CommandFactory;
use clap_mangen::roff::Roff;

use crate::roff_util::{command_head, para, section, see_also, tagged, verbatim};

const DESCRIPTION: &[&str] = &[
    "hasyncd keeps a standby control plane hot. The primary replicates every change to \
     the standbys over TIPC before it reaches the hasync.ko kernel module, and a change \
     is confirmed once the kernel acknowledged it. A standby applies an update only \
     after the kernel acknowledged it. When the primary dies, the standbys elect one of \
     them, which reads the kernel's per-channel acked-opid registers and replays only \
     what is out of sync.",
    "One daemon runs per control unit, each with its own configuration file \
     (hasyncd.toml(5)); every unit lists the same units and channels. With role auto \
     (the default) a unit becomes a standby if a primary already serves the cluster's \
     TIPC service, else the primary. Flags override the file's key of the same name.",
    "hasyncd logs to standard error, one structured line per event, filtered by \
     log_level. hasync status shows its role, peers and channels; hasync(8) drives it.",
];

const SIGNALS: &[(&str, &str)] = &[
    (
        "SIGTERM, SIGINT",
        "Stop: a primary stops serving first, so that a standby takes over; the TIPC \
         connections close and the kernel's state stays as it is.",
    ),
    (
        "SIGHUP",
        "Read the configuration file again (systemctl reload). log_level changes at \
         once; a change to any other key is refused, named in the log and the status \
         line, and nothing changes: it takes a restart. A file hasyncd refuses is \
         refused the same way.",
    ),
];

const SYSTEMD: &[&str] = &[
    "hasyncd@NAME.service runs hasyncd -c /etc/hasync/NAME.toml with Type=notify. \
     hasyncd reports READY=1 the first time the unit serves: as primary, or as a \
     standby hot on every channel, so a standby's bulk sync is part of its start. \
     Each change of phase (looking for a primary, bulk sync, hot, electing, taking \
     over, primary) is a STATUS= line with the epoch, shown by systemctl status. \
     With WatchdogSec= set, hasyncd pings the watchdog at half the period. A reload \
     is bracketed by RELOADING=1 and READY=1; a stop sends STOPPING=1.",
    "Without NOTIFY_SOCKET in its environment hasyncd tells nobody; nothing in \
     replication waits for the service manager.",
];

const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Stopped by a signal, or --check-config found the file valid.",
    ),
    (
        "1",
        "The configuration was refused; the message names the key, the line and the \
         column.",
    ),
    (
        "3",
        "The daemon could not start (no module, a module older than this daemon, no \
         TIPC) or stopped on an error, which it names.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "/etc/hasync/NAME.toml",
        "The configuration of hasyncd@NAME.service; an example with every key is \
         installed with the documentation (hasyncd.toml(5)).",
    ),
    (
        "/etc/hasync/control.key",
        "The cluster's secret for the control API's TCP face, readable by root only.",
    ),
];

const EXAMPLES: &str = "\
hasyncd --check-config /etc/hasync/cu-a.toml
hasyncd -c /etc/hasync/cu-a.toml --role standby
systemctl enable --now hasyncd@cu-a
systemctl reload hasyncd@cu-a";

/// The page, in roff.
pub fn render() -> io::Result<Vec<u8>> {
    let mut out = command_head(hasyncd::cli::Cli::command(), DESCRIPTION)?;
    let mut r = Roff::new();
    for (title, items) in [
        ("SIGNALS", SIGNALS),
        ("EXIT STATUS", EXIT_STATUS),
        ("FILES", FILES),
    ] {
        section(&mut r, title);
        for (tag, text) in items {
            tagged(&mut r, tag, text);
        }
    }
    section(&mut r, "SYSTEMD");
    for p in SYSTEMD {
        para(&mut r, p);
    }
    section(&mut r, "EXAMPLES");
    verbatim(&mut r, EXAMPLES);
    see_also(
        &mut r,
        &[
            ("hasync", "8"),
            ("hasyncd.toml", "5"),
            ("tipc", "8"),
            ("systemd.service", "5"),
        ],
    );
    r.to_writer(&mut out)?;
    Ok(out)
}
