//! Text or JSON output, as `-j` / `-p` ask.

use std::io::{self, Write};

use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ip-style text for people.
    Text,
    /// One JSON object per line, for scripts.
    Json,
    /// Indented JSON.
    Pretty,
}

impl Format {
    pub fn new(json: bool, pretty: bool) -> Self {
        match (json, pretty) {
            (_, true) => Format::Pretty,
            (true, false) => Format::Json,
            (false, false) => Format::Text,
        }
    }

    /// Writes `value` to `w`: as JSON, or through `text` for people.
    pub fn write<T: Serialize>(
        self,
        w: &mut dyn Write,
        value: &T,
        text: impl FnOnce(&mut dyn Write, &T) -> io::Result<()>,
    ) -> crate::Result {
        match self {
            Format::Text => text(w, value)?,
            Format::Json => {
                serde_json::to_writer(&mut *w, value)?;
                writeln!(w)?;
            }
            Format::Pretty => {
                serde_json::to_writer_pretty(&mut *w, value)?;
                writeln!(w)?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// [`Format::write`] to stdout.
    pub fn print<T: Serialize>(
        self,
        value: &T,
        text: impl FnOnce(&mut dyn Write, &T) -> io::Result<()>,
    ) -> crate::Result {
        self.write(&mut io::stdout().lock(), value, text)
    }
}

/// `hasync info | head -0` is not an error worth reporting.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let kind = match (
        e.downcast_ref::<io::Error>(),
        e.downcast_ref::<serde_json::Error>(),
    ) {
        (Some(io), _) => Some(io.kind()),
        (None, Some(json)) => json.io_error_kind(),
        (None, None) => None,
    };
    kind == Some(io::ErrorKind::BrokenPipe)
}
