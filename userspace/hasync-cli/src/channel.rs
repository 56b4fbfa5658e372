//! `hasync channel`: list, create and delete channels.
//!
//! ```text
//! hasync channel show [id N] [brief]
//! hasync channel add id N [name NAME] [sections N]
//! hasync channel del id N
//! ```
//!
//! `brief` leaves out the per-section digests: one line per channel, and a
//! fraction of the bytes to read at thousands of channels.

use std::io::{self, Write};

use clap::Subcommand;
use hasync_nl::{Channel, Client, NewChannel};

use crate::output::Format;
use crate::words::{once, unknown, usage, Words};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show channels: registers, epochs, counts and section digests (the default).
    #[command(visible_alias = "list")]
    Show {
        /// [id N] [brief]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Create a channel: id N [name NAME] [sections N].
    Add {
        /// id N [name NAME] [sections N]
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
    /// Delete a channel and its records: id N.
    #[command(visible_alias = "delete")]
    Del {
        /// id N
        #[arg(value_name = "WORDS", allow_negative_numbers = true)]
        words: Vec<String>,
    },
}

/// Reads `[id N]`, and `[brief]` where `brief` is allowed; `required`
/// makes the id mandatory.
fn read_id(
    words: Vec<String>,
    required: bool,
    brief: Option<&mut bool>,
) -> crate::Result<Option<u32>> {
    let mut w = Words::new(words);
    let mut id = None;
    let mut brief = brief;
    while let Some(word) = w.next_word() {
        match (word.as_str(), brief.as_deref_mut()) {
            ("id", _) => once(&mut id, "id", w.number("id")?)?,
            ("brief", Some(b)) => *b = true,
            (other, _) => unknown::<()>(other)?,
        }
    }
    if required && id.is_none() {
        usage::<()>("missing \"id N\"")?;
    }
    Ok(id)
}

fn read_new(words: Vec<String>) -> crate::Result<NewChannel> {
    let mut w = Words::new(words);
    let (mut id, mut name, mut sections) = (None, None, None);
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "id" => once(&mut id, "id", w.number("id")?)?,
            "name" => once(&mut name, "name", w.text("name")?)?,
            "sections" => once(&mut sections, "sections", w.number("sections")?)?,
            other => unknown::<()>(other)?,
        }
    }
    match id {
        Some(id) => Ok(NewChannel { id, name, sections }),
        None => Ok(usage("missing \"id N\"")?),
    }
}

pub fn run(args: Args, out: Format) -> crate::Result {
    match args.command.unwrap_or(Command::Show { words: Vec::new() }) {
        Command::Show { words } => {
            let mut brief = false;
            let id = read_id(words, false, Some(&mut brief))?;
            let mut client = Client::connect()?;
            let channels = match (id, brief) {
                (Some(id), false) => vec![client.channel(id)?],
                (Some(id), true) => {
                    let mut c = client.channel(id)?;
                    c.section.clear();
                    vec![c]
                }
                (None, false) => client.channels()?,
                (None, true) => client.channels_brief()?,
            };
            out.print(&channels, |w, cs| cs.iter().try_for_each(|c| text(w, c)))
        }
        Command::Add { words } => {
            let req = read_new(words)?;
            Ok(Client::connect()?.channel_new(&req)?)
        }
        Command::Del { words } => {
            let id = read_id(words, true, None)?.unwrap_or_default();
            Ok(Client::connect()?.channel_del(id)?)
        }
    }
}

/// `channel 1 name links sections 64 register 10 epoch 2 entries 3 log-first 1`,
/// then one line per non-empty section.
fn text(w: &mut dyn Write, c: &Channel) -> io::Result<()> {
    write!(w, "channel {}", c.id)?;
    if let Some(name) = &c.name {
        write!(w, " name {name}")?;
    }
    write!(
        w,
        " sections {} register {} epoch {} entries {} log-first {}",
        c.sections, c.register, c.epoch, c.entries, c.log_first_opid
    )?;
    match c.register_epoch {
        Some(e) => writeln!(w, " register-epoch {e}")?,
        None => writeln!(w)?,
    }
    for s in c.section.iter().filter(|s| s.entries > 0 || s.digest != 0) {
        writeln!(
            w,
            "    section {} entries {} digest {:#018x}",
            s.index, s.entries, s.digest
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_nl::SectionInfo;

    fn sample() -> Channel {
        Channel {
            id: 1,
            name: Some("links".into()),
            sections: 2,
            register: 10,
            epoch: 2,
            register_epoch: Some(1),
            entries: 3,
            section: vec![
                SectionInfo {
                    index: 0,
                    entries: 0,
                    digest: 0,
                },
                SectionInfo {
                    index: 1,
                    entries: 3,
                    digest: 0xabc,
                },
            ],
            log_first_opid: 1,
        }
    }

    #[test]
    fn text_shows_nonempty_sections() {
        let mut buf = Vec::new();
        text(&mut buf, &sample()).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            "channel 1 name links sections 2 register 10 epoch 2 entries 3 log-first 1 register-epoch 1\n\
             \x20   section 1 entries 3 digest 0x0000000000000abc\n"
        );
    }

    #[test]
    fn grammar() {
        let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(read_id(w("id 3"), false, None).ok(), Some(Some(3)));
        assert_eq!(read_id(w(""), false, None).ok(), Some(None));
        assert!(read_id(w(""), true, None).is_err());
        assert!(read_id(w("id 3 bogus"), false, None).is_err());
        // brief where the command takes it, and only there.
        let mut brief = false;
        assert_eq!(
            read_id(w("brief id 3"), false, Some(&mut brief)).ok(),
            Some(Some(3))
        );
        assert!(brief);
        assert!(read_id(w("id 3 brief"), true, None).is_err());
        let req = read_new(w("id 7 name links sections 0x8")).expect("valid");
        assert_eq!(
            req,
            NewChannel {
                id: 7,
                name: Some("links".into()),
                sections: Some(8)
            }
        );
        // The kernel refuses bad section counts; the tool passes them on.
        assert_eq!(
            read_new(w("sections 3 id 1")).expect("valid").sections,
            Some(3)
        );
        let err = read_new(w("name x")).expect_err("no id");
        assert_eq!(err.to_string(), "missing \"id N\"");
    }
}
