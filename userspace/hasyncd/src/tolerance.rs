//! Keeps this node's TIPC bearers at `limits.link_tolerance_ms`, so that a
//! peer node whose link goes silent is declared lost (and its services
//! withdrawn) within that time rather than TIPC's default 1.5 s.
//!
//! Applied once at start, before anything is published or connected, then
//! re-checked every [`CHECK_PERIOD`]: one bearer dump, a set only for the
//! bearers that differ. Polling rather than reacting to topology events,
//! because the events do not cover what can change the tolerance: enabling
//! a bearer (or re-enabling it, which starts it at the media default) is
//! not a topology event at all, nor is someone running `tipc bearer set`;
//! a node-up event only comes once a link exists, already created with the
//! bearer's old value. A dump every few seconds is cheap and catches all
//! of these; links re-created on a bearer already set inherit its value
//! (see `hasync_tipc::link_tolerance`), so the window is only a bearer's
//! first seconds.
//!
//! Nothing here stops the daemon: without TIPC, without `CAP_NET_ADMIN` or
//! without bearers (a single node) it warns once, keeps checking, and says
//! when it managed after all.

use std::time::{Duration, Instant};

use hasync_tipc::{Applied, TipcConfig, ToleranceError};

/// How often the bearers are re-checked.
pub const CHECK_PERIOD: Duration = Duration::from_secs(2);

/// The keeper of the link tolerance.
pub struct LinkTolerance {
    want_ms: u32,
    nl: Option<TipcConfig>,
    /// What the last check found; `None` before the first.
    last: Option<State>,
    next_check: Instant,
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Every bearer has the tolerance.
    Applied,
    /// There are no bearers (yet).
    NoBearers,
    /// TIPC refused or is missing: the first error.
    Failed(String),
}

/// What to log when the state changes.
#[derive(Debug, PartialEq, Eq)]
enum Say {
    Recovered,
    NoBearers,
    Failed,
}

/// Each new state is said once; the first successful check is said bearer
/// by bearer instead.
fn announce(last: Option<&State>, now: &State) -> Option<Say> {
    if last == Some(now) {
        return None;
    }
    match now {
        State::Applied => last.is_some().then_some(Say::Recovered),
        State::NoBearers => Some(Say::NoBearers),
        State::Failed(_) => Some(Say::Failed),
    }
}

impl LinkTolerance {
    /// Applies `want_ms` to every bearer now, logging each one.
    pub fn start(want_ms: u32, now: Instant) -> Self {
        let mut t = LinkTolerance {
            want_ms,
            nl: None,
            last: None,
            next_check: now,
        };
        t.check(now);
        t
    }

    /// Re-applies the tolerance if [`CHECK_PERIOD`] has passed.
    pub fn poll(&mut self, now: Instant) {
        if now >= self.next_check {
            self.check(now);
        }
    }

    fn check(&mut self, now: Instant) {
        self.next_check = now + CHECK_PERIOD;
        let first = self.last.is_none();
        let state = match self.apply(first) {
            Ok(state) => state,
            Err(e) => {
                // Reopen next time: the socket may be what failed.
                self.nl = None;
                State::Failed(e.to_string())
            }
        };
        let want = self.want_ms;
        match (announce(self.last.as_ref(), &state), &state) {
            (Some(Say::Recovered), _) => tracing::info!(
                tolerance_ms = want,
                "TIPC link tolerance applied to every bearer"
            ),
            (Some(Say::NoBearers), _) => tracing::warn!(
                tolerance_ms = want,
                "no TIPC bearers yet; the link tolerance is applied to each one once it is enabled"
            ),
            (Some(Say::Failed), State::Failed(e)) => tracing::warn!(
                error = %e,
                tolerance_ms = want,
                "cannot apply the TIPC link tolerance: peer node loss is seen after the bearers' own \
                 tolerance; retrying every {} s",
                CHECK_PERIOD.as_secs()
            ),
            _ => {}
        }
        self.last = Some(state);
    }

    /// Sets every bearer that differs, logging each set (and, the first
    /// time, each bearer already right).
    fn apply(&mut self, first: bool) -> Result<State, ToleranceError> {
        let nl = match &mut self.nl {
            Some(nl) => nl,
            None => self.nl.insert(TipcConfig::open()?),
        };
        let want = self.want_ms;
        let bearers = nl.apply_tolerance(want)?;
        let mut state = if bearers.is_empty() {
            State::NoBearers
        } else {
            State::Applied
        };
        for (b, applied) in bearers {
            match applied {
                Applied::Set { was } => tracing::info!(
                    bearer = %b.name,
                    tolerance_ms = want,
                    was_ms = was,
                    "TIPC link tolerance set"
                ),
                Applied::Unchanged if first => tracing::info!(
                    bearer = %b.name,
                    tolerance_ms = want,
                    "TIPC link tolerance already set"
                ),
                Applied::Unchanged => {}
                // The first refusal stands for the others (EPERM on all).
                Applied::Failed(e) => {
                    tracing::debug!(error = %e, "TIPC link tolerance not set");
                    if !matches!(state, State::Failed(_)) {
                        state = State::Failed(e.to_string());
                    }
                }
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_is_said_once() {
        let failed = State::Failed("EPERM".into());
        // The first check: bearers are logged one by one, nothing more.
        assert_eq!(announce(None, &State::Applied), None);
        assert_eq!(announce(None, &State::NoBearers), Some(Say::NoBearers));
        assert_eq!(announce(None, &failed), Some(Say::Failed));
        // A lasting state is not repeated.
        assert_eq!(announce(Some(&State::Applied), &State::Applied), None);
        assert_eq!(announce(Some(&State::NoBearers), &State::NoBearers), None);
        assert_eq!(announce(Some(&failed), &failed), None);
        // A different error is.
        assert_eq!(
            announce(Some(&failed), &State::Failed("ENOENT".into())),
            Some(Say::Failed)
        );
        // The end of a problem is said.
        assert_eq!(
            announce(Some(&failed), &State::Applied),
            Some(Say::Recovered)
        );
        assert_eq!(
            announce(Some(&State::NoBearers), &State::Applied),
            Some(Say::Recovered)
        );
        assert_eq!(announce(Some(&State::Applied), &failed), Some(Say::Failed));
    }
}
