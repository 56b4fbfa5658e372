//! `hasync-man DIR` writes hasync(8), hasyncd(8) and hasyncd.toml(5) into
//! DIR; `hasync-man --check DIR` says which of them differ from what it
//! would write (exit 1), so `make check` proves the committed pages
//! current, like the generated netlink files.
//!
//! The pages are built from what they describe: the two commands' clap
//! grammars and the example configuration's comments. Nothing in them
//! depends on the date or the machine, so a run is byte for byte the same.

mod cli_page;
mod config_page;
mod daemon_page;
mod roff_util;

use std::path::Path;
use std::process::ExitCode;

fn pages() -> std::io::Result<Vec<(&'static str, Vec<u8>)>> {
    Ok(vec![
        ("hasync.8", cli_page::render()?),
        ("hasyncd.8", daemon_page::render()?),
        ("hasyncd.toml.5", config_page::render()?),
    ])
}

fn run(check: bool, dir: &Path) -> std::io::Result<bool> {
    let mut current = true;
    for (name, text) in pages()? {
        let path = dir.join(name);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(&text[..]) {
                eprintln!(
                    "hasync-man: {} is not current (run `make man`)",
                    path.display()
                );
                current = false;
            }
        } else {
            std::fs::create_dir_all(dir)?;
            std::fs::write(&path, text)?;
        }
    }
    Ok(current)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (check, dir) = match args.as_slice() {
        [dir] if dir != "--check" => (false, dir),
        [flag, dir] if flag == "--check" => (true, dir),
        _ => {
            eprintln!("usage: hasync-man [--check] DIR");
            return ExitCode::from(2);
        }
    };
    match run(check, Path::new(dir)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hasync-man: {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}
