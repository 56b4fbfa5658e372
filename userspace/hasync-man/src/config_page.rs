//! hasyncd.toml(5), written from the example configuration's own
//! comments: the file's opening comment is the description, each table a
//! subsection, each key a tagged paragraph with the comment above it, and
//! the whole file the example. The example is what `hasyncd
//! --check-config` is tested against, so the page describes a file that
//! loads.

use std::io;

use clap_mangen::roff::{bold, line_break, roman, Inline, Roff};

use crate::roff_util::{section, see_also, verbatim, MANUAL};

const EXAMPLE: &str = include_str!("../../hasyncd/examples/hasyncd.toml");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A run of comment lines, joined; blank comment lines split paragraphs,
/// and a choice in a list (`#   \"both\"  either`) starts a line of its own,
/// marked by a leading newline.
fn comment_text(lines: &[&str]) -> Vec<String> {
    let mut paras = vec![String::new()];
    for l in lines {
        let raw = l.trim_start_matches('#');
        let t = raw.trim();
        if t.is_empty() {
            paras.push(String::new());
            continue;
        }
        let p = paras.last_mut().expect("never empty");
        // "#   choice  text" starts a line; deeper lines continue it.
        if raw.len() - raw.trim_start().len() == 3 {
            p.push('\n');
        } else if !p.is_empty() {
            p.push(' ');
        }
        p.push_str(t);
    }
    paras.retain(|p| !p.is_empty());
    paras
}

/// A paragraph's inlines: its marked lines broken where they start.
fn inlines(p: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for (i, line) in p.split('\n').enumerate() {
        if i > 0 {
            out.push(line_break());
        }
        if !line.is_empty() {
            out.push(roman(line));
        }
    }
    out
}

/// The page, in roff.
pub fn render() -> io::Result<Vec<u8>> {
    let mut r = Roff::new();
    r.control(
        "TH",
        [
            "hasyncd.toml",
            "5",
            "",
            &format!("hasyncd.toml {VERSION}"),
            MANUAL,
        ],
    );
    section(&mut r, "NAME");
    r.text([roman(
        "hasyncd.toml - configuration of the hasync replication daemon",
    )]);

    let mut pending: Vec<&str> = Vec::new();
    let mut opened = false;
    let mut seen_tables = Vec::new();
    let mut repeated = false;
    for line in EXAMPLE.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            pending.push(t);
            continue;
        }
        if t.is_empty() {
            if !opened {
                // The file's opening comment: the description.
                section(&mut r, "DESCRIPTION");
                for p in comment_text(&pending) {
                    r.control("PP", []);
                    r.text(inlines(&p));
                }
                section(&mut r, "KEYS");
                opened = true;
                pending.clear();
            }
            continue;
        }
        if t.starts_with('[') {
            // A second [[channels]] is only in the example.
            repeated = seen_tables.contains(&t);
            if repeated {
                pending.clear();
                continue;
            }
            seen_tables.push(t);
            r.control("SS", [t]);
            for p in comment_text(&pending) {
                r.text(inlines(&p));
                r.control("PP", []);
            }
        } else if repeated {
        } else if let Some((key, value)) = t.split_once('=') {
            r.control("TP", []);
            r.text([bold(key.trim()), roman(format!(" = {}", value.trim()))]);
            let paras = comment_text(&pending);
            for (i, p) in paras.iter().enumerate() {
                if i > 0 {
                    r.control("IP", []);
                }
                r.text(inlines(p));
            }
        }
        pending.clear();
    }
    section(&mut r, "EXAMPLE");
    verbatim(&mut r, EXAMPLE.trim_end());
    see_also(&mut r, &[("hasyncd", "8"), ("hasync", "8")]);
    let mut out = Vec::new();
    r.to_writer(&mut out)?;
    Ok(out)
}
