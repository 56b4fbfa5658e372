//! One measurement per line, `key=value` pairs separated by spaces, so a
//! script can build a table (`bench=apply batch=16 … updates_per_s=…`).

use std::fmt::{self, Display, Write as _};
use std::time::Duration;

/// A line being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line(String);

impl Line {
    /// A line for benchmark `bench`.
    pub fn new(bench: &str) -> Self {
        Line(format!("bench={bench}"))
    }

    /// Appends `key=value`.
    pub fn kv(mut self, key: &str, value: impl Display) -> Self {
        let _ = write!(self.0, " {key}={value}");
        self
    }

    /// Appends the elapsed time and the rate of `count` things per second
    /// under `rate_key`.
    pub fn timed(self, elapsed: Duration, rate_key: &str, count: u64) -> Self {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { count as f64 / secs } else { 0.0 };
        self.kv("seconds", format_args!("{secs:.6}"))
            .kv(rate_key, format_args!("{rate:.0}"))
    }
}

impl Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format() {
        let l = Line::new("apply").kv("batch", 16).timed(
            Duration::from_millis(500),
            "updates_per_s",
            1000,
        );
        assert_eq!(
            l.to_string(),
            "bench=apply batch=16 seconds=0.500000 updates_per_s=2000"
        );
        let zero = Line::new("x").timed(Duration::ZERO, "r", 5);
        assert_eq!(zero.to_string(), "bench=x seconds=0.000000 r=0");
    }
}
