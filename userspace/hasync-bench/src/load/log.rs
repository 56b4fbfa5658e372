//! The event log: one JSON object per line, written whole as it happens
//! (one `write` per line), so a checker can read it even after a crash.
//!
//! ```text
//! {"ev":"confirmed","seq":1,"channel":1,"name":"l1_1","opid":41}
//! {"ev":"refused","seq":2,"channel":2,"kind":"busy","message":"..."}
//! {"ev":"lost","seq":3,"channel":1}
//! {"ev":"reconnected","after_ms":1450}
//! {"ev":"summary","submitted":3,"confirmed":1,"refused":1,"busy":1,"lost":1,"reconnects":1,"elapsed_ms":2000,"confirmed_per_s":0.5}
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use hasync_ctl::ErrorKind;
use serde::Serialize;

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event<'a> {
    /// The primary confirmed request `seq` as `opid`.
    Confirmed {
        seq: u64,
        channel: u32,
        name: &'a str,
        opid: u64,
    },
    /// The primary refused request `seq`: it changed nothing.
    Refused {
        seq: u64,
        channel: u32,
        kind: ErrorKind,
        message: &'a str,
    },
    /// The connection broke with request `seq` unanswered: it may or may
    /// not have been applied, and is not sent again.
    Lost { seq: u64, channel: u32 },
    /// A primary was reached again `after_ms` after the loss.
    Reconnected { after_ms: u64 },
    /// The totals, last.
    Summary(Summary),
}

/// The run's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Requests sent (or attempted: a failed send counts as lost).
    pub submitted: u64,
    /// Confirmed by a primary.
    pub confirmed: u64,
    /// Refused, any kind.
    pub refused: u64,
    /// Of those, refused as `busy`.
    pub busy: u64,
    /// Unanswered when a connection broke.
    pub lost: u64,
    /// Connections re-established after a loss.
    pub reconnects: u64,
    /// Run time.
    pub elapsed_ms: u64,
    /// `confirmed` over the run time, to 0.1.
    pub confirmed_per_s: f64,
}

/// Where events go: a file, or nowhere without `--log`.
#[derive(Debug)]
pub struct Log {
    file: Option<File>,
}

impl Log {
    /// Creates (truncates) `path`; `None` logs nothing.
    pub fn create(path: Option<&Path>) -> io::Result<Log> {
        let file = path.map(File::create).transpose()?;
        Ok(Log { file })
    }

    /// Appends one event.
    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(line(ev).as_bytes()),
            None => Ok(()),
        }
    }
}

/// `ev` as one JSON line, newline included.
pub fn line(ev: &Event) -> String {
    let mut s = serde_json::to_string(ev).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            line(&Event::Confirmed {
                seq: 5,
                channel: 2,
                name: "l2_5",
                opid: 41
            }),
            "{\"ev\":\"confirmed\",\"seq\":5,\"channel\":2,\"name\":\"l2_5\",\"opid\":41}\n"
        );
        assert_eq!(
            line(&Event::Refused {
                seq: 6,
                channel: 1,
                kind: ErrorKind::NotPrimary,
                message: "standby \"b\""
            }),
            "{\"ev\":\"refused\",\"seq\":6,\"channel\":1,\"kind\":\"not-primary\",\
             \"message\":\"standby \\\"b\\\"\"}\n"
        );
        assert_eq!(
            line(&Event::Lost { seq: 7, channel: 1 }),
            "{\"ev\":\"lost\",\"seq\":7,\"channel\":1}\n"
        );
        assert_eq!(
            line(&Event::Reconnected { after_ms: 1450 }),
            "{\"ev\":\"reconnected\",\"after_ms\":1450}\n"
        );
        let s = Summary {
            submitted: 3,
            confirmed: 1,
            refused: 1,
            busy: 1,
            lost: 1,
            reconnects: 1,
            elapsed_ms: 2000,
            confirmed_per_s: 0.5,
        };
        assert_eq!(
            line(&Event::Summary(s)),
            "{\"ev\":\"summary\",\"submitted\":3,\"confirmed\":1,\"refused\":1,\"busy\":1,\
             \"lost\":1,\"reconnects\":1,\"elapsed_ms\":2000,\"confirmed_per_s\":0.5}\n"
        );
    }

    #[test]
    fn file_gets_whole_lines() {
        let path = std::env::temp_dir().join(format!("hasync-load-log-{}", std::process::id()));
        let mut log = Log::create(Some(&path)).expect("creates");
        log.write(&Event::Lost { seq: 1, channel: 1 })
            .expect("writes");
        log.write(&Event::Reconnected { after_ms: 3 })
            .expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            text,
            "{\"ev\":\"lost\",\"seq\":1,\"channel\":1}\n{\"ev\":\"reconnected\",\"after_ms\":3}\n"
        );
        Log::create(None)
            .expect("nothing to open")
            .write(&Event::Lost { seq: 1, channel: 1 })
            .expect("goes nowhere");
    }
}
