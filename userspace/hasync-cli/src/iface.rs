//! `hasync iface`: the interface records the kernel holds, in `ip link`
//! style; `set` and `del` are change requests to the primary daemon
//! ([`crate::change`]).
//!
//! ```text
//! hasync iface show [dev NAME] [channel N] [section N]
//! hasync iface set dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [speed MBPS] [channel N]
//! hasync iface del dev NAME [channel N]
//! hasync iface rename dev NAME to NEWNAME [channel N]
//! ```

use std::io::{self, Write};

use clap::Subcommand;
use hasync_model::text::{mac_to_string, read_name};
use hasync_model::{IfName, Prefix};
use hasync_nl::{Client, Entry, EntryFilter};

use crate::output::Format;
use crate::words::{once, unknown, Words};
use crate::{change, daemon};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show records (the default): [dev NAME] [channel N] [section N].
    // "s" is show, not set: a mistyped show must not change anything.
    #[command(visible_alias = "list", alias = "s")]
    Show {
        /// [dev NAME] [channel N] [section N]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Create or change a record through the primary daemon: dev NAME [FIELD VALUE]...
    Set {
        /// dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [speed MBPS] [channel N]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Delete a record through the primary daemon: dev NAME [channel N].
    #[command(visible_alias = "delete")]
    Del {
        /// dev NAME [channel N]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Give a record a new name through the primary daemon, its fields
    /// kept: dev NAME to NEWNAME [channel N].
    Rename {
        /// dev NAME to NEWNAME [channel N]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    dev: Option<IfName>,
    filter: EntryFilter,
}

fn read_query(words: Vec<String>) -> crate::Result<Query> {
    let mut w = Words::new(words);
    let mut q = Query::default();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "dev" | "name" => once(&mut q.dev, "dev", read_name(&mut w)?)?,
            "channel" => once(&mut q.filter.channel, "channel", w.number("channel")?)?,
            "section" => once(&mut q.filter.section, "section", w.number("section")?)?,
            other => unknown::<()>(other)?,
        }
    }
    Ok(q)
}

pub fn run(args: Args, out: Format, daemon: &daemon::Opts) -> crate::Result {
    match args.command.unwrap_or(Command::Show { words: Vec::new() }) {
        Command::Show { words } => show(words, out),
        Command::Set { words } => change::set(words, out, daemon),
        Command::Del { words } => change::del(words, out, daemon),
        Command::Rename { words } => change::rename(words, out, daemon),
    }
}

fn show(words: Vec<String>, out: Format) -> crate::Result {
    let q = read_query(words)?;
    let mut client = Client::connect()?;
    // As `ip link show dev X`: an absent device, or a channel that does not
    // exist, is an error, not an empty listing.
    if let Some(channel) = q.filter.channel {
        if let Err(e) = client.channel(channel) {
            return Err(if e.is_not_found() {
                format!("no channel {channel}").into()
            } else {
                e.into()
            });
        }
    }
    let entries = match (&q.dev, q.filter.channel) {
        // One record of one channel: a `do`.
        (Some(dev), Some(channel)) => match client.entry(channel, dev) {
            Ok(e) => vec![e],
            Err(e) if e.is_not_found() => vec![],
            Err(e) => return Err(e.into()),
        },
        _ => {
            let mut all = client.entries(&q.filter)?;
            if let Some(dev) = &q.dev {
                all.retain(|e| &e.record.name == dev);
            }
            all
        }
    };
    if let Some(dev) = &q.dev {
        if entries.is_empty() {
            let where_ = q.filter.channel.map(|c| format!(" in channel {c}"));
            return Err(format!(
                "device \"{dev}\" does not exist{}",
                where_.unwrap_or_default()
            )
            .into());
        }
    }
    let entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| q.filter.section.map_or(true, |s| e.section == Some(s)))
        .collect();
    out.print(&entries, |w, es| es.iter().try_for_each(|e| text(w, e)))
}

/// `ip link` style: a line per record, then its details indented.
fn text(w: &mut dyn Write, e: &Entry) -> io::Result<()> {
    let i = &e.record;
    let state = if i.admin_up { "UP" } else { "DOWN" };
    write!(w, "{}: <{state}> mtu {}", i.name, i.mtu)?;
    if i.vlan != 0 {
        write!(w, " vlan {}", i.vlan)?;
    }
    if i.speed != 0 {
        write!(w, " speed {}", i.speed)?;
    }
    write!(w, " channel {}", e.channel)?;
    if let Some(s) = e.section {
        write!(w, " section {s}")?;
    }
    writeln!(w)?;
    writeln!(w, "    link/ether {}", mac_to_string(&i.mac))?;
    for a in &i.addrs {
        let family = match a {
            Prefix::V4(..) => "inet",
            Prefix::V6(..) => "inet6",
        };
        writeln!(w, "    {family} {a}")?;
    }
    if !i.description.is_empty() {
        writeln!(w, "    alias {:?}", String::from_utf8_lossy(&i.description))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_model::IfRecord;

    fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid")
    }

    #[test]
    fn text_is_ip_link_style() {
        let e = Entry {
            channel: 1,
            record: IfRecord {
                admin_up: true,
                vlan: 10,
                mac: [2, 0, 0, 0, 0, 1],
                addrs: vec![
                    "10.0.0.1/24".parse().expect("valid"),
                    "fe80::1/64".parse().expect("valid"),
                ],
                description: b"to \"core\"".to_vec(),
                ..IfRecord::new(name("eth0"))
            },
            section: Some(4),
        };
        let mut buf = Vec::new();
        text(&mut buf, &e).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            "eth0: <UP> mtu 1500 vlan 10 channel 1 section 4\n\
             \x20   link/ether 02:00:00:00:00:01\n\
             \x20   inet 10.0.0.1/24\n\
             \x20   inet6 fe80::1/64\n\
             \x20   alias \"to \\\"core\\\"\"\n"
        );
        let bare = Entry {
            channel: 2,
            record: IfRecord::new(name("lo")),
            section: None,
        };
        let mut buf = Vec::new();
        text(&mut buf, &bare).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            "lo: <DOWN> mtu 1500 channel 2\n    link/ether 00:00:00:00:00:00\n"
        );
    }

    #[test]
    fn s_is_show_not_set() {
        #[derive(Debug, clap::Parser)]
        #[command(infer_subcommands = true)]
        struct T {
            #[command(flatten)]
            args: Args,
        }
        let parse = |argv: &[&str]| {
            clap::Parser::try_parse_from(argv)
                .map(|t: T| t.args.command)
                .expect("parses")
        };
        assert!(matches!(
            parse(&["t", "s", "dev", "a"]),
            Some(Command::Show { .. })
        ));
        assert!(matches!(
            parse(&["t", "se", "dev", "a"]),
            Some(Command::Set { .. })
        ));
        assert!(matches!(
            parse(&["t", "d", "dev", "a"]),
            Some(Command::Del { .. })
        ));
    }

    #[test]
    fn grammar() {
        let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let q = read_query(w("dev eth0 channel 1 section 4")).expect("valid");
        assert_eq!(q.dev, Some(name("eth0")));
        assert_eq!(
            q.filter,
            EntryFilter {
                channel: Some(1),
                section: Some(4)
            }
        );
        assert_eq!(read_query(w("")).expect("valid"), Query::default());
        assert!(read_query(w("channel")).is_err());
        assert!(read_query(w("port 1")).is_err());
    }
}
