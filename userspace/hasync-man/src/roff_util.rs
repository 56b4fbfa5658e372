//! Small roff pieces the three pages share.

use std::io;

use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

/// The manual every page belongs to (the centre of its header).
pub const MANUAL: &str = "hasync";

/// `.SH TITLE`.
pub fn section(r: &mut Roff, title: &str) {
    r.control("SH", [title]);
}

/// One paragraph of plain text.
pub fn para(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.text([roman(text)]);
}

/// A tagged paragraph: `tag` in bold, `text` indented under it.
pub fn tagged(r: &mut Roff, tag: &str, text: &str) {
    r.control("TP", []);
    r.text([bold(tag)]);
    r.text([roman(text)]);
}

/// Lines kept as they are (a file, a session).
pub fn verbatim(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.control("nf", []);
    r.control("RS", ["4"]);
    for line in text.lines() {
        r.text([roman(line)]);
    }
    r.control("RE", []);
    r.control("fi", []);
}

/// The SEE ALSO section: `name(section)` pairs.
pub fn see_also(r: &mut Roff, pages: &[(&str, &str)]) {
    section(r, "SEE ALSO");
    let last = pages.len().saturating_sub(1);
    let mut inlines = Vec::new();
    for (i, (name, sec)) in pages.iter().enumerate() {
        inlines.push(bold(*name));
        let sep = if i == last { "" } else { ", " };
        inlines.push(roman(format!("({sec}){sep}")));
    }
    r.text(inlines);
}

/// A command's page up to its options: clap's title, name and synopsis,
/// the hand-written description, clap's options.
pub fn command_head(cmd: clap::Command, description: &[&str]) -> io::Result<Vec<u8>> {
    let man = Man::new(cmd).section("8").manual(MANUAL);
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    let mut r = Roff::new();
    section(&mut r, "DESCRIPTION");
    for p in description {
        para(&mut r, p);
    }
    r.to_writer(&mut out)?;
    man.render_options_section(&mut out)?;
    Ok(out)
}
