//! `hasync info`: the kernel module's version, limits and counts.

use std::io::{self, Write};

use clap::Subcommand;
use hasync_nl::{Client, Info};

use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show version, limits and counts (the default).
    Show,
}

pub fn run(args: Args, out: Format) -> crate::Result {
    match args.command.unwrap_or(Command::Show) {
        Command::Show => {
            let info = Client::connect()?.info()?;
            out.print(&info, text)
        }
    }
}

fn text(w: &mut dyn Write, i: &Info) -> io::Result<()> {
    writeln!(w, "hasync {} proto {}", i.version, i.proto_version)?;
    writeln!(
        w,
        "    limits: channels {} entries {} sections {} cookie-log {}",
        i.max_channels, i.max_entries, i.max_sections, i.cookie_log_len
    )?;
    writeln!(
        w,
        "    state: channels {} entries {}",
        i.channels, i.entries
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Info {
        Info {
            version: "0.1.0".into(),
            proto_version: 1,
            max_channels: 64,
            max_entries: 65536,
            max_sections: 64,
            cookie_log_len: 256,
            channels: 0,
            entries: 0,
        }
    }

    fn render(f: Format) -> String {
        let mut buf = Vec::new();
        f.write(&mut buf, &sample(), text).expect("writes to a Vec");
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn text_is_ip_style() {
        assert_eq!(
            render(Format::Text),
            "hasync 0.1.0 proto 1\n\
             \x20   limits: channels 64 entries 65536 sections 64 cookie-log 256\n\
             \x20   state: channels 0 entries 0\n"
        );
    }

    #[test]
    fn json_is_one_line_with_info_fields() {
        assert_eq!(
            render(Format::Json),
            "{\"version\":\"0.1.0\",\"proto_version\":1,\"max_channels\":64,\
             \"max_entries\":65536,\"max_sections\":64,\"cookie_log_len\":256,\
             \"channels\":0,\"entries\":0}\n"
        );
    }

    #[test]
    fn pretty_is_indented_json() {
        let out = render(Format::Pretty);
        assert!(out.starts_with("{\n  \"version\": \"0.1.0\",\n"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(back["entries"], 0);
    }
}
