//! `SIGHUP` (`systemctl reload`): the configuration file read again.
//!
//! Only the log filter changes in a running daemon. Every other key shapes
//! state the unit shares with its peers (its name, the channels, the TIPC
//! service, limits the standbys were sized for), so a changed one is
//! refused, named, and nothing changes: the file takes effect at the next
//! start. All or nothing, like every other refusal.

use crate::config::{Config, ConfigError};

/// Replaces the log filter, or says why it cannot.
pub type SetLogLevel = Box<dyn Fn(&str) -> Result<(), String>>;

/// How the daemon reads its file again and applies a new log filter; the
/// binary gives both (it owns the path and the logger).
pub struct Reload {
    /// The configuration as a new start would read it (file and flags).
    pub load: Box<dyn Fn() -> Result<Config, ConfigError>>,
    /// Replaces the log filter.
    pub set_log_level: SetLogLevel,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file says what the daemon runs with.
    Unchanged,
    /// The log filter was replaced.
    Applied,
    /// Nothing changed, for this reason.
    Refused(String),
}

/// The keys of `new` that differ from `old` and take a restart.
pub fn fixed_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut differ = |key, same: bool| {
        if !same {
            keys.push(key);
        }
    };
    differ("role", old.role == new.role);
    differ("node", old.node == new.node);
    differ("units", old.units == new.units);
    differ("ack_path", old.ack_path == new.ack_path);
    differ("trailing", old.trailing == new.trailing);
    differ("audit_period", old.audit_period == new.audit_period);
    differ("tipc", old.tipc == new.tipc);
    differ("limits", old.limits == new.limits);
    differ("channels", old.channels == new.channels);
    differ("upgrade", old.upgrade == new.upgrade);
    differ("tcp", old.tcp == new.tcp);
    keys
}

/// Reads the file again and applies it to `running` if it can.
pub fn reload(r: &Reload, running: &mut Config) -> Verdict {
    let new = match (r.load)() {
        Ok(c) => c,
        Err(e) => return Verdict::Refused(format!("the file is refused: {e}")),
    };
    let fixed = fixed_changes(running, &new);
    if !fixed.is_empty() {
        return Verdict::Refused(format!(
            "{} changed, which takes a restart (only log_level changes live)",
            fixed.join(", ")
        ));
    }
    if new.log_level == running.log_level {
        return Verdict::Unchanged;
    }
    match (r.set_log_level)(&new.log_level) {
        Ok(()) => {
            running.log_level = new.log_level;
            Verdict::Applied
        }
        Err(e) => Verdict::Refused(format!("log_level: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use std::cell::RefCell;
    use std::path::Path;
    use std::rc::Rc;

    fn config(log: &str, node: &str) -> Config {
        let text = format!("node = \"{node}\"\nlog_level = \"{log}\"\n[[channels]]\nid = 1\n");
        Config::from_toml(&text, Path::new("t.toml"), &Overrides::default()).expect("valid")
    }

    fn reloader(next: Config, set: Rc<RefCell<Vec<String>>>) -> Reload {
        Reload {
            load: Box::new(move || Ok(next.clone())),
            set_log_level: Box::new(move |l| {
                set.borrow_mut().push(l.to_owned());
                Ok(())
            }),
        }
    }

    #[test]
    fn log_level_changes_live() {
        let set = Rc::new(RefCell::new(Vec::new()));
        let mut running = config("info", "cu-a");
        let r = reloader(config("debug", "cu-a"), set.clone());
        assert_eq!(reload(&r, &mut running), Verdict::Applied);
        assert_eq!(running.log_level, "debug");
        assert_eq!(*set.borrow(), ["debug"]);
        assert_eq!(reload(&r, &mut running), Verdict::Unchanged);
    }

    #[test]
    fn other_keys_are_refused_by_name_and_nothing_changes() {
        let set = Rc::new(RefCell::new(Vec::new()));
        let mut running = config("info", "cu-a");
        let before = running.clone();
        let r = reloader(config("debug", "cu-b"), set.clone());
        match reload(&r, &mut running) {
            Verdict::Refused(why) => assert!(why.starts_with("node changed"), "{why}"),
            v => panic!("{v:?}"),
        }
        assert_eq!(running, before);
        assert!(set.borrow().is_empty());
    }
}
