//! The `KEYWORD VALUE` argument grammar of iproute2 (`id 3 name links`),
//! which clap does not express: the CLI's commands and record files take
//! their words as a list and read them here, with errors that name the bad
//! word.

use std::fmt;
use std::str::FromStr;

/// A mistake in the command line; `main` exits 2 for it, as for clap's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Shorthand for a [`Usage`] error.
pub fn usage<T>(msg: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(msg.into()))
}

/// A number, decimal or `0x` hexadecimal.
pub trait Number: Sized {
    /// Parses `s`.
    fn parse_number(s: &str) -> Option<Self>;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn parse_number(s: &str) -> Option<Self> {
                match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(hex) => <$t>::from_str_radix(hex, 16).ok(),
                    None => s.parse().ok(),
                }
            }
        }
    )*};
}
number!(u8, u16, u32, u64);

/// The words of one command, read front to back.
#[derive(Debug)]
pub struct Words {
    words: std::collections::VecDeque<String>,
}

impl Words {
    /// The words to read.
    pub fn new(words: impl IntoIterator<Item = String>) -> Self {
        Words {
            words: words.into_iter().collect(),
        }
    }

    /// The next word, if any.
    pub fn next_word(&mut self) -> Option<String> {
        self.words.pop_front()
    }

    /// The next word without taking it.
    pub fn peek(&self) -> Option<&str> {
        self.words.front().map(String::as_str)
    }

    /// Whether every word was read.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The value after keyword `key`, as text.
    pub fn text(&mut self, key: &str) -> Result<String, Usage> {
        match self.next_word() {
            Some(v) => Ok(v),
            None => usage(format!("missing value after \"{key}\"")),
        }
    }

    /// The value after keyword `key`, as a number.
    pub fn number<T: Number>(&mut self, key: &str) -> Result<T, Usage> {
        let v = self.text(key)?;
        T::parse_number(&v)
            .map_or_else(|| usage(format!("invalid value \"{v}\" for \"{key}\"")), Ok)
    }

    /// The value after keyword `key`, parsed by its `FromStr`.
    pub fn parsed<T: FromStr<Err = String>>(&mut self, key: &str) -> Result<T, Usage> {
        self.parsed_with(key, str::parse)
    }

    /// The value after keyword `key`, parsed by `parse`.
    pub fn parsed_with<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, Usage> {
        let v = self.text(key)?;
        parse(&v).map_err(|e| Usage(format!("invalid value for \"{key}\": {e}")))
    }
}

/// Sets a keyword's value, refusing a second one.
pub fn once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), Usage> {
    match slot {
        Some(_) => usage(format!("\"{key}\" given twice")),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// Refuses a word no keyword claimed.
pub fn unknown<T>(word: &str) -> Result<T, Usage> {
    usage(format!("unknown keyword \"{word}\""))
}

/// Splits a line into words like a shell would for simple cases: blanks
/// separate, double quotes group (with `\"` and `\\` inside), `#` at the
/// start of a word begins a comment.
pub fn split_line(line: &str) -> Result<Vec<String>, Usage> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(words),
            Some(_) => {}
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            if c != '"' {
                word.push(c);
                continue;
            }
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e @ ('"' | '\\')) => word.push(e),
                        Some(e) => {
                            word.push('\\');
                            word.push(e);
                        }
                        None => return usage(format!("unterminated quote in: {line}")),
                    },
                    Some(c) => word.push(c),
                    None => return usage(format!("unterminated quote in: {line}")),
                }
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Words {
        Words::new(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn numbers_and_errors() {
        let mut w = words("id 0x1f mask 0xffffffffffffffff n x");
        assert_eq!(w.next_word().as_deref(), Some("id"));
        assert_eq!(w.number::<u32>("id"), Ok(31));
        w.next_word();
        assert_eq!(w.number::<u64>("mask"), Ok(u64::MAX));
        w.next_word();
        assert_eq!(
            w.number::<u32>("n"),
            Err(Usage("invalid value \"x\" for \"n\"".into()))
        );
        assert_eq!(
            w.number::<u32>("n"),
            Err(Usage("missing value after \"n\"".into()))
        );
        assert!(words("300").number::<u8>("vlan").is_err());
        let mut slot = None;
        assert!(once(&mut slot, "id", 1).is_ok());
        assert_eq!(
            once(&mut slot, "id", 2),
            Err(Usage("\"id\" given twice".into()))
        );
    }

    #[test]
    fn line_splitting() {
        assert_eq!(
            split_line(r#"  dev eth0 desc "to \"core\" 1" mtu 9000 # comment"#),
            Ok(vec![
                "dev".into(),
                "eth0".into(),
                "desc".into(),
                "to \"core\" 1".into(),
                "mtu".into(),
                "9000".into()
            ])
        );
        assert_eq!(split_line("# only a comment"), Ok(vec![]));
        assert_eq!(split_line(""), Ok(vec![]));
        assert_eq!(split_line(r#"desc """#), Ok(vec!["desc".into(), "".into()]));
        assert!(split_line(r#"desc "open"#).is_err());
    }
}
