//! hasync(8): clap's synopsis and options, then every object and command
//! with its words, walked from the same grammar the command parses with.

use std::io;

use clap::Command;
use clap_mangen::roff::{bold, roman, Roff};

use crate::roff_util::{command_head, section, see_also, tagged, verbatim};

const DESCRIPTION: &[&str] = &[
    "hasync inspects and drives hasync state replication. Its grammar follows ip(8): \
     an object, a command, then keyword words (id 3 name links). Objects and commands \
     may be abbreviated (hasync ch sh), and help as the last word prints the help of \
     the command before it, at any level (hasync channel add help).",
    "info, channel, iface show, monitor, stats and kernel talk to the hasync.ko kernel \
     module over generic netlink and need it loaded; changing commands need \
     CAP_NET_ADMIN. status, switchover, audit, tcp, monitor daemon, stats daemon and \
     iface set|del|rename talk to the hasyncd daemons over TIPC (or, with --connect, to \
     the primary's TCP face), which replicate every change before it reaches the \
     kernel.",
    "-j prints JSON, one object per line; -p indents it. Without them the output is \
     ip-style text.",
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "The command failed: the kernel or the daemon refused it, or what it names \
         does not exist. The message says which word or attribute was wrong.",
    ),
    (
        "2",
        "Usage error: an unknown word, a missing or malformed value.",
    ),
];

const EXAMPLES: &str = "\
hasync channel add id 1 name uplinks sections 16
hasync iface set dev wan0 up mtu 9000 addr 192.0.2.1/24
hasync iface show channel 1
hasync -j status
hasync switchover
hasync monitor entries";

/// The page, in roff.
pub fn render() -> io::Result<Vec<u8>> {
    let cmd = hasync_cli::command();
    let mut out = command_head(cmd.clone(), DESCRIPTION)?;
    let mut r = Roff::new();
    section(&mut r, "COMMANDS");
    for object in visible(&cmd) {
        commands(&mut r, object);
    }
    section(&mut r, "EXIT STATUS");
    for (code, text) in EXIT_STATUS {
        tagged(&mut r, code, text);
    }
    section(&mut r, "EXAMPLES");
    verbatim(&mut r, EXAMPLES);
    see_also(
        &mut r,
        &[("hasyncd", "8"), ("hasyncd.toml", "5"), ("ip", "8")],
    );
    r.to_writer(&mut out)?;
    Ok(out)
}

/// Subcommands a user may type (not `help`, not hidden ones).
fn visible(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|c| c.get_name() != "help" && !c.is_hide_set())
}

/// One object: a subsection with its commands, or a single entry.
fn commands(r: &mut Roff, object: &Command) {
    let name = format!("hasync {}", object.get_name());
    let subs: Vec<&Command> = visible(object).collect();
    if subs.is_empty() {
        entry(r, &name, object);
        return;
    }
    r.control("SS", [name.as_str()]);
    r.text([roman(about(object))]);
    for sub in subs {
        entry(r, &format!("{name} {}", sub.get_name()), sub);
    }
}

/// A command's line: its name, its positional arguments, what it does.
fn entry(r: &mut Roff, name: &str, cmd: &Command) {
    let mut tag = vec![bold(name)];
    for arg in cmd.get_positionals() {
        let words = match arg.get_help() {
            Some(h) if arg.get_id() == "words" => h.to_string(),
            _ => {
                let values: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_owned())
                    .collect();
                if values.is_empty() {
                    arg.get_id().as_str().to_uppercase()
                } else {
                    format!("[{}]", values.join("|"))
                }
            }
        };
        tag.push(roman(" "));
        tag.push(roman(words));
    }
    r.control("TP", []);
    r.text(tag);
    let aliases: Vec<&str> = cmd.get_visible_aliases().collect();
    let mut text = about(cmd);
    if !aliases.is_empty() {
        text.push_str(&format!(" (also: {})", aliases.join(", ")));
    }
    r.text([roman(text)]);
}

fn about(cmd: &Command) -> String {
    cmd.get_about().map(|a| a.to_string()).unwrap_or_default()
}
